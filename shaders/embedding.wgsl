// embedding: y[n, d] = table[ids[n], d] · scale + PE[pos_offset + n % T, d], ids [..., T] flattened to n_tokens.
// PE is the sinusoid of Vaswani et al. with interleaved columns: PE[p, 2i] = sin(p·f_i), PE[p, 2i+1] = cos(p·f_i),
// f_i = 10000^(-2i/D). An id >= V reads nothing and writes a zero row (no position either).
//
// Precision of the positions: f_i comes from a small table (`freqs`, computed in f64 by the wrapper) split as
// hi + lo, where hi has 12 significant bits, so p·hi is exact in f32 for p < 4096. The angle is reduced modulo 2π
// (Cody-Waite, three exact-ish parts) before sin/cos, which WGSL only specifies on [-π, π]; the result matches the
// f64 sinusoid to ~1e-6 for p < 4096 instead of the ~1e-4 that f32(p·f) gives at p ~ 1000.
// One output element per invocation; the grid may be 2D.

// Prepended by the TS wrapper (src/kernels/embedding.ts): `struct Params` and the FLAG_* constants
// generated from its params schema and flag table.

override WG: u32 = 256u;

// 2π = C1 + C2 + C3; C1 and C2 have few significant bits so k·C1 and k·C2 are exact for the k that occur.
const C1: f32 = 6.28125;
const C2: f32 = 0.00193548202514648438;
const C3: f32 = -1.7484555314695172e-7;
const INV_TWO_PI: f32 = 0.15915494309189535;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;          // [n_tokens]
@group(0) @binding(2) var<storage, read> table: array<table_t>;    // [V, D]
@group(0) @binding(3) var<storage, read> freqs: array<f32>;        // [ceil(D / 2), 2]: (hi, lo) of f_i
@group(0) @binding(4) var<storage, read_write> y: array<f32>;      // [n_tokens, D]

fn position_encoding(pos: u32, d: u32) -> f32 {
  let p = f32(pos);
  let pair = d >> 1u;
  let a_hi = p * freqs[2u * pair];
  let k = round(a_hi * INV_TWO_PI);
  let r = ((a_hi - k * C1) - k * C2) - k * C3 + p * freqs[2u * pair + 1u];
  if ((d & 1u) == 0u) {
    return sin(r);
  }
  return cos(r);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let e = (wid.y * nwg.x + wid.x) * WG + li;
  let D = params.D;
  if (e >= params.n_tokens * D) {
    return;
  }
  let tok = e / D;
  let d = e - tok * D;
  let id = ids[tok];
  var v = 0.0;
  if (id < params.V) {
    v = load_table(id * D + d) * params.scale;
    if ((params.flags & FLAG_POSITIONS) != 0u) {
      v += position_encoding(params.pos_offset + tok % params.T, d);
    }
  }
  y[e] = v;
}
