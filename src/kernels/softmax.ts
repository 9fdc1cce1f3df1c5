import shader from '../../shaders/softmax.wgsl?raw';
import { KernelInputError, type KernelSource, paramsSchema, type Recorder, type Tensor } from '../gpu';
import { expectDType, expectLive, leadingRows, splitGrid } from './common';
import { assembleShader } from './kernel-plan';

/** Invocations per workgroup (one workgroup per row). */
export const SOFTMAX_WG = 256;

/** Flag bits of softmax's `flags` uniform (emitted into the WGSL as FLAG_LOG). */
export const SOFTMAX_FLAGS = { LOG: 1 } as const;

/** softmax's uniform struct (emitted into the WGSL as `struct Params`). */
const SOFTMAX_PARAMS = paramsSchema([
  ['rows', 'u32', 'rows of x and y'],
  ['N', 'u32', 'entries per row'],
  ['flags', 'u32', 'FLAG_LOG: log-softmax'],
  ['neg_inf', 'f32', '-inf, passed in because a WGSL constant expression cannot be infinite'],
] as const);

/** The pipeline source of softmax (softmax and log-softmax share it: a uniform flag chooses). */
export function softmaxSource(): KernelSource {
  const code = assembleShader('softmax:f32', () => ({
    prelude: '',
    params: SOFTMAX_PARAMS,
    flags: SOFTMAX_FLAGS,
    body: shader,
  }));
  return { name: 'softmax', variant: 'f32', code, constants: { WG: SOFTMAX_WG } };
}

/** Every softmax pipeline (for ahead-of-time compilation). */
export function softmaxSources(): KernelSource[] {
  return [softmaxSource()];
}

/** Options of {@link softmax}. */
export interface SoftmaxOptions {
  /** Log-softmax instead of softmax (beam search scores). */
  log?: boolean;
}

/**
 * Row-wise softmax (or log-softmax) over the last dimension of an f32 tensor [..., N], max-subtracted, in f32.
 * -inf entries (masked logits) give probability 0 (log-probability -inf); a row of only -inf gives NaN, as PyTorch.
 */
export function softmax(rec: Recorder, x: Tensor, opts: SoftmaxOptions = {}): Tensor {
  const kernel = 'softmax';
  expectLive(kernel, x);
  expectDType(kernel, 'x', x, 'f32');
  if (x.shape.length < 1) throw new KernelInputError(kernel, `x must have rank >= 1, got ${x.toString()}`);
  const N = x.shape[x.shape.length - 1] as number;
  if (N < 1) throw new KernelInputError(kernel, `x must have at least one entry per row, got ${x.toString()}`);
  const ctx = rec.ctx;
  const rows = leadingRows(x);
  const y = ctx.empty(x.shape, 'f32', opts.log ? 'log_softmax.y' : 'softmax.y');
  const uniforms = SOFTMAX_PARAMS.pack({
    rows,
    N,
    flags: opts.log ? SOFTMAX_FLAGS.LOG : 0,
    neg_inf: Number.NEGATIVE_INFINITY,
  });
  rec.dispatch(softmaxSource(), uniforms, [x, y], splitGrid(ctx, rows));
  return y;
}
