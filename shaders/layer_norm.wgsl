// layer_norm: y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta, biased variance (PyTorch's LayerNorm).
//
// f32 accumulation, two passes over the row, shifted by the row's first element: the statistics come from
// shaders/include/layer_norm_stats.wgsl (shared with linear.wgsl's fused layer norm). Prepended by the TS wrapper
// (src/kernels/layer-norm.ts): the weight prelude for gamma and beta (f32 or f16, src/kernels/weights.ts), `struct
// Params` generated from its params schema, and the statistics. Two entry points: `main`, one workgroup of WG
// invocations per row; `main_serial` (the 'emulated' kernel profile, CPU emulations of a GPU where barriers are
// expensive), one invocation per row and SERIAL_WG rows per workgroup. Rows beyond 65535 workgroups use a 2D grid.

override WG: u32 = 256u;         // a power of two, at most 256: the tree reductions halve it
override SERIAL_WG: u32 = 64u;   // rows per workgroup of `main_serial`

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // [rows, D]
@group(0) @binding(2) var<storage, read> gamma: array<gamma_t>;   // [D]
@group(0) @binding(3) var<storage, read> beta: array<beta_t>;     // [D]
@group(0) @binding(4) var<storage, read_write> y: array<f32>;     // [rows, D]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) {
    return;
  }
  let D = params.D;
  let base = row * D;
  let st = ln_stats_group(base, D, params.eps, true, li, WG);
  for (var i = li; i < D; i += WG) {
    let d = (x[base + i] - st.x) - st.y;
    y[base + i] = fma(d * st.z, load_gamma(i), load_beta(i));
  }
}

@compute @workgroup_size(SERIAL_WG)
fn main_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) li: u32) {
  let row = (wid.y * nwg.x + wid.x) * SERIAL_WG + li;
  if (row >= params.rows) {
    return;
  }
  let D = params.D;
  let base = row * D;
  let st = ln_stats_serial(base, D, params.eps);
  for (var i = 0u; i < D; i++) {
    let d = (x[base + i] - st.x) - st.y;
    y[base + i] = fma(d * st.z, load_gamma(i), load_beta(i));
  }
}
