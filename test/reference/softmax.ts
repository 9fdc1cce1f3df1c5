/**
 * CPU reference of row-wise softmax (or log-softmax) over rows of N, max-subtracted, in f64. -inf entries give 0
 * (log: -inf); a row of only -inf gives NaN, as PyTorch.
 */
export function softmaxRef(x: ArrayLike<number>, rows: number, N: number, log = false): Float64Array {
  const y = new Float64Array(rows * N);
  for (let r = 0; r < rows; r++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < N; i++) m = Math.max(m, x[r * N + i] as number);
    let s = 0;
    for (let i = 0; i < N; i++) s += Math.exp((x[r * N + i] as number) - m);
    for (let i = 0; i < N; i++) {
      const d = (x[r * N + i] as number) - m;
      y[r * N + i] = log ? d - Math.log(s) : Math.exp(d) / s;
    }
  }
  return y;
}
