// add: y[i] = a[i] + b[i] over n f32 elements (the residual connection).
//
// The output comes first in the binding list so that the in-place entry points bind a prefix of it: with
// layout 'auto' a pipeline only has the bindings its entry point uses, and WebGPU forbids binding one buffer both
// writable and read-only in a dispatch, so `a += b` cannot bind `a` twice.
//   main          [y, b, a]: y = a + b
//   main_inplace  [y, b]:    y = y + b   (y is a)
//   main_self     [y]:       y = y + y   (a, b and y are one tensor)
// One element per invocation; the grid may be 2D when n needs more than 65535 workgroups.

// Prepended by the TS wrapper (src/kernels/add.ts): `struct Params` generated from its params schema.

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;  // [n] (a itself in place)
@group(0) @binding(2) var<storage, read> b: array<f32>;        // [n]
@group(0) @binding(3) var<storage, read> a: array<f32>;        // [n]

fn element(wid: vec3u, nwg: vec3u, li: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + li;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = element(wid, nwg, li);
  if (i < params.n) {
    y[i] = a[i] + b[i];
  }
}

@compute @workgroup_size(WG)
fn main_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) li: u32) {
  let i = element(wid, nwg, li);
  if (i < params.n) {
    y[i] = y[i] + b[i];
  }
}

@compute @workgroup_size(WG)
fn main_self(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let i = element(wid, nwg, li);
  if (i < params.n) {
    y[i] = y[i] + y[i];
  }
}
