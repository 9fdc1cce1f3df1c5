// softmax: y[r, j] = exp(x[r, j] - m) / Σ_i exp(x[r, i] - m), or with FLAG_LOG the log-softmax
// y[r, j] = x[r, j] - m - log Σ_i exp(x[r, i] - m), where m is the row's maximum.
//
// One workgroup per row. The first pass is an online softmax: each invocation keeps a running maximum and a sum of
// exponentials relative to it over its strided elements, then the workgroup merges the (max, sum) pairs in a tree;
// the second pass writes. -inf entries contribute exactly 0 (a row that is only -inf gives NaN, as in PyTorch).
// Rows beyond 65535 use a 2D grid.

// Prepended by the TS wrapper (src/kernels/softmax.ts): `struct Params` and the FLAG_* constants
// generated from its params schema and flag table.

override WG: u32 = 256u;   // a power of two: the tree reduction halves it

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // [rows, N]
@group(0) @binding(2) var<storage, read_write> y: array<f32>;    // [rows, N]

var<workgroup> red_max: array<f32, WG>;
var<workgroup> red_sum: array<f32, WG>;

// Rescales a sum of exp(v - old_max) to be relative to new_max (>= old_max). A zero sum stays zero, so exp(-inf - -inf)
// is never formed.
fn rescale(sum: f32, old_max: f32, new_max: f32) -> f32 {
  if (sum == 0.0 || old_max == new_max) {
    return sum;
  }
  return sum * exp(old_max - new_max);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) {
    return;
  }
  let N = params.N;
  let base = row * N;
  let neg_inf = params.neg_inf;
  var m = neg_inf;
  var s = 0.0;
  for (var i = li; i < N; i += WG) {
    let v = x[base + i];
    if (v > m) {
      s = rescale(s, m, v) + 1.0;
      m = v;
    } else if (v > neg_inf) {
      s += exp(v - m);
    }
  }
  red_max[li] = m;
  red_sum[li] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride >> 1u) {
    if (li < stride) {
      let m1 = red_max[li];
      let m2 = red_max[li + stride];
      let mm = max(m1, m2);
      red_sum[li] = rescale(red_sum[li], m1, mm) + rescale(red_sum[li + stride], m2, mm);
      red_max[li] = mm;
    }
    workgroupBarrier();
  }
  let row_max = red_max[0];
  let row_sum = red_sum[0];
  if ((params.flags & FLAG_LOG) != 0u) {
    let log_sum = log(row_sum);
    for (var i = li; i < N; i += WG) {
      y[base + i] = (x[base + i] - row_max) - log_sum;
    }
  } else {
    let inv = 1.0 / row_sum;
    for (var i = li; i < N; i += WG) {
      y[base + i] = exp(x[base + i] - row_max) * inv;
    }
  }
}
