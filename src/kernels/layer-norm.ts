import shader from '../../shaders/layer_norm.wgsl?raw';
import { type GpuContext, KernelInputError, type KernelSource, paramsSchema, type Recorder, type Tensor } from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, leadingRows, splitGrid } from './common';
import { assembleShader, type EntrySpec, type KernelPlan, type ProfileTable } from './kernel-plan';
import { type WeightVariant, weightPrelude, weightVariant } from './weights';

/** Invocations per workgroup of `main` (one workgroup per row). */
export const LAYER_NORM_WG = 256;

/** layer_norm's uniform struct (emitted into the WGSL as `struct Params`). */
const LAYER_NORM_PARAMS = paramsSchema([
  ['rows', 'u32', 'rows of x and y'],
  ['D', 'u32', 'features per row'],
  ['eps', 'f32', 'added to the variance'],
] as const);

export type LayerNormEntry = 'main' | 'main_serial';

/** Each entry point's override constants and rows per workgroup. */
const LAYER_NORM_ENTRIES: Readonly<Record<LayerNormEntry, EntrySpec>> = {
  main: { constants: { WG: LAYER_NORM_WG }, cols: 1, rows: 1 },
  main_serial: { constants: { SERIAL_WG: 64 }, cols: 1, rows: 64 },
};

/**
 * The entry point per kernel profile: a workgroup per row (`main`) on GPUs, a thread per row without barriers
 * (`main_serial`) on CPU emulations.
 */
const LAYER_NORM_PROFILES: ProfileTable<'any', LayerNormEntry> = {
  gpu: { any: 'main' },
  emulated: { any: 'main_serial' },
};

/** Entry point, constants and grid of layer_norm over `rows` rows on `ctx`. */
export function layerNormPlan(ctx: GpuContext, rows: number): KernelPlan<LayerNormEntry> {
  const entry = LAYER_NORM_PROFILES[ctx.kernelProfile].any;
  const spec = LAYER_NORM_ENTRIES[entry];
  return { entry, constants: spec.constants, grid: splitGrid(ctx, ceilDiv(rows, spec.rows)) };
}

/** The pipeline source of layer_norm for a weight variant of gamma and beta and an entry point. */
export function layerNormSource(variant: WeightVariant, entry: LayerNormEntry): KernelSource {
  const code = assembleShader(`layer_norm:${variant}`, () => ({
    prelude: weightPrelude(variant, ['gamma', 'beta']),
    params: LAYER_NORM_PARAMS,
    includes: ['layerNormStats'],
    body: shader,
  }));
  return { name: 'layer_norm', variant, entryPoint: entry, code, constants: LAYER_NORM_ENTRIES[entry].constants };
}

/** Every layer_norm pipeline a model with `dtype` weights may use on `ctx` (for ahead-of-time compilation). */
export function layerNormSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  return [layerNormSource(weightVariant(ctx, dtype), layerNormPlan(ctx, 1).entry)];
}

/** Options of {@link layerNorm}. */
export interface LayerNormOptions {
  /** Write into this tensor instead of a new one (not x itself: the kernel does not work in place). */
  out?: Tensor;
}

/**
 * Layer normalisation over the last dimension, as PyTorch's `nn.LayerNorm(D, eps)`: y = (x - mean) / sqrt(var + eps)
 * · gamma + beta with the biased variance. x is f32 [..., D]; gamma and beta are [D], f32 or f16 (the same dtype).
 * Accumulates in f32 with two shifted passes, so rows with a large mean and a small variance stay accurate.
 */
export function layerNorm(
  rec: Recorder,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps = 1e-5,
  opts: LayerNormOptions = {},
): Tensor {
  const kernel = 'layer_norm';
  const out = opts.out;
  expectLive(kernel, x, gamma, beta, ...(out ? [out] : []));
  expectDType(kernel, 'x', x, 'f32');
  expectDType(kernel, 'gamma', gamma, 'f32', 'f16');
  expectRank(kernel, 'gamma', gamma, 1);
  expectRank(kernel, 'beta', beta, 1);
  if (x.shape.length < 1) throw new KernelInputError(kernel, `x must have rank >= 1, got ${x.toString()}`);
  const D = x.shape[x.shape.length - 1] as number;
  if (D < 1) throw new KernelInputError(kernel, `x must have at least one feature, got ${x.toString()}`);
  if (gamma.shape[0] !== D || beta.shape[0] !== D) {
    throw new KernelInputError(
      kernel,
      `gamma ${gamma.toString()} and beta ${beta.toString()} must be [${D}] for x ${x.toString()}`,
    );
  }
  if (beta.dtype !== gamma.dtype) {
    throw new KernelInputError(kernel, `beta must have gamma's dtype ${gamma.dtype}, got ${beta.dtype}`);
  }
  if (!(Number.isFinite(eps) && eps >= 0))
    throw new KernelInputError(kernel, `eps must be finite and >= 0, got ${eps}`);
  if (out) {
    expectDType(kernel, 'out', out, 'f32');
    if (out.size !== x.size) throw new KernelInputError(kernel, `out ${out.toString()} must hold ${x.size} elements`);
    if (out.buffer === x.buffer) {
      throw new KernelInputError(kernel, 'out must not be x: layer_norm does not work in place; pass another tensor');
    }
  }
  const ctx = rec.ctx;
  const rows = leadingRows(x);
  const y = out ?? ctx.empty(x.shape, 'f32', 'layer_norm.y');
  const plan = layerNormPlan(ctx, rows);
  const uniforms = LAYER_NORM_PARAMS.pack({ rows, D, eps });
  rec.dispatch(layerNormSource(weightVariant(ctx, gamma.dtype), plan.entry), uniforms, [x, gamma, beta, y], plan.grid);
  return y;
}
