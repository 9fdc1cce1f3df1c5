/**
 * Task-expert folding (PAPER.md, "Why task routing pays at inference"): a task-routed MoE layer's gate depends only on
 * the task, so its chosen experts and their weights are constants and the layer is one dense FFN of width k·F:
 *
 *   Σ_j g_j · (wo_j · ReLU(wi_j · x + bi_j) + bo_j) = [g_1·wo_1 | g_2·wo_2] · ReLU([wi_1 ; wi_2] · x + [bi_1 ; bi_2])
 *                                                    + (g_1·bo_1 + g_2·bo_2)
 *
 * exact as long as no token is dropped for capacity (inference drops none). Plain CPU code, in f32: the ONNX export
 * (runtime/onnx-export.ts) folds with it, and the MoE layer test checks it against the GPU layer. Extraction
 * (runtime/extract.ts) writes the other form of the same identity, the gate values as a separate f32 scale after the
 * ReLU: it copies the experts' f16 weights bit for bit into the task shard, which g·wo rounded back to f16 would not.
 */

/** Sizes of a packed expert stack: wi [E, F, D], bi [E, F], wo [E, D, F], bo [E, D]. */
export interface ExpertDims {
  /** Experts in the stack. */
  E: number;
  /** Model width (d_model). */
  D: number;
  /** Hidden width of one expert (d_ff). */
  F: number;
}

/** One dense FFN equal to a task's weighted experts: y = wo · ReLU(wi · x + bi) + bo. */
export interface FoldedFfn {
  /** [F', D] with F' = k·F: the chosen experts' wi stacked in gate order. */
  wi: Float32Array;
  /** [F']: their bi stacked. */
  bi: Float32Array;
  /** [D, F']: [g_1·wo_1 | g_2·wo_2]. */
  wo: Float32Array;
  /** [D]: Σ_j g_j·bo_j. */
  bo: Float32Array;
  /** The folded hidden width F' = k·F. */
  F: number;
}

/**
 * Folds the experts `indices` (gate order, as topKGate returns them) with gate weights `weights` out of a packed
 * stack (Float32Array views of wi [E, F, D], bi [E, F], wo [E, D, F], bo [E, D]) into one dense FFN, in f32.
 */
export function foldTaskExperts(
  wi: Float32Array,
  bi: Float32Array,
  wo: Float32Array,
  bo: Float32Array,
  dims: ExpertDims,
  indices: readonly number[],
  weights: readonly number[],
): FoldedFfn {
  const { E, D, F } = dims;
  const k = indices.length;
  if (k < 1 || weights.length !== k) {
    throw new RangeError(`foldTaskExperts: ${k} indices and ${weights.length} weights; need as many, at least one`);
  }
  for (const e of indices) {
    if (!Number.isInteger(e) || e < 0 || e >= E) throw new RangeError(`foldTaskExperts: expert ${e} not in [0, ${E})`);
  }
  const sizes: Array<[string, Float32Array, number]> = [
    ['wi', wi, E * F * D],
    ['bi', bi, E * F],
    ['wo', wo, E * D * F],
    ['bo', bo, E * D],
  ];
  for (const [name, a, n] of sizes) {
    if (a.length !== n) throw new RangeError(`foldTaskExperts: ${name} has ${a.length} values, [${E}, ...] needs ${n}`);
  }
  const Fk = k * F;
  const outWi = new Float32Array(Fk * D);
  const outBi = new Float32Array(Fk);
  const outWo = new Float32Array(D * Fk);
  const boSum = new Float64Array(D);
  indices.forEach((e, j) => {
    const g = weights[j] as number;
    outWi.set(wi.subarray(e * F * D, (e + 1) * F * D), j * F * D);
    outBi.set(bi.subarray(e * F, (e + 1) * F), j * F);
    for (let d = 0; d < D; d++) {
      const src = (e * D + d) * F;
      const dst = d * Fk + j * F;
      for (let f = 0; f < F; f++) outWo[dst + f] = g * (wo[src + f] as number);
      boSum[d] = (boSum[d] as number) + g * (bo[e * D + d] as number);
    }
  });
  return { wi: outWi, bi: outBi, wo: outWo, bo: Float32Array.from(boSum), F: Fk };
}
