import code from '../../shaders/linear.wgsl?raw';
import {
  type GpuContext,
  KernelInputError,
  type KernelSource,
  type Recorder,
  type Tensor,
  UniformBuilder,
} from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, expectShape, leadingRows, placeholder } from './common';
import { mixedWeightPrelude, type WeightVariant, weightVariant } from './weights';

/**
 * Rows at or below which the row-split entry point is used (8 rows per workgroup): measured on lavapipe it beats the
 * 64x64 tile up to 32 rows (bench:kernels, 16 rows: 4x faster), where most of a 64-row tile would be wasted.
 */
export const LINEAR_ROWS_MAX = 32;

/** Rows one workgroup of `main_rows` computes (ROWS in shaders/linear.wgsl). */
const ROWS_PER_GROUP = 8;

export type LinearEntry = 'main' | 'main_rows' | 'main_cols';

/**
 * The entry point for up to {@link LINEAR_ROWS_MAX} rows: `main_rows` (8 lanes per column, a workgroup reduction) on
 * GPUs; `main_cols` (a thread per column, no barriers) on CPU emulations, where on SwiftShader it made a decode step
 * 15x faster (npm run bench:step:browser: linear went from ~4 ms to ~0.2 ms per workgroup).
 */
function rowsEntry(ctx: GpuContext): LinearEntry {
  return ctx.kernelProfile === 'emulated' ? 'main_cols' : 'main_rows';
}

/**
 * The pipeline source of linear for weight, bias and layer-norm parameter variants (both default to the weight's) and
 * an entry point.
 */
export function linearSource(
  variant: WeightVariant,
  entry: LinearEntry,
  biasVariant: WeightVariant = variant,
  normVariant: WeightVariant = variant,
): KernelSource {
  let name: string = variant;
  if (biasVariant !== variant) name += `+b${biasVariant}`;
  if (normVariant !== variant) name += `+g${normVariant}`;
  return {
    name: 'linear',
    variant: name,
    entryPoint: entry,
    code:
      mixedWeightPrelude([
        ['w', variant],
        ['b', biasVariant],
        ['g', normVariant],
        ['gb', normVariant],
      ]) + code,
  };
}

/**
 * Every linear pipeline a model with `dtype` weights may use on `ctx` (for ahead-of-time compilation): biases of the
 * weights' dtype, and f32 biases (extracted task sub-networks).
 */
export function linearSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  const v = weightVariant(ctx, dtype);
  // CPU emulations use `main_cols` for every row count (the tiled `main` only past the grid limit: compiled then).
  const entries: LinearEntry[] = ctx.kernelProfile === 'emulated' ? ['main_cols'] : ['main', 'main_rows'];
  const out = entries.map((e) => linearSource(v, e));
  if (v !== 'f32') out.push(...entries.map((e) => linearSource(v, e, 'f32')));
  return out;
}

export interface LinearOptions {
  /** Apply ReLU after the bias. */
  relu?: boolean;
  /** f32 [N]: multiply each output column after the activation. */
  scale?: Tensor;
  /** Write into this tensor instead of a new one. */
  out?: Tensor;
  /** Add the result to `out` (a fused residual connection) instead of overwriting it. Needs `out`. */
  accumulate?: boolean;
  /**
   * Where row m of the result goes in `out`: elements offset + m·rowStride .. + N (default: a plain [M, N] tensor).
   * Lets a decode step's k/v projections write straight into their KV-cache slot. Needs `out`.
   */
  outLayout?: OutLayout;
  /**
   * Layer-normalise each row of x first (fused: no normalised copy of x is written). Only up to
   * {@link LINEAR_ROWS_MAX} rows; {@link canFuseNorm} says whether a shape qualifies.
   */
  norm?: LinearNorm;
}

/** Placement of a linear's output rows inside a larger tensor (element units). */
export interface OutLayout {
  offset: number;
  rowStride: number;
}

/** A LayerNorm applied to x's rows inside linear: gamma and beta [K], f32 or f16. */
export interface LinearNorm {
  gamma: Tensor;
  beta: Tensor;
  eps: number;
}

/** Whether linear can fuse a layer norm into an x with `rows` rows (the row-split entry point only). */
export function canFuseNorm(rows: number): boolean {
  return rows <= LINEAR_ROWS_MAX;
}

/**
 * y[..., N] = act(LN?(x)[..., K] · wᵀ + b) (+ y when accumulating), w [N, K], b [N] or null.
 * x is f32; w and b are f32 or f16 (packed or native, chosen from the device's features).
 */
