/** Tolerance |a - e| <= atol + rtol * |e|. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Stated tolerances per weight dtype (activations are f32 everywhere; f16 weights are rounded identically on both sides). */
export const TOL = {
  f32: { atol: 1e-5, rtol: 1e-4 },
  f16: { atol: 1e-4, rtol: 1e-3 },
} as const satisfies Record<string, Tolerance>;

export interface CloseReport {
  ok: boolean;
  worstIndex: number;
  actual: number;
  expected: number;
  excess: number;
  message: string;
}

/** Compares element-wise and describes the worst element (largest |a - e| - (atol + rtol|e|)). */
export function compareClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): CloseReport {
  if (actual.length !== expected.length) {
    return {
      ok: false,
      worstIndex: -1,
      actual: Number.NaN,
      expected: Number.NaN,
      excess: Number.POSITIVE_INFINITY,
      message: `length ${actual.length} != expected ${expected.length}`,
    };
  }
  let worst = -1;
  let worstExcess = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const excess = Number.isFinite(a)
      ? Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e))
      : Number.POSITIVE_INFINITY;
    if (excess > worstExcess || Number.isNaN(excess)) {
      worstExcess = Number.isNaN(excess) ? Number.POSITIVE_INFINITY : excess;
      worst = i;
    }
  }
  const ok = actual.length === 0 || worstExcess <= 0;
  const a = actual[worst] as number;
  const e = expected[worst] as number;
  return {
    ok,
    worstIndex: worst,
    actual: a,
    expected: e,
    excess: worstExcess,
    message: `worst element #${worst} of ${actual.length}: got ${a}, expected ${e}, |diff| ${Math.abs(a - e)} > ${tol.atol} + ${tol.rtol}*|e| by ${worstExcess}`,
  };
}

/** Throws with the worst element when `actual` is not close to `expected`. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  what = 'tensor',
): void {
  const r = compareClose(actual, expected, tol);
  if (!r.ok) throw new Error(`${what}: ${r.message}`);
}

/** Throws at the first differing element (for indices, which must match exactly). */
export function assertExact(actual: ArrayLike<number>, expected: ArrayLike<number>, what = 'indices'): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) throw new Error(`${what}: element #${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

/** Relative error max|a - e| / max|e| over a whole tensor (Infinity when the lengths differ). */
export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num = Math.max(num, Math.abs((actual[i] as number) - (expected[i] as number)));
    den = Math.max(den, Math.abs(expected[i] as number));
  }
  return actual.length === expected.length ? num / den : Number.POSITIVE_INFINITY;
}
