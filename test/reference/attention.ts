/** Options of {@link attentionRef}, mirroring the kernel's. */
export interface AttentionRefOptions {
  heads: number;
  causal?: boolean;
  qOffset?: number;
  kvLength?: number;
  keyLengths?: ArrayLike<number>;
  scale?: number;
}

/**
 * CPU reference of multi-head attention with f64 accumulation: q [B, Tq, D], k and v [B, Tk, D], head h in columns
 * h·dh .. h·dh+dh-1. Key j is visible to query i of batch b iff j < kvLength, j < keyLengths[b] and, when causal,
 * j <= qOffset + i. A query with no visible key outputs zeros. Returns [B, Tq, D].
 */
export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  B: number,
  Tq: number,
  Tk: number,
  D: number,
  opts: AttentionRefOptions,
): Float64Array {
  const H = opts.heads;
  const dh = D / H;
  const scale = opts.scale ?? 1 / Math.sqrt(dh);
  const qOffset = opts.qOffset ?? 0;
  const kvLength = opts.kvLength ?? Tk;
  const out = new Float64Array(B * Tq * D);
  const s = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    const len = Math.min(kvLength, opts.keyLengths ? (opts.keyLengths[b] as number) : Tk);
    for (let h = 0; h < H; h++) {
      const c0 = h * dh;
      for (let i = 0; i < Tq; i++) {
        const end = opts.causal ? Math.min(len, qOffset + i + 1) : len;
        if (end <= 0) continue;
        let mx = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < end; j++) {
          let d = 0;
          for (let c = 0; c < dh; c++) {
            d += (q[(b * Tq + i) * D + c0 + c] as number) * (k[(b * Tk + j) * D + c0 + c] as number);
          }
          s[j] = d * scale;
          mx = Math.max(mx, s[j] as number);
        }
        let sum = 0;
        for (let j = 0; j < end; j++) {
          s[j] = Math.exp((s[j] as number) - mx);
          sum += s[j] as number;
        }
        for (let c = 0; c < dh; c++) {
          let a = 0;
          for (let j = 0; j < end; j++) a += (s[j] as number) * (v[(b * Tk + j) * D + c0 + c] as number);
          out[(b * Tq + i) * D + c0 + c] = a / sum;
        }
      }
    }
  }
  return out;
}

/** CPU reference of gatherRows: out[i] = src[index[i]] (rows of `rowSize`), zeros for an index >= B. */
export function gatherRowsRef(src: ArrayLike<number>, index: ArrayLike<number>, rowSize: number): Float64Array {
  const B = src.length / rowSize;
  const out = new Float64Array(index.length * rowSize);
  for (let i = 0; i < index.length; i++) {
    const r = index[i] as number;
    if (r >= B) continue;
    for (let c = 0; c < rowSize; c++) out[i * rowSize + c] = src[r * rowSize + c] as number;
  }
  return out;
}
