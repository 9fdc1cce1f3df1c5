/**
 * CPU references of the Mixture-of-Experts chain (gating, dispatch, grouped expert FFN, combine, the whole layer),
 * plain TS with f64 accumulation. Indices and dispatch plans are exact; values are compared with TOL.
 */

const DROPPED = 0xffffffff;

/** Softmax of one row, f64. */
export function softmaxRef(row: ArrayLike<number>): Float64Array {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i] as number);
  const p = new Float64Array(row.length);
  let s = 0;
  for (let i = 0; i < row.length; i++) {
    p[i] = Math.exp((row[i] as number) - m);
    s += p[i] as number;
  }
  for (let i = 0; i < row.length; i++) p[i] = (p[i] as number) / s;
  return p;
}

/** Gate of N rows of logits [N, E]: top-k by a stable sort (ties to the lower index), renormalised weights. */
export function gateRef(
  logits: ArrayLike<number>,
  N: number,
  E: number,
  k: number,
): { indices: Uint32Array; weights: Float64Array; probs: Float64Array } {
  const indices = new Uint32Array(N * k);
  const weights = new Float64Array(N * k);
  const probs = new Float64Array(N * E);
  for (let n = 0; n < N; n++) {
    const row = Array.from({ length: E }, (_, e) => logits[n * E + e] as number);
    const p = softmaxRef(row);
    probs.set(p, n * E);
    const sorted = row.map((v, e) => ({ v, e })).sort((a, b) => b.v - a.v || a.e - b.e);
    let z = 0;
    for (let j = 0; j < k; j++) z += p[(sorted[j] as { e: number }).e] as number;
    for (let j = 0; j < k; j++) {
      const e = (sorted[j] as { e: number }).e;
      indices[n * k + j] = e;
      weights[n * k + j] = (p[e] as number) / z;
    }
  }
  return { indices, weights, probs };
}

/** A dispatch plan on the CPU (same fields as DispatchPlan, as arrays). */
export interface PlanRef {
  offsets: Uint32Array;
  counts: Uint32Array;
  /** Only the first offsets[E] entries. */
  order: Uint32Array;
  slotOf: Uint32Array;
  tileOffsets: Uint32Array;
}

/** Dispatch by an explicit stable sort on (expert, j, n); ranks >= capacity (when > 0) dropped. */
export function dispatchRef(
  indices: ArrayLike<number>,
  N: number,
  k: number,
  E: number,
  capacity: number,
  tileRows: number,
): PlanRef {
  const cap = capacity > 0 ? capacity : Number.POSITIVE_INFINITY;
  const perExpert: number[][] = Array.from({ length: E }, () => []);
  for (let j = 0; j < k; j++) {
    for (let n = 0; n < N; n++) {
      const a = n * k + j;
      const e = indices[a] as number;
      if (e < E) perExpert[e]?.push(a);
    }
  }
  const offsets = new Uint32Array(E + 1);
  const counts = new Uint32Array(E);
  const tileOffsets = new Uint32Array(E + 1);
  const slotOf = new Uint32Array(N * k).fill(DROPPED);
  const order: number[] = [];
  for (let e = 0; e < E; e++) {
    const list = perExpert[e] as number[];
    const kept = list.slice(0, Math.min(list.length, cap));
    counts[e] = kept.length;
    offsets[e + 1] = (offsets[e] as number) + kept.length;
    tileOffsets[e + 1] = (tileOffsets[e] as number) + Math.ceil(kept.length / tileRows);
    for (const a of kept) {
      slotOf[a] = order.length;
      order.push(a);
    }
  }
  return { offsets, counts, order: Uint32Array.from(order), slotOf, tileOffsets };
}

/** Expert weights as flat arrays with their sizes: wi [E, F, D], bi [E, F], wo [E, D, F], bo [E, D]. */
export interface ExpertsRef {
  wi: ArrayLike<number>;
  bi: ArrayLike<number>;
  wo: ArrayLike<number>;
  bo: ArrayLike<number>;
  E: number;
  D: number;
  F: number;
}

