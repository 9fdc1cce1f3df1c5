import code from '../../shaders/linear.wgsl?raw';
import {
  type GpuContext,
  KernelInputError,
  type KernelSource,
  type Recorder,
  type Tensor,
  UniformBuilder,
} from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, leadingRows, placeholder } from './common';
import { mixedWeightPrelude, type WeightVariant, weightVariant } from './weights';

/**
 * Rows at or below which the row-split entry point is used (8 rows per workgroup): measured on lavapipe it beats the
 * 64x64 tile up to 32 rows (bench:kernels, 16 rows: 4x faster), where most of a 64-row tile would be wasted.
 */
export const LINEAR_ROWS_MAX = 32;

/** Rows one workgroup of `main_rows` computes (ROWS in shaders/linear.wgsl). */
const ROWS_PER_GROUP = 8;

export type LinearEntry = 'main' | 'main_rows';

/** The pipeline source of linear for weight and bias variants (the bias defaults to the weight's) and an entry point. */
export function linearSource(
  variant: WeightVariant,
  entry: LinearEntry,
  biasVariant: WeightVariant = variant,
): KernelSource {
  return {
    name: 'linear',
    variant: biasVariant === variant ? variant : `${variant}+b${biasVariant}`,
    entryPoint: entry,
    code:
      mixedWeightPrelude([
        ['w', variant],
        ['b', biasVariant],
      ]) + code,
  };
}

/**
 * Every linear pipeline a model with `dtype` weights may use on `ctx` (for ahead-of-time compilation): biases of the
 * weights' dtype, and f32 biases (extracted task sub-networks).
 */
export function linearSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  const v = weightVariant(ctx, dtype);
  const out = [linearSource(v, 'main'), linearSource(v, 'main_rows')];
  if (v !== 'f32') out.push(linearSource(v, 'main', 'f32'), linearSource(v, 'main_rows', 'f32'));
  return out;
}

export interface LinearOptions {
  /** Apply ReLU after the bias. */
  relu?: boolean;
  /** With a stacked weight [E, N, K] (and bias [E, N]): which of the E matrices to use. */
  index?: number;
  /** f32 [N] (or [E, N] with `index`): multiply each output column after the activation. */
  scale?: Tensor;
  /** Write into this tensor instead of a new one. */
  out?: Tensor;
}

/**
 * y[..., N] = act(x[..., K] · wᵀ + b), w [N, K] (or [E, N, K] with `index`), b [N] (or [E, N]) or null.
 * x is f32; w and b are f32 or f16 (packed or native, chosen from the device's features).
 */
export function linear(rec: Recorder, x: Tensor, w: Tensor, b: Tensor | null, opts: LinearOptions = {}): Tensor {
  const kernel = 'linear';
  expectLive(kernel, x, w, ...(b ? [b] : []));
  expectDType(kernel, 'x', x, 'f32');
  expectDType(kernel, 'w', w, 'f32', 'f16');
  expectRank(kernel, 'w', w, 2, 3);
  if (x.shape.length < 1) throw new KernelInputError(kernel, `x must have rank >= 1, got ${x.toString()}`);
  const stacked = w.shape.length === 3;
  const N = w.shape[stacked ? 1 : 0] as number;
  const K = w.shape[stacked ? 2 : 1] as number;
  const index = opts.index ?? 0;
  if (
    stacked &&
    (opts.index === undefined || index < 0 || index >= (w.shape[0] as number) || !Number.isInteger(index))
  ) {
    throw new KernelInputError(kernel, `a stacked weight ${w.toString()} needs an integer index in [0, ${w.shape[0]})`);
  }
  if (!stacked && opts.index !== undefined && opts.index !== 0) {
    throw new KernelInputError(kernel, `index ${opts.index} given for an unstacked weight ${w.toString()}`);
  }
  if (x.shape[x.shape.length - 1] !== K) {
    throw new KernelInputError(
      kernel,
      `x ${x.toString()} has ${x.shape[x.shape.length - 1]} features, w ${w.toString()} expects ${K}`,
    );
  }
  if (b) {
    expectDType(kernel, 'b', b, 'f32', 'f16');
    const expect = stacked ? [w.shape[0], N] : [N];
    if (b.shape.length !== expect.length || b.shape.some((d, i) => d !== expect[i])) {
      throw new KernelInputError(kernel, `b must be [${expect.join(', ')}], got ${b.toString()}`);
    }
  }
  const scale = opts.scale;
  if (scale) {
    expectLive(kernel, scale);
    expectDType(kernel, 'scale', scale, 'f32');
    const expect = stacked ? [w.shape[0], N] : [N];
    if (scale.shape.length !== expect.length || scale.shape.some((d, i) => d !== expect[i])) {
      throw new KernelInputError(kernel, `scale must be [${expect.join(', ')}], got ${scale.toString()}`);
    }
  }
  const M = leadingRows(x);
  const outShape = [...x.shape.slice(0, -1), N];
  const ctx = rec.ctx;
  if (opts.out) {
    expectDType(kernel, 'out', opts.out, 'f32');
    if (opts.out.size !== M * N)
      throw new KernelInputError(kernel, `out ${opts.out.toString()} must hold [${outShape.join(', ')}]`);
  }
  const y = opts.out ?? ctx.empty(outShape, 'f32', 'linear.y');
  const variant = weightVariant(ctx, w.dtype);
  const entry: LinearEntry = M <= LINEAR_ROWS_MAX ? 'main_rows' : 'main';
  const uniforms = new UniformBuilder()
    .u32(M)
    .u32(N)
    .u32(K)
    .u32((b ? 1 : 0) | (opts.relu ? 2 : 0) | (scale ? 4 : 0))
    .u32(index * N * K)
    .u32(index * N)
    .u32(index * N)
    .build();
  const grid =
    entry === 'main_rows'
      ? ([ceilDiv(N, 32), ceilDiv(M, ROWS_PER_GROUP)] as const)
      : ([ceilDiv(N, 64), ceilDiv(M, 64)] as const);
  const biasVariant = b ? weightVariant(ctx, b.dtype) : variant;
  rec.dispatch(
    linearSource(variant, entry, biasVariant),
    uniforms,
    [x, w, b ?? placeholder(ctx, w.dtype), y, scale ?? placeholder(ctx, 'f32')],
    grid,
  );
  return y;
}
