import code from '../../shaders/combine.wgsl?raw';
import { KernelInputError, type KernelSource, type Recorder, type Tensor, UniformBuilder } from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, placeholder, splitGrid } from './common';
import type { DispatchPlan } from './dispatch';

/** Threads per combine workgroup; matches `WG` in shaders/combine.wgsl. */
const COMBINE_WG = 256;

/** The pipeline source of combine (no variants: everything is f32). */
export function combineSource(): KernelSource {
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
  const flags = inPlace ? 2 : opts.residual ? 1 : 0;
  const grid = splitGrid(ctx, ceilDiv(N * D, COMBINE_WG));
  const uniforms = new UniformBuilder().u32(N).u32(D).u32(k).u32(flags).u32(grid[0]).build();
  const residual = opts.residual && !inPlace ? opts.residual : placeholder(ctx, 'f32');
  rec.dispatch(combineSource(), uniforms, [expertOut, plan.slotOf, weights, residual, y], grid);
  return y;
}