/** FFN_e(x) = wo_e · ReLU(wi_e · x + bi_e) + bo_e of one row x [D], f64. */
export function expertRef(ex: ExpertsRef, e: number, x: ArrayLike<number>, xOff = 0): Float64Array {
  const { D, F } = ex;
  const h = new Float64Array(F);
  for (let f = 0; f < F; f++) {
    let s = ex.bi[e * F + f] as number;
    const w0 = (e * F + f) * D;
    for (let d = 0; d < D; d++) s += (ex.wi[w0 + d] as number) * (x[xOff + d] as number);
    h[f] = Math.max(0, s);
  }
  const y = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    let s = ex.bo[e * D + d] as number;
    const w0 = (e * D + d) * F;
    for (let f = 0; f < F; f++) s += (ex.wo[w0 + f] as number) * (h[f] as number);
    y[d] = s;
  }
  return y;
}

/** Grouped FFN by slot: row s (< offsets[E]) = FFN_{e(s)}(x[order[s] / k]). Returns [offsets[E], D]. */
export function groupedFfnRef(x: ArrayLike<number>, plan: PlanRef, k: number, ex: ExpertsRef): Float64Array {
  const { E, D } = ex;
  const used = plan.offsets[E] as number;
  const out = new Float64Array(used * D);
  for (let e = 0; e < E; e++) {
    for (let s = plan.offsets[e] as number; s < (plan.offsets[e + 1] as number); s++) {
      const n = Math.floor((plan.order[s] as number) / k);
      out.set(expertRef(ex, e, x, n * D), s * D);
    }
  }
  return out;
}

/** Combine: y[n] = residual[n] + Σ_j w[n, j] · expertOut[slotOf[n*k + j]] over kept assignments. */
export function combineRef(
  expertOut: ArrayLike<number>,
  slotOf: ArrayLike<number>,
  weights: ArrayLike<number>,
  N: number,
  k: number,
  D: number,
  residual?: ArrayLike<number>,
): Float64Array {
  const y = new Float64Array(N * D);
  for (let n = 0; n < N; n++) {
    for (let d = 0; d < D; d++) {
      let s = residual ? (residual[n * D + d] as number) : 0;
      for (let j = 0; j < k; j++) {
        const slot = slotOf[n * k + j] as number;
        if (slot !== DROPPED) s += (weights[n * k + j] as number) * (expertOut[slot * D + d] as number);
      }
      y[n * D + d] = s;
    }
  }
  return y;
}

/** Routing of moeLayerRef: token (router weight Wg [E, D]) or task (gate table [T, E] and a task per row). */
export type RoutingRef =
  | { kind: 'token'; gate: ArrayLike<number> }
  | { kind: 'task'; table: ArrayLike<number>; T: number; taskIds: ArrayLike<number> };

/** The whole MoE layer on x [N, D]: gate -> dispatch (GShard priority, capacity) -> experts -> combine, f64. */
export function moeLayerRef(
  x: ArrayLike<number>,
  N: number,
  routing: RoutingRef,
  ex: ExpertsRef,
  opts: { k: number; capacity?: number; residual?: ArrayLike<number> },
): { y: Float64Array; indices: Uint32Array; weights: Float64Array } {
  const { E, D } = ex;
  const logits = new Float64Array(N * E);
  for (let n = 0; n < N; n++) {
    for (let e = 0; e < E; e++) {
      if (routing.kind === 'token') {
        let s = 0;
        for (let d = 0; d < D; d++) s += (x[n * D + d] as number) * (routing.gate[e * D + d] as number);
        logits[n * E + e] = s;
      } else {
        const t = Math.min(routing.taskIds[n] as number, routing.T - 1);
        logits[n * E + e] = routing.table[t * E + e] as number;
      }
    }
  }
  const { indices, weights } = gateRef(logits, N, E, opts.k);
  const plan = dispatchRef(indices, N, opts.k, E, opts.capacity ?? 0, 1);
  const out = groupedFfnRef(x, plan, opts.k, ex);
  const y = combineRef(out, plan.slotOf, weights, N, opts.k, D, opts.residual);
  return { y, indices, weights };
}
