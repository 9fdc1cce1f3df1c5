import code from '../../shaders/layer_norm.wgsl?raw';
import {
  type GpuContext,
  KernelInputError,
  type KernelProfile,
  type KernelSource,
  type Recorder,
  type Tensor,
  UniformBuilder,
} from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, leadingRows, splitGrid } from './common';
import { type WeightVariant, weightPrelude, weightVariant } from './weights';

/** Invocations per workgroup (one workgroup per row). */
export const LAYER_NORM_WG = 256;

/** Rows per workgroup of `main_serial` (one thread per row; the 'emulated' kernel profile). */
const SERIAL_ROWS = 64;

/**
 * The pipeline source of layer_norm for a weight variant of gamma and beta: a workgroup per row (`main`), or a
 * thread per row without barriers (`main_serial`, the 'emulated' kernel profile).
 */
export function layerNormSource(variant: WeightVariant, profile: KernelProfile = 'gpu'): KernelSource {
  const shader = weightPrelude(variant, ['gamma', 'beta']) + code;
  if (profile === 'emulated') return { name: 'layer_norm', variant, entryPoint: 'main_serial', code: shader };
  return { name: 'layer_norm', variant, code: shader, constants: { WG: LAYER_NORM_WG } };
}

/** Every layer_norm pipeline a model with `dtype` weights may use on `ctx` (for ahead-of-time compilation). */
export function layerNormSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  return [layerNormSource(weightVariant(ctx, dtype), ctx.kernelProfile)];
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
  const uniforms = new UniformBuilder().u32(rows).u32(D).f32(eps).build();
  const src = layerNormSource(weightVariant(ctx, gamma.dtype), ctx.kernelProfile);
  const groups = src.entryPoint === 'main_serial' ? ceilDiv(rows, SERIAL_ROWS) : rows;
  rec.dispatch(src, uniforms, [x, gamma, beta, y], splitGrid(ctx, groups));
  return y;
}
