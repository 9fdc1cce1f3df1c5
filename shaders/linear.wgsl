// linear: y[M, N] = act(x[M, K] · W[N, K]ᵀ + b[N]) · s[N]   (PyTorch's nn.Linear layout: W is [out, in])
//
// The optional column scale s serves extracted task sub-networks: the two experts' gate weights applied after the
// ReLU, so the experts' f16 weights are shipped unchanged (exact folding, see src/runtime/extract.ts).
//
// The weight accessors `load_w` / `load_b` and the element types `w_t` / `b_t` come from a short prelude that the
// TS wrapper prepends (src/kernels/weights.ts): f32, f16 packed two per u32 (no shader-f16 needed), or native f16.
// Two entry points: `main` is a 64x64 register-tiled GEMM for many rows; `main_rows` serves up to 8 rows
// (decoding), splitting K across 8 lanes per output column.

struct Params {
  M: u32,          // rows of x and y
  N: u32,          // output features
  K: u32,          // input features
  flags: u32,      // bit 0: bias present, bit 1: ReLU, bit 2: column scale present
  w_offset: u32,   // element offset of W inside its buffer (an expert of a packed stack)
  b_offset: u32,   // element offset of b inside its buffer
  s_offset: u32,   // element offset of s inside its buffer
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // [M, K]
@group(0) @binding(2) var<storage, read> w: array<w_t>;        // [N, K] at w_offset
@group(0) @binding(3) var<storage, read> b: array<b_t>;        // [N] at b_offset (unread when bit 0 of flags is 0)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // [M, N]
@group(0) @binding(5) var<storage, read> s: array<f32>;        // [N] (unread when bit 2 of flags is 0)

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> xs: array<f32, 1024>;   // [BM, BK]
var<workgroup> ws: array<f32, 1024>;   // [BN, BK]

fn epilogue(v: f32, col: u32) -> f32 {
  var r = v;
  if ((params.flags & 1u) != 0u) {
    r = r + load_b(params.b_offset + col);
  }
  if ((params.flags & 2u) != 0u) {
    r = max(r, 0.0);
  }
  if ((params.flags & 4u) != 0u) {
    r = r * s[params.s_offset + col];
  }
  return r;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  var acc: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      acc[i][j] = 0.0;
    }
  }
  for (var k0 = 0u; k0 < K; k0 += BK) {
    for (var t = 0u; t < 4u; t++) {
      let e = li + t * 256u;
      let r = e / BK;
      let c = e % BK;
      let gk = k0 + c;
      var xv = 0.0;
      if (row0 + r < M && gk < K) {
        xv = x[(row0 + r) * K + gk];
      }
      xs[e] = xv;
      var wv = 0.0;
      if (col0 + r < N && gk < K) {
        wv = load_w(params.w_offset + (col0 + r) * K + gk);
      }
      ws[e] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var xa: array<f32, 4>;
      var wb: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        xa[i] = xs[(lid.y + 16u * i) * BK + kk];
        wb[i] = ws[(lid.x + 16u * i) * BK + kk];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i][j] = fma(xa[i], wb[j], acc[i][j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x + 16u * j;
      if (row < M && col < N) {
        y[row * N + col] = epilogue(acc[i][j], col);
      }
    }
  }
}

// Up to 8 rows: 32 output columns per workgroup, 8 lanes per column striding over K, then a lane reduction.
const ROWS: u32 = 8u;
const LANES: u32 = 8u;
var<workgroup> partial: array<f32, 2048>;   // [256 threads, ROWS]

@compute @workgroup_size(256)
fn main_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = wid.y * ROWS;
  let rows = min(ROWS, M - row0);
  let col = wid.x * 32u + li / LANES;
  let lane = li % LANES;
  var acc: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) {
    acc[r] = 0.0;
  }
  if (col < N) {
    let wbase = params.w_offset + col * K;
    for (var k = lane; k < K; k += LANES) {
      let wv = load_w(wbase + k);
      for (var r = 0u; r < rows; r++) {
        acc[r] = fma(x[(row0 + r) * K + k], wv, acc[r]);
      }
    }
  }
  for (var r = 0u; r < ROWS; r++) {
    partial[li * ROWS + r] = acc[r];
  }
  workgroupBarrier();
  if (lane == 0u && col < N) {
    for (var r = 0u; r < rows; r++) {
      var s = 0.0;
      for (var l = 0u; l < LANES; l++) {
        s += partial[(li + l) * ROWS + r];
      }
      y[(row0 + r) * N + col] = epilogue(s, col);
    }
  }
}
