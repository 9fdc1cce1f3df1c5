/**
 * CPU evaluation of a gate, for code that needs a task's experts without the GPU (task-expert extraction, the demo's
 * activation view). Same rule as shaders/gating.wgsl: top-k on the logits with ties to the lower expert index, gate
 * values from an f32 softmax, renormalised over the chosen experts.
 */

/** The experts a gate picks and their renormalised weights. */
export interface TopKGate {
  /** Chosen expert indices, best first. */
  indices: number[];
  /** Gate values of the chosen experts, renormalised to sum to 1. */
  weights: number[];
}

/**
 * Top-k of one row of gate logits (k = 1 or 2, k <= logits.length). Ties go to the lower index; weights are
 * softmax(logits)[idx_j] / Σ_j softmax(logits)[idx_j] computed in f32 like the GPU.
 */
export function topKGate(logits: ArrayLike<number>, k: number): TopKGate {
  const E = logits.length;
  if (k !== 1 && k !== 2) throw new RangeError(`topKGate: k must be 1 or 2, got ${k}`);
  if (k > E) throw new RangeError(`topKGate: k = ${k} exceeds the ${E} logits`);
  const indices: number[] = [];
  for (let j = 0; j < k; j++) {
    let best = -1;
    for (let e = 0; e < E; e++) {
      if (indices.includes(e)) continue;
      if (best < 0 || (logits[e] as number) > (logits[best] as number)) best = e;
    }
    indices.push(best);
  }
  const f = Math.fround;
  const m = logits[indices[0] as number] as number;
  const g = indices.map((e) => f(Math.exp((logits[e] as number) - m)));
  if (k === 1) return { indices, weights: [1] };
  const z = f((g[0] as number) + (g[1] as number));
  return { indices, weights: g.map((v) => f(v / z)) };
}
