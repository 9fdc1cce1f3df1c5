// linear: y[M, N] = act(x[M, K] · W[N, K]ᵀ + b[N]) · s[N]   (PyTorch's nn.Linear layout: W is [out, in])
//
// The optional column scale s serves extracted task sub-networks: the two experts' gate weights applied after the
// ReLU, so the experts' f16 weights are shipped unchanged (exact folding, see src/runtime/extract.ts).
//
// The weight accessors `load_w` / `load_b` and the element types `w_t` / `b_t` come from a short prelude that the
// TS wrapper prepends (src/kernels/weights.ts): f32, f16 packed two per u32 (no shader-f16 needed), or native f16.
// Two entry points: `main` is a 64x64 register-tiled GEMM for many rows; `main_rows` serves up to 8 rows
// (decoding), splitting K across 8 lanes per output column.
//
// Fusions that save decode-step dispatches (each is one flag; all default off):
//  - accumulate (bit 3): y += result instead of y = result, so a residual connection needs no separate `add`;
//  - output layout: y element (row, col) lives at y_offset + row·y_stride + col, so the k/v projections of a decode
//    step write straight into their KV-cache slot (y_stride = Tmax·D, y_offset = t·D);
//  - layer norm (bit 4, `main_rows` only): x rows are normalised first, (x - mean)/sqrt(var + eps)·g + gb, with the
//    same shifted two-pass statistics as shaders/layer_norm.wgsl, and staged in workgroup memory K-chunk by K-chunk.

struct Params {
  M: u32,          // rows of x and y
  N: u32,          // output features
  K: u32,          // input features
  flags: u32,      // bit 0: bias, bit 1: ReLU, bit 2: column scale, bit 3: accumulate into y, bit 4: layer norm
  w_offset: u32,   // element offset of W inside its buffer (an expert of a packed stack)
  b_offset: u32,   // element offset of b inside its buffer
  s_offset: u32,   // element offset of s inside its buffer
  y_offset: u32,   // element offset of y(0, 0)
  y_stride: u32,   // elements between rows of y (N when y is a plain [M, N] tensor)
  ln_eps: f32,     // layer-norm epsilon (bit 4)
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // [M, K]
@group(0) @binding(2) var<storage, read> w: array<w_t>;        // [N, K] at w_offset
@group(0) @binding(3) var<storage, read> b: array<b_t>;        // [N] at b_offset (unread when bit 0 of flags is 0)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // [M, N]
@group(0) @binding(5) var<storage, read> s: array<f32>;        // [N] (unread when bit 2 of flags is 0)
// Layer-norm gain and bias [K] (bit 4): bound by `main_rows` only (the tiled `main` never normalises).
@group(0) @binding(6) var<storage, read> g: array<g_t>;
@group(0) @binding(7) var<storage, read> gb: array<gb_t>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> xs: array<f32, 1024>;   // [BM, BK]
var<workgroup> ws: array<f32, 1024>;   // [BN, BK]

fn y_index(row: u32, col: u32) -> u32 {
  return params.y_offset + row * params.y_stride + col;
}

// Writes the finished value of (row, col): y = epilogue(v), or y += epilogue(v) when accumulating.
fn store(row: u32, col: u32, v: f32) {
  let i = y_index(row, col);
  var r = epilogue(v, col);
  if ((params.flags & 8u) != 0u) {
    r = r + y[i];
  }
  y[i] = r;
}

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
        store(row, col, acc[i][j]);
      }
    }
  }
}

// Up to 8 rows: 32 output columns per workgroup, 8 lanes per column striding over K, then a lane reduction.
const ROWS: u32 = 8u;
const LANES: u32 = 8u;
const KC: u32 = 256u;                        // K chunk of normalised x staged at once (layer norm)
var<workgroup> partial: array<f32, 2048>;   // [256 threads, ROWS]; with layer norm also [ROWS, KC] staged x
var<workgroup> row_stats: array<f32, 24>;   // layer norm: x0 [ROWS], shift [ROWS], rstd [ROWS]

// Sum of v over the 32 threads li & ~31 .. (li | 31) (one row's statistics); every thread gets its group's sum.
// Uniform control flow only (barriers). Loops here are short and constant: llvmpipe unrolls constant-count loops, so
// loops over rows or K stay bounded by runtime values (an unrolled version took ~30 s to compile there).
fn row_group_sum(v: f32, li: u32) -> f32 {
  partial[li] = v;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if ((li & 31u) < s) {
      partial[li] = partial[li] + partial[li + s];
    }
    workgroupBarrier();
  }
  let total = partial[li & ~31u];
  workgroupBarrier();
  return total;
}

