import shader from '../../shaders/combine.wgsl?raw';
import { KernelInputError, type KernelSource, paramsSchema, type Recorder, type Tensor } from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, placeholder, splitGrid } from './common';
import type { DispatchPlan } from './dispatch';
import { assembleShader } from './kernel-plan';

/** Threads per combine workgroup (WG in the shader). */
const COMBINE_WG = 256;

/** Flag bits of combine's `flags` uniform (emitted into the WGSL as FLAG_RESIDUAL, FLAG_IN_PLACE). */
export const COMBINE_FLAGS = { RESIDUAL: 1, IN_PLACE: 2 } as const;

/** combine's uniform struct (emitted into the WGSL as `struct Params`). */
const COMBINE_PARAMS = paramsSchema([
  ['N', 'u32', 'tokens'],
  ['D', 'u32', 'features'],
  ['k', 'u32', 'choices per token'],
  [
    'flags',
    'u32',
    'FLAG_RESIDUAL: add `residual`; FLAG_IN_PLACE: add the previous contents of y (residual given as out)',
  ],
  ['groups_x', 'u32', 'workgroups along x: element = (wid.y * groups_x + wid.x) * WG + lid'],
] as const);

/** The pipeline source of combine (no variants: everything is f32). */
export function combineSource(): KernelSource {
  const code = assembleShader('combine:f32', () => ({
    prelude: '',
    params: COMBINE_PARAMS,
    flags: COMBINE_FLAGS,
    consts: { WG: COMBINE_WG },
    body: shader,
  }));
  return { name: 'combine', variant: 'f32', code };
}

/** Every combine pipeline (for ahead-of-time compilation). */
export function combineSources(): KernelSource[] {
  return [combineSource()];
}

/** Options of {@link moeCombine}. */
export interface CombineOptions {
  /** f32 [N, D] added to the result (the layer's residual). May be the same tensor as `out` (in-place add). */
  residual?: Tensor;
  /** Write into this f32 [N, D] tensor instead of a new one. */
  out?: Tensor;
}

/**
 * y[n] = residual[n] + Σ_j weights[n, j] · expertOut[slotOf[n*k + j]], skipping dropped assignments (a token with
 * every assignment dropped gets just the residual). expertOut: f32 [N*k, D] by slot; weights: f32 [N, k].
 * Returns f32 [N, D].
 */
export function moeCombine(
  rec: Recorder,
  expertOut: Tensor,
  plan: DispatchPlan,
  weights: Tensor,
  opts: CombineOptions = {},
): Tensor {
  const kernel = 'combine';
  const { N, k } = plan;
  expectLive(kernel, expertOut, weights, plan.slotOf);
  expectDType(kernel, 'expertOut', expertOut, 'f32');
  expectRank(kernel, 'expertOut', expertOut, 2);
  const D = expertOut.shape[1] as number;
  if (expertOut.shape[0] !== N * k) {
    throw new KernelInputError(kernel, `expertOut must have N*k = ${N * k} rows, got ${expertOut.toString()}`);
  }
  expectDType(kernel, 'weights', weights, 'f32');
  if (weights.shape.length !== 2 || weights.shape[0] !== N || weights.shape[1] !== k) {
    throw new KernelInputError(kernel, `weights must be [${N}, ${k}], got ${weights.toString()}`);
  }
  const checkND = (what: string, t: Tensor) => {
    expectLive(kernel, t);
    expectDType(kernel, what, t, 'f32');
    if (t.shape.length !== 2 || t.shape[0] !== N || t.shape[1] !== D) {
      throw new KernelInputError(kernel, `${what} must be [${N}, ${D}], got ${t.toString()}`);
    }
  };
  if (opts.residual) checkND('residual', opts.residual);
  if (opts.out) checkND('out', opts.out);
  if (opts.out && opts.out === expertOut) throw new KernelInputError(kernel, 'out must not be expertOut');
  const ctx = rec.ctx;
  const y = opts.out ?? ctx.empty([N, D], 'f32', 'combine.y');
  const inPlace = opts.residual !== undefined && opts.residual === y;
  const flags = inPlace ? COMBINE_FLAGS.IN_PLACE : opts.residual ? COMBINE_FLAGS.RESIDUAL : 0;
  const grid = splitGrid(ctx, ceilDiv(N * D, COMBINE_WG));
  const uniforms = COMBINE_PARAMS.pack({ N, D, k, flags, groups_x: grid[0] });
  const residual = opts.residual && !inPlace ? opts.residual : placeholder(ctx, 'f32');
  rec.dispatch(combineSource(), uniforms, [expertOut, plan.slotOf, weights, residual, y], grid);
  return y;
}
