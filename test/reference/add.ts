/** CPU reference of add: y = a + b in f64. */
export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = (a[i] as number) + (b[i] as number);
  return y;
}
