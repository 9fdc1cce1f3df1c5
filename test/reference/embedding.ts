/** Sinusoidal position encoding PE[pos, 0..D) in f64: PE[pos, 2i] = sin(pos·f_i), PE[pos, 2i+1] = cos(pos·f_i), f_i = 10000^(-2i/D). */
export function sinusoid(pos: number, D: number): Float64Array {
  const pe = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    const i2 = d - (d % 2);
    const angle = pos / 10000 ** (i2 / D);
    pe[d] = d % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
  }
  return pe;
}

/**
 * CPU reference of embedding: ids [rows, T] (flattened), table [V, D] -> y [rows, T, D] =
 * table[id] · scale + PE[posOffset + t] (positions optional); an id >= V gives a zero row.
 */
export function embeddingRef(
  ids: ArrayLike<number>,
  T: number,
  table: ArrayLike<number>,
  V: number,
  D: number,
  scale = 1,
  positions = true,
  posOffset = 0,
): Float64Array {
  const y = new Float64Array(ids.length * D);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n] as number;
    if (id >= V) continue;
    const pe = positions ? sinusoid(posOffset + (n % T), D) : null;
    for (let d = 0; d < D; d++) y[n * D + d] = (table[id * D + d] as number) * scale + (pe ? (pe[d] as number) : 0);
  }
  return y;
}
