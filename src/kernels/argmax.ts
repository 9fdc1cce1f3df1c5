import shader from '../../shaders/argmax.wgsl?raw';
import { KernelInputError, type KernelSource, paramsSchema, type Recorder, type Tensor } from '../gpu';
import { expectDType, expectLive, leadingRows, splitGrid } from './common';
import { assembleShader } from './kernel-plan';

/** Invocations per workgroup (one workgroup per row). */
export const ARGMAX_WG = 256;

/** argmax's uniform struct (emitted into the WGSL as `struct Params`). */
const ARGMAX_PARAMS = paramsSchema([
  ['rows', 'u32', 'rows of x'],
  ['N', 'u32', 'entries per row'],
  ['k', 'u32', 'topk: entries to keep (1..16); argmax: 1'],
] as const);

/** Largest k of {@link topk}. */
export const TOPK_MAX = 16;

/** Entry points of the argmax family. */
export type ArgmaxEntry = 'argmax' | 'topk';

/** The pipeline source of one entry point of the argmax family. */
export function argmaxSource(entry: ArgmaxEntry): KernelSource {
  const code = assembleShader('argmax:f32', () => ({ prelude: '', params: ARGMAX_PARAMS, body: shader }));
  return { name: 'argmax', variant: 'f32', entryPoint: entry, code, constants: { WG: ARGMAX_WG } };
}

/** Every pipeline of the argmax family (for ahead-of-time compilation). */
export function argmaxSources(): KernelSource[] {
  return [argmaxSource('argmax'), argmaxSource('topk')];
}

function checkRows(kernel: string, x: Tensor): number {
  expectLive(kernel, x);
  expectDType(kernel, 'x', x, 'f32');
  if (x.shape.length < 1) throw new KernelInputError(kernel, `x must have rank >= 1, got ${x.toString()}`);
  const N = x.shape[x.shape.length - 1] as number;
  if (N < 1) throw new KernelInputError(kernel, `x must have at least one entry per row, got ${x.toString()}`);
  return N;
}

/**
 * Index of the largest entry of each row of x f32 [..., N]: u32 [...]. Ties go to the lower index; NaN ranks below
 * every number (-inf included), so it never wins over one; a row of only NaN gives 0. Greedy decoding over logits.
 */
export function argmax(rec: Recorder, x: Tensor): Tensor {
  const N = checkRows('argmax', x);
  const ctx = rec.ctx;
  const rows = leadingRows(x);
  const indices = ctx.empty(x.shape.slice(0, -1), 'u32', 'argmax.indices');
  const uniforms = ARGMAX_PARAMS.pack({ rows, N, k: 1 });
  rec.dispatch(argmaxSource('argmax'), uniforms, [x, indices], splitGrid(ctx, rows));
  return indices;
}

/** Result of {@link topk}. */
export interface TopK {
  /** f32 [..., k]: the k largest entries of each row, in descending order. */
  values: Tensor;
  /** u32 [..., k]: their indices. */
  indices: Tensor;
}

/**
 * The k largest entries of each row of x f32 [..., N] (1 <= k <= min(16, N)), sorted descending, ties to the lower
 * index, NaN below every number (as {@link argmax}). Beam search over log-probabilities.
 */
export function topk(rec: Recorder, x: Tensor, k: number): TopK {
  const kernel = 'topk';
  const N = checkRows(kernel, x);
  if (!Number.isInteger(k) || k < 1 || k > TOPK_MAX || k > N) {
    throw new KernelInputError(kernel, `k must be an integer in [1, min(${TOPK_MAX}, N = ${N})], got ${k}`);
  }
  const ctx = rec.ctx;
  const rows = leadingRows(x);
  const shape = [...x.shape.slice(0, -1), k];
  const indices = ctx.empty(shape, 'u32', 'topk.indices');
  const values = ctx.empty(shape, 'f32', 'topk.values');
  const uniforms = ARGMAX_PARAMS.pack({ rows, N, k });
  rec.dispatch(argmaxSource('topk'), uniforms, [x, indices, values], splitGrid(ctx, rows));
  return { values, indices };
}
