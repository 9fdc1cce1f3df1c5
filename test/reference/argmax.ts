/**
 * Order of the vocabulary search: a before b when a is larger; NaN after every number (-inf included); equal
 * values (and -0, +0) keep index order. Returns < 0 when (va, ia) comes first.
 */
export function searchOrder(va: number, ia: number, vb: number, ib: number): number {
  const na = Number.isNaN(va);
  const nb = Number.isNaN(vb);
  if (na !== nb) return na ? 1 : -1;
  if (!na && va !== vb) return va > vb ? -1 : 1;
  return ia - ib;
}

/** CPU reference of topk over rows of N: the k first entries of each row in {@link searchOrder}. */
export function topkRef(
  x: ArrayLike<number>,
  rows: number,
  N: number,
  k: number,
): { values: Float32Array; indices: Uint32Array } {
  const values = new Float32Array(rows * k);
  const indices = new Uint32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const idx = Array.from({ length: N }, (_, i) => i);
    const v = (i: number) => x[r * N + i] as number;
    idx.sort((a, b) => searchOrder(v(a), a, v(b), b));
    for (let j = 0; j < k; j++) {
      indices[r * k + j] = idx[j] as number;
      values[r * k + j] = v(idx[j] as number);
    }
  }
  return { values, indices };
}

/** CPU reference of argmax over rows of N: the first entry of each row in {@link searchOrder}. */
export function argmaxRef(x: ArrayLike<number>, rows: number, N: number): Uint32Array {
  const out = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let i = 1; i < N; i++) {
      if (searchOrder(x[r * N + i] as number, i, x[r * N + best] as number, best) < 0) best = i;
    }
    out[r] = best;
  }
  return out;
}
