/** CPU reference of linear: y = act(x · wᵀ + b), f64 accumulation. w is [N, K] row-major. */
export function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  M: number,
  N: number,
  K: number,
  relu = false,
): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = b ? (b[n] as number) : 0;
      for (let k = 0; k < K; k++) s += (x[m * K + k] as number) * (w[n * K + k] as number);
      y[m * N + n] = relu ? Math.max(0, s) : s;
    }
  }
  return y;
}