export function linear(rec: Recorder, x: Tensor, w: Tensor, b: Tensor | null, opts: LinearOptions = {}): Tensor {
  const kernel = 'linear';
  expectLive(kernel, x, w, ...(b ? [b] : []));
  expectDType(kernel, 'x', x, 'f32');
  expectDType(kernel, 'w', w, 'f32', 'f16');
  expectRank(kernel, 'w', w, 2);
  if (x.shape.length < 1) throw new KernelInputError(kernel, `x must have rank >= 1, got ${x.toString()}`);
  const [N, K] = w.shape as [number, number];
  if (x.shape[x.shape.length - 1] !== K) {
    throw new KernelInputError(
      kernel,
      `x ${x.toString()} has ${x.shape[x.shape.length - 1]} features, w ${w.toString()} expects ${K}`,
    );
  }
  if (b) {
    expectDType(kernel, 'b', b, 'f32', 'f16');
    expectShape(kernel, 'b', b, [N]);
  }
  const scale = opts.scale;
  if (scale) {
    expectLive(kernel, scale);
    expectDType(kernel, 'scale', scale, 'f32');
    expectShape(kernel, 'scale', scale, [N]);
  }
  const M = leadingRows(x);
  const outShape = [...x.shape.slice(0, -1), N];
  const ctx = rec.ctx;
  const { out, outLayout, norm } = opts;
  if ((opts.accumulate || outLayout) && !out) {
    throw new KernelInputError(kernel, 'accumulate and outLayout need an out tensor');
  }
  let yOffset = 0;
  let yStride = N;
  if (out) {
    expectLive(kernel, out);
    expectDType(kernel, 'out', out, 'f32');
    if (outLayout) {
      const { offset, rowStride } = outLayout;
      if (!Number.isInteger(offset) || !Number.isInteger(rowStride) || offset < 0 || rowStride < N) {
        throw new KernelInputError(kernel, `outLayout needs integers offset >= 0, rowStride >= ${N}`);
      }
      if (offset + (M - 1) * rowStride + N > out.size) {
        throw new KernelInputError(kernel, `outLayout places ${M} rows of ${N} past the end of out ${out.toString()}`);
      }
      yOffset = offset;
      yStride = rowStride;
    } else if (out.size !== M * N) {
      throw new KernelInputError(kernel, `out ${out.toString()} must hold [${outShape.join(', ')}]`);
    }
    if (out.buffer === x.buffer) throw new KernelInputError(kernel, 'out must not share a buffer with x');
  }
  if (norm) {
    if (!canFuseNorm(M)) {
      throw new KernelInputError(kernel, `a fused layer norm serves at most ${LINEAR_ROWS_MAX} rows, got ${M}`);
    }
    expectLive(kernel, norm.gamma, norm.beta);
    for (const [name, t] of [
      ['norm.gamma', norm.gamma],
      ['norm.beta', norm.beta],
    ] as const) {
      expectDType(kernel, name, t, 'f32', 'f16');
      if (t.shape.length !== 1 || t.shape[0] !== K) {
        throw new KernelInputError(kernel, `${name} must be [${K}], got ${t.toString()}`);
      }
    }
    if (norm.gamma.dtype !== norm.beta.dtype) {
      throw new KernelInputError(kernel, 'norm.gamma and norm.beta must have one dtype');
    }
    if (!Number.isFinite(norm.eps) || norm.eps <= 0) {
      throw new KernelInputError(kernel, `norm.eps must be positive, got ${norm.eps}`);
    }
  }
  const y = out ?? ctx.empty(outShape, 'f32', 'linear.y');
  const variant = weightVariant(ctx, w.dtype);
  // CPU emulations take the barrier-free `main_cols` for any row count (its grid has ceil(M / 8) rows of groups).
  const cols =
    ctx.kernelProfile === 'emulated' && ceilDiv(M, ROWS_PER_GROUP) <= ctx.limits.maxComputeWorkgroupsPerDimension;
  const entry: LinearEntry = M <= LINEAR_ROWS_MAX || cols ? rowsEntry(ctx) : 'main';
  const uniforms = new UniformBuilder()
    .u32(M)
    .u32(N)
    .u32(K)
    .u32((b ? 1 : 0) | (opts.relu ? 2 : 0) | (scale ? 4 : 0) | (opts.accumulate ? 8 : 0) | (norm ? 16 : 0))
    .u32(0)
    .u32(0)
    .u32(0)
    .u32(yOffset)
    .u32(yStride)
    .f32(norm?.eps ?? 0)
    .u32(0)
    .u32(0)
    .build();
  const grid =
    entry === 'main_cols'
      ? ([ceilDiv(N, 64), ceilDiv(M, ROWS_PER_GROUP)] as const)
      : entry === 'main_rows'
        ? ([ceilDiv(N, 32), ceilDiv(M, ROWS_PER_GROUP)] as const)
        : ([ceilDiv(N, 64), ceilDiv(M, 64)] as const);
  const biasVariant = b ? weightVariant(ctx, b.dtype) : variant;
  const normVariant = norm ? weightVariant(ctx, norm.gamma.dtype) : variant;
  const tensors = [x, w, b ?? placeholder(ctx, w.dtype), y, scale ?? placeholder(ctx, 'f32')];
  // Only the few-rows entry points bind the layer-norm parameters (pipeline layouts are derived from the shader).
  if (entry !== 'main') tensors.push(norm?.gamma ?? placeholder(ctx, w.dtype), norm?.beta ?? placeholder(ctx, w.dtype));
  try {
    rec.dispatch(linearSource(variant, entry, biasVariant, normVariant), uniforms, tensors, grid);
  } catch (e) {
    if (!out) y.dispose();
    throw e;
  }
  return y;
}