// Layer-norm statistics of rows row0 .. row0+rows-1 into row_stats, 32 threads per row (shifted two-pass, as
// shaders/layer_norm.wgsl).
fn row_statistics(row0: u32, rows: u32, K: u32, li: u32) {
  let r = li / 32u;
  let t = li & 31u;
  let valid = r < rows;
  let base = (row0 + r) * K;
  var x0 = 0.0;
  var s = 0.0;
  if (valid) {
    x0 = x[base];
    for (var k = t; k < K; k += 32u) {
      s += x[base + k] - x0;
    }
  }
  let shift = row_group_sum(s, li) / f32(K);
  var q = 0.0;
  if (valid) {
    for (var k = t; k < K; k += 32u) {
      let d = (x[base + k] - x0) - shift;
      q = fma(d, d, q);
    }
  }
  let rstd = 1.0 / sqrt(row_group_sum(q, li) / f32(K) + params.ln_eps);
  if (t == 0u) {
    row_stats[r] = x0;
    row_stats[ROWS + r] = shift;
    row_stats[2u * ROWS + r] = rstd;
  }
  workgroupBarrier();
}

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
  let wbase = params.w_offset + col * K;
  if ((params.flags & 16u) != 0u) {
    row_statistics(row0, rows, K, li);
    for (var k0 = 0u; k0 < K; k0 += KC) {
      // Stage normalised x[row0 .. row0+rows, k0 .. k0+KC] in partial as [ROWS, KC]: one column per thread.
      let k = k0 + li;
      if (k < K) {
        let g = load_g(k);
        let gb = load_gb(k);
        for (var r = 0u; r < rows; r++) {
          let d = (x[(row0 + r) * K + k] - row_stats[r]) - row_stats[ROWS + r];
          partial[r * KC + li] = fma(d * row_stats[2u * ROWS + r], g, gb);
        }
      }
      workgroupBarrier();
      if (col < N) {
        let kend = min(KC, K - k0);
        for (var j = lane; j < kend; j += LANES) {
          let wv = load_w(wbase + k0 + j);
          for (var r = 0u; r < rows; r++) {
            acc[r] = fma(partial[r * KC + j], wv, acc[r]);
          }
        }
      }
      workgroupBarrier();
    }
  } else if (col < N) {
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
      store(row0 + r, col, s);
    }
  }
}

// Up to 8 rows, one thread per output column over the whole of K: no workgroup memory and no barriers. For CPU
// emulations of a GPU (SwiftShader), where a 256-thread workgroup with barriers costs milliseconds; on GPUs the
// coalesced `main_rows` is the better choice. With a layer norm, each thread computes its rows' statistics itself.
@compute @workgroup_size(64)
fn main_cols(@builtin(global_invocation_id) gid: vec3u) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let col = gid.x;
  let row0 = gid.y * ROWS;
  if (col >= N || row0 >= M) {
    return;
  }
  let rows = min(ROWS, M - row0);
  let wbase = params.w_offset + col * K;
  var acc: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) {
    acc[r] = 0.0;
  }
  if ((params.flags & 16u) != 0u) {
    for (var r = 0u; r < rows; r++) {
      let base = (row0 + r) * K;
      let x0 = x[base];
      var s = 0.0;
      for (var k = 0u; k < K; k++) {
        s += x[base + k] - x0;
      }
      let shift = s / f32(K);
      var q = 0.0;
      for (var k = 0u; k < K; k++) {
        let d = (x[base + k] - x0) - shift;
        q = fma(d, d, q);
      }
      let rstd = 1.0 / sqrt(q / f32(K) + params.ln_eps);
      var a = 0.0;
      for (var k = 0u; k < K; k++) {
        let d = (x[base + k] - x0) - shift;
        a = fma(fma(d * rstd, load_g(k), load_gb(k)), load_w(wbase + k), a);
      }
      acc[r] = a;
    }
  } else {
    for (var k = 0u; k < K; k++) {
      let wv = load_w(wbase + k);
      for (var r = 0u; r < rows; r++) {
        acc[r] = fma(x[(row0 + r) * K + k], wv, acc[r]);
      }
    }
  }
  for (var r = 0u; r < rows; r++) {
    store(row0 + r, col, acc[r]);
  }
}
