// layer_norm: y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta, biased variance (PyTorch's LayerNorm).
//
// One workgroup per row, f32 accumulation, two passes over the row. Both passes work on x - x0, where x0 is the
// row's first element: for a row with a large mean and a small spread (mean 1000, std 0.01) the shifted values are
// small, so neither the sum nor the deviations lose the low bits that x - mean would lose once mean is rounded to f32.
// gamma and beta are weights (f32 or f16, prelude from src/kernels/weights.ts). Rows beyond 65535 use a 2D grid.

struct Params {
  rows: u32,   // rows of x and y
  D: u32,      // features per row
  eps: f32,
  _pad0: u32,
}

override WG: u32 = 256u;   // a power of two: the tree reductions halve it

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // [rows, D]
@group(0) @binding(2) var<storage, read> gamma: array<gamma_t>;   // [D]
@group(0) @binding(3) var<storage, read> beta: array<beta_t>;     // [D]
@group(0) @binding(4) var<storage, read_write> y: array<f32>;     // [rows, D]

var<workgroup> partial: array<f32, WG>;

// Sum of v over the workgroup. Called from uniform control flow only (it has barriers).
fn workgroup_sum(v: f32, li: u32) -> f32 {
  partial[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (li < s) {
      partial[li] = partial[li] + partial[li + s];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  // The next call overwrites partial[0]; everyone must have read it first.
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) {
    return;
  }
  let D = params.D;
  let base = row * D;
  let x0 = x[base];
  var s = 0.0;
  for (var i = li; i < D; i += WG) {
    s += x[base + i] - x0;
  }
  // mean = x0 + shift, kept apart so that x - mean = (x - x0) - shift stays exact-ish.
  let shift = workgroup_sum(s, li) / f32(D);
  var q = 0.0;
  for (var i = li; i < D; i += WG) {
    let d = (x[base + i] - x0) - shift;
    q = fma(d, d, q);
  }
  let rstd = 1.0 / sqrt(workgroup_sum(q, li) / f32(D) + params.eps);
  for (var i = li; i < D; i += WG) {
    let d = (x[base + i] - x0) - shift;
    y[base + i] = fma(d * rstd, load_gamma(i), load_beta(i));
  }
}

// The 'emulated' kernel profile (CPU emulations of a GPU, where barriers are expensive): one thread per row, the same
// shifted two passes, no workgroup memory. 64 rows per workgroup; rows beyond 65535 workgroups use a 2D grid.
@compute @workgroup_size(64)
fn main_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) li: u32) {
  let row = (wid.y * nwg.x + wid.x) * 64u + li;
  if (row >= params.rows) {
    return;
  }
  let D = params.D;
  let base = row * D;
  let x0 = x[base];
  var s = 0.0;
  for (var i = 0u; i < D; i++) {
    s += x[base + i] - x0;
  }
  let shift = s / f32(D);
  var q = 0.0;
  for (var i = 0u; i < D; i++) {
    let d = (x[base + i] - x0) - shift;
    q = fma(d, d, q);
  }
  let rstd = 1.0 / sqrt(q / f32(D) + params.eps);
  for (var i = 0u; i < D; i++) {
    let d = (x[base + i] - x0) - shift;
    y[base + i] = fma(d * rstd, load_gamma(i), load_beta(i));
  }
}
