// linear: y[M, N] = act(x[M, K] · W[N, K]ᵀ + b[N]) · s[N]   (PyTorch's nn.Linear layout: W is [out, in])
//
// The optional column scale s serves extracted task sub-networks: the two experts' gate weights applied after the
// ReLU, so the experts' f16 weights are shipped unchanged (exact folding, see src/runtime/extract.ts).
//
// Prepended by the TS wrapper (src/kernels/linear.ts): the weight prelude (`load_w`, `load_b`, `load_g`, `load_gb`
// and the element types `w_t`, ..., src/kernels/weights.ts: f32, f16 packed two per u32, or native f16), `struct
// Params` and the FLAG_* constants generated from the wrapper's params schema and flag table, the GEMM core
// (shaders/include/gemm.wgsl) and the layer-norm statistics (shaders/include/layer_norm_stats.wgsl).
// Three entry points: `main` is the core's register-tiled GEMM for many rows; `main_rows` serves up to 8 rows
// (decoding), splitting K across 8 lanes per output column; `main_cols` serves up to 8 rows with a thread per output
// column and no barriers (CPU emulations of a GPU).
//
// Fusions that save decode-step dispatches (each is one flag; all default off):
//  - FLAG_ACCUMULATE: y += result instead of y = result, so a residual connection needs no separate `add`;
//  - output layout: y element (row, col) lives at y_offset + row·y_stride + col, so the k/v projections of a decode
//    step write straight into their KV-cache slot (y_stride = Tmax·D, y_offset = t·D);
//  - FLAG_NORM (`main_rows` and `main_cols`): x rows are normalised first, (x - mean)/sqrt(var + eps)·g + gb, with the
//    shared shifted two-pass statistics; `main_rows` stages them in workgroup memory K-chunk by K-chunk.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // [M, K]
@group(0) @binding(2) var<storage, read> w: array<w_t>;        // [N, K]
@group(0) @binding(3) var<storage, read> b: array<b_t>;        // [N] (unread without FLAG_BIAS)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // [M, N] placed by y_offset, y_stride
@group(0) @binding(5) var<storage, read> s: array<f32>;        // [N] (unread without FLAG_SCALE)
// Layer-norm gain and bias [K] (FLAG_NORM): bound by `main_rows` and `main_cols` only (`main` never normalises).
@group(0) @binding(6) var<storage, read> g: array<g_t>;
@group(0) @binding(7) var<storage, read> gb: array<gb_t>;

override COLS_WG: u32 = 64u;   // threads (output columns) per workgroup of `main_cols`

var<private> tile_row0: u32;   // first row of x / y of this invocation's tile

// GEMM core hooks: x rows are plain rows of x; the epilogue is bias, ReLU, scale, then store or accumulate.
fn gemm_x_row(r: u32) -> u32 {
  let row = tile_row0 + r;
  if (row < params.M) {
    return row * params.K;
  }
  return GEMM_NONE;
}

fn gemm_store(r: u32, col: u32, v: f32) {
  let row = tile_row0 + r;
  if (row >= params.M) {
    return;
  }
  let i = params.y_offset + row * params.y_stride + col;
  var o = v;
  if ((params.flags & FLAG_BIAS) != 0u) {
    o = o + load_b(col);
  }
  if ((params.flags & FLAG_RELU) != 0u) {
    o = max(o, 0.0);
  }
  if ((params.flags & FLAG_SCALE) != 0u) {
    o = o * s[col];
  }
  if ((params.flags & FLAG_ACCUMULATE) != 0u) {
    o = o + y[i];
  }
  y[i] = o;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  tile_row0 = wid.y * 16u * TR;
  gemm_tiled(lid, li, wid.x * BN, params.N, params.K, 0u);
}

const KC: u32 = 256u;                        // K chunk of normalised x staged at once (layer norm)
var<workgroup> row_stats: array<f32, 24>;   // layer norm: x0 [ROWS], shift [ROWS], rstd [ROWS]

@compute @workgroup_size(256)
fn main_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let N = params.N;
  let K = params.K;
  tile_row0 = wid.y * ROWS;
  let rows = min(ROWS, params.M - tile_row0);
  let col = wid.x * ROW_COLS + li / LANES;
  let lane = li % LANES;
  let wcol = col * K;
  let x_base = gemm_row_bases(rows);
  var acc: array<f32, 8>;   // zero-initialised
  if ((params.flags & FLAG_NORM) != 0u) {
    // Statistics of row li / 32 by its 32 invocations.
    let r = li / 32u;
    let st = ln_stats_group(x_base[r], K, params.ln_eps, r < rows, li, 32u);
    if ((li & 31u) == 0u) {
      row_stats[r] = st.x;
      row_stats[ROWS + r] = st.y;
      row_stats[2u * ROWS + r] = st.z;
    }
    workgroupBarrier();
    for (var k0 = 0u; k0 < K; k0 += KC) {
      // Stage normalised x[rows, k0 .. k0+KC] in partial as [ROWS, KC]: one column per thread.
      let k = k0 + li;
      if (k < K) {
        let gv = load_g(k);
        let gbv = load_gb(k);
        for (var r = 0u; r < rows; r++) {
          let d = (x[x_base[r] + k] - row_stats[r]) - row_stats[ROWS + r];
          partial[r * KC + li] = fma(d * row_stats[2u * ROWS + r], gv, gbv);
        }
      }
      workgroupBarrier();
      if (col < N) {
        let kend = min(KC, K - k0);
        for (var j = lane; j < kend; j += LANES) {
          let wv = load_w(wcol + k0 + j);
          for (var r = 0u; r < rows; r++) {
            acc[r] = fma(partial[r * KC + j], wv, acc[r]);
          }
        }
      }
      workgroupBarrier();
    }
  } else if (col < N) {
    acc = gemm_rows_acc(x_base, rows, lane, K, wcol);
  }
  gemm_rows_finish(acc, li, lane, col, N, rows);
}

// With a layer norm, each thread computes its rows' statistics itself.
@compute @workgroup_size(COLS_WG)
fn main_cols(@builtin(global_invocation_id) gid: vec3u) {
  let N = params.N;
  let K = params.K;
  let col = gid.x;
  tile_row0 = gid.y * ROWS;
  if (col >= N || tile_row0 >= params.M) {
    return;
  }
  let rows = min(ROWS, params.M - tile_row0);
  let wcol = col * K;
  let x_base = gemm_row_bases(rows);
  var acc: array<f32, 8>;
  if ((params.flags & FLAG_NORM) != 0u) {
    for (var r = 0u; r < rows; r++) {
      let base = x_base[r];
      let st = ln_stats_serial(base, K, params.ln_eps);
      var a = 0.0;
      for (var k = 0u; k < K; k++) {
        let d = (x[base + k] - st.x) - st.y;
        a = fma(fma(d * st.z, load_g(k), load_gb(k)), load_w(wcol + k), a);
      }
      acc[r] = a;
    }
  } else {
    acc = gemm_cols_acc(x_base, rows, K, wcol);
  }
  for (var r = 0u; r < rows; r++) {
    gemm_store(r, col, acc[r]);
  }
}
