// combine: y[n, :] = residual[n, :] + Σ_j weights[n, j] · expert_out[slot_of[n*k + j], :], dropped slots skipped.
//
// Gather form: each output element reads its token's k slots in order j = 0, 1, ..., so the sum is deterministic
// (no atomics, no scatter). A token whose every assignment was dropped for capacity gets just the residual (GShard's
// overflow skips the layer). One thread per output element.

// Prepended by the TS wrapper (src/kernels/combine.ts): `struct Params` and the FLAG_* constants
// generated from its params schema and flag table, and WG, the workgroup width its grid maths uses.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> expert_out: array<f32>;   // [N * k, D] by slot
@group(0) @binding(2) var<storage, read> slot_of: array<u32>;      // [N * k] assignment -> slot or 0xFFFFFFFF
@group(0) @binding(3) var<storage, read> weights: array<f32>;      // [N, k] gate weights
@group(0) @binding(4) var<storage, read> residual: array<f32>;     // [N, D] (unread without FLAG_RESIDUAL)
@group(0) @binding(5) var<storage, read_write> y: array<f32>;      // [N, D]

const DROPPED: u32 = 0xffffffffu;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * params.groups_x + wid.x) * WG + li;
  let D = params.D;
  if (i >= params.N * D) {
    return;
  }
  let n = i / D;
  let d = i - n * D;
  var acc = 0.0;
  if ((params.flags & FLAG_RESIDUAL) != 0u) {
    acc = residual[i];
  } else if ((params.flags & FLAG_IN_PLACE) != 0u) {
    acc = y[i];
  }
  let k = params.k;
  for (var j = 0u; j < k; j++) {
    let s = slot_of[n * k + j];
    if (s != DROPPED) {
      acc = fma(weights[n * k + j], expert_out[s * D + d], acc);
    }
  }
  y[i] = acc;
}
