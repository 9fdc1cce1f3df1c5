import { type DType, type GpuContext, KernelInputError, type Tensor } from '../gpu';

const dummies = new WeakMap<GpuContext, Map<DType, Tensor>>();

/** A 4-byte placeholder tensor bound where an optional input is absent (the shader's flags say not to read it). */
export function placeholder(ctx: GpuContext, dtype: DType): Tensor {
  let m = dummies.get(ctx);
  if (!m) {
    m = new Map();
    dummies.set(ctx, m);
  }
  let t = m.get(dtype);
  if (!t || t.isDisposed) {
    t = ctx.createWeight([0], [1], dtype, `placeholder-${dtype}`);
    m.set(dtype, t);
  }
  return t;
}

/** Throws unless `t` has dtype `dtype`. */
export function expectDType(kernel: string, what: string, t: Tensor, ...dtypes: DType[]): void {
  if (!dtypes.includes(t.dtype)) {
    throw new KernelInputError(kernel, `${what} must be ${dtypes.join(' or ')}, got ${t.dtype} ${t.toString()}`);
  }
}

/** Throws unless `t` has exactly `rank` dimensions. */
export function expectRank(kernel: string, what: string, t: Tensor, ...ranks: number[]): void {
  if (!ranks.includes(t.shape.length)) {
    throw new KernelInputError(kernel, `${what} must have rank ${ranks.join(' or ')}, got ${t.toString()}`);
  }
}

/** Throws unless `t.shape[axis] === n`. */
export function expectDim(kernel: string, what: string, t: Tensor, axis: number, n: number): void {
  const d = t.shape[axis < 0 ? t.shape.length + axis : axis];
  if (d !== n) throw new KernelInputError(kernel, `${what} must have ${n} at axis ${axis}, got ${t.toString()}`);
}

/** Throws unless `t` has exactly the shape `shape`. */
export function expectShape(kernel: string, what: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new KernelInputError(kernel, `${what} must be [${shape.join(', ')}], got ${t.toString()}`);
  }
}

/** Throws unless `t` is live. */
export function expectLive(kernel: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.isDisposed) throw new KernelInputError(kernel, `tensor ${t.toString()} was disposed`);
}

/** Product of all dimensions but the last. */
export function leadingRows(t: Tensor): number {
  let n = 1;
  for (let i = 0; i < t.shape.length - 1; i++) n *= t.shape[i] as number;
  return n;
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

/**
 * A grid of at least `groups` workgroups within maxComputeWorkgroupsPerDimension: [groups, 1] when it fits, else
 * [x, y] with x * y >= groups. The shader recovers the linear workgroup id as `wid.y * num_workgroups.x + wid.x` and
 * returns when it is >= the count it needs; that id is uniform within a workgroup, so barriers after the return stay
 * in uniform control flow.
 */
export function splitGrid(
  ctx: GpuContext,
  groups: number,
  max = ctx.limits.maxComputeWorkgroupsPerDimension,
): [number, number] {
  if (groups <= max) return [groups, 1];
  const y = ceilDiv(groups, max);
  return [ceilDiv(groups, y), y];
}
