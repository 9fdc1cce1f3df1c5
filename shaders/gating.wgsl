// gating: router logits -> top-k experts and their renormalised softmax weights, one row per token.
//
// The logits come from `src` through the weight prelude (src/kernels/weights.ts), so the same code reads f32 router
// logits (token routing, `main`) and an f32 or f16 per-task gate table (task routing, `main_task`, which picks row
// taskIds[n]). Top-k compares the logits themselves, not the rounded probabilities, so ties are exact and go to the
// LOWER expert index (strict `>`), matching the CPU helper topKGate bit for bit.
//
// Binding lists: `main` uses bindings 0..3; `main_task` uses 0..4 (taskIds last, so each entry point's bindings stay
// contiguous and the wrapper passes tensors in order).

// Prepended by the TS wrapper (src/kernels/gating.ts): `struct Params`
// generated from its params schema, and WG, the workgroup width its grid maths uses.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<src_t>;          // [N, E] logits, or [T, E] task table
@group(0) @binding(2) var<storage, read_write> indices: array<u32>;  // [N, k] chosen experts, best first
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;  // [N, k] renormalised gate values
@group(0) @binding(4) var<storage, read> task_ids: array<u32>;       // [N] task of each row (main_task only)


fn gate_row(n: u32, base: u32) {
  let E = params.E;
  // Softmax in f32 with the max subtracted (f16 tables would overflow exp otherwise), and top-2 on the logits.
  var m = load_src(base);
  var i1 = 0u;
  var l1 = m;
  var i2 = 0xffffffffu;
  var l2 = 0.0;
  for (var e = 1u; e < E; e++) {
    let l = load_src(base + e);
    if (l > l1) {
      i2 = i1;
      l2 = l1;
      i1 = e;
      l1 = l;
    } else if (i2 == 0xffffffffu || l > l2) {
      i2 = e;
      l2 = l;
    }
  }
  m = l1;
  var s = 0.0;
  for (var e = 0u; e < E; e++) {
    s += exp(load_src(base + e) - m);
  }
  let inv = 1.0 / s;
  // The softmax probabilities of the two chosen experts (the others are never needed).
  let g1 = exp(load_src(base + i1) - m) * inv;
  if (params.k == 1u) {
    indices[n] = i1;
    weights[n] = 1.0;
  } else {
    let g2 = exp(load_src(base + i2) - m) * inv;
    let z = g1 + g2;
    indices[n * 2u] = i1;
    indices[n * 2u + 1u] = i2;
    weights[n * 2u] = g1 / z;
    weights[n * 2u + 1u] = g2 / z;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = (wid.y * params.rows_x + wid.x) * WG + li;
  if (n >= params.N) {
    return;
  }
  gate_row(n, n * params.E);
}

@compute @workgroup_size(WG)
fn main_task(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = (wid.y * params.rows_x + wid.x) * WG + li;
  if (n >= params.N) {
    return;
  }
  let t = min(task_ids[n], params.T - 1u);
  gate_row(n, t * params.E);
}
