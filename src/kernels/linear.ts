import shader from '../../shaders/linear.wgsl?raw';
import { type GpuContext, KernelInputError, type KernelSource, paramsSchema, type Recorder, type Tensor } from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, expectShape, leadingRows, placeholder } from './common';
import { assembleShader, type EntrySpec, type KernelPlan, type ProfileTable } from './kernel-plan';
import { mixedWeightPrelude, type WeightVariant, weightVariant } from './weights';

/**
 * Rows at or below which the few-rows entry points are used (8 rows per workgroup): measured on lavapipe `main_rows`
 * beats the 64x64 tile up to 32 rows (bench:kernels, 16 rows: 4x faster), where most of a 64-row tile would be wasted.
 */
export const LINEAR_ROWS_MAX = 32;

/** Flag bits of linear's `flags` uniform (emitted into the WGSL as FLAG_BIAS, ...). */
export const LINEAR_FLAGS = { BIAS: 1, RELU: 2, SCALE: 4, ACCUMULATE: 8, NORM: 16 } as const;

/** linear's uniform struct (emitted into the WGSL as `struct Params`). */
const LINEAR_PARAMS = paramsSchema([
  ['M', 'u32', 'rows of x and y'],
  ['N', 'u32', 'output features'],
  ['K', 'u32', 'input features'],
  ['flags', 'u32', 'FLAG_* bits'],
  ['y_offset', 'u32', 'element offset of y(0, 0)'],
  ['y_stride', 'u32', 'elements between rows of y (N when y is a plain [M, N] tensor)'],
  ['ln_eps', 'f32', 'layer-norm epsilon (FLAG_NORM)'],
] as const);

/** Output columns per workgroup of `main_rows` (ROW_COLS in the GEMM core): 256 threads, 8 lanes per column. */
const ROW_COLS = 32;

export type LinearEntry = 'main' | 'main_rows' | 'main_cols';

/** Each entry point's override constants and output tile (columns x rows per workgroup). */
const LINEAR_ENTRIES: Readonly<Record<LinearEntry, EntrySpec>> = {
  main: { constants: { TR: 4 }, cols: 64, rows: 64 },
  main_rows: { constants: {}, cols: ROW_COLS, rows: 8 },
  main_cols: { constants: { COLS_WG: 64 }, cols: 64, rows: 8 },
};

/**
 * The entry point for up to {@link LINEAR_ROWS_MAX} rows (`few`) and for more (`many`) per kernel profile: on GPUs
 * `main_rows` (8 lanes per column, a workgroup reduction) and the tiled `main`; on CPU emulations `main_cols` (a thread
 * per column, no barriers) for any row count, which on SwiftShader made a decode step 15x faster (npm run
 * bench:step:browser: linear went from ~4 ms to ~0.2 ms per workgroup).
 */
const LINEAR_PROFILES: ProfileTable<'few' | 'many', LinearEntry> = {
  gpu: { few: 'main_rows', many: 'main' },
  emulated: { few: 'main_cols', many: 'main_cols' },
};

/** Entry point, constants and grid of linear for M rows and N output columns on `ctx`. */
export function linearPlan(ctx: GpuContext, M: number, N: number): KernelPlan<LinearEntry> {
  let entry = LINEAR_PROFILES[ctx.kernelProfile][M <= LINEAR_ROWS_MAX ? 'few' : 'many'];
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  // Past the grid limit of an 8-row entry point, the tiled `main` takes over (compiled then).
  if (entry !== 'main' && ceilDiv(M, LINEAR_ENTRIES[entry].rows) > max) entry = 'main';
  const spec = LINEAR_ENTRIES[entry];
  return { entry, constants: spec.constants, grid: [ceilDiv(N, spec.cols), ceilDiv(M, spec.rows)] };
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
  const code = assembleShader(`linear:${name}`, () => ({
    prelude: mixedWeightPrelude([
      ['w', variant],
      ['b', biasVariant],
      ['g', normVariant],
      ['gb', normVariant],
    ]),
    params: LINEAR_PARAMS,
    flags: LINEAR_FLAGS,
    consts: { ROW_COLS },
    includes: ['gemm', 'layerNormStats'],
    body: shader,
  }));
  return { name: 'linear', variant: name, entryPoint: entry, code, constants: LINEAR_ENTRIES[entry].constants };
}

/**
 * Every linear pipeline a model with `dtype` weights may use on `ctx` (for ahead-of-time compilation): the entry
 * points {@link linearPlan} picks for few and for many rows, with biases of the weights' dtype and with f32 biases
 * (extracted task sub-networks).
 */
export function linearSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  const v = weightVariant(ctx, dtype);
  const entries = [...new Set([linearPlan(ctx, 1, 1).entry, linearPlan(ctx, LINEAR_ROWS_MAX + 1, 1).entry])];
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
  const plan = linearPlan(ctx, M, N);
  const F = LINEAR_FLAGS;
  const uniforms = LINEAR_PARAMS.pack({
    M,
    N,
    K,
    flags:
      (b ? F.BIAS : 0) |
      (opts.relu ? F.RELU : 0) |
      (scale ? F.SCALE : 0) |
      (opts.accumulate ? F.ACCUMULATE : 0) |
      (norm ? F.NORM : 0),
    y_offset: yOffset,
    y_stride: yStride,
    ln_eps: norm?.eps ?? 0,
  });
  const biasVariant = b ? weightVariant(ctx, b.dtype) : variant;
  const normVariant = norm ? weightVariant(ctx, norm.gamma.dtype) : variant;
  const tensors = [x, w, b ?? placeholder(ctx, w.dtype), y, scale ?? placeholder(ctx, 'f32')];
  // Only the few-rows entry points bind the layer-norm parameters (pipeline layouts are derived from the shader).
  if (plan.entry !== 'main')
    tensors.push(norm?.gamma ?? placeholder(ctx, w.dtype), norm?.beta ?? placeholder(ctx, w.dtype));
  try {
    rec.dispatch(linearSource(variant, plan.entry, biasVariant, normVariant), uniforms, tensors, plan.grid);
  } catch (e) {
    if (!out) y.dispose();
    throw e;
  }
  return y;
}
