/** CPU reference of layer_norm over rows of D: (x - mean) / sqrt(var + eps) · gamma + beta, biased var, f64. */
export function layerNormRef(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  rows: number,
  D: number,
  eps = 1e-5,
): Float64Array {
  const y = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x[r * D + i] as number;
    mean /= D;
    let v = 0;
    for (let i = 0; i < D; i++) v += ((x[r * D + i] as number) - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / D + eps);
    for (let i = 0; i < D; i++) {
      y[r * D + i] = ((x[r * D + i] as number) - mean) * rstd * (gamma[i] as number) + (beta[i] as number);
    }
  }
  return y;
}
