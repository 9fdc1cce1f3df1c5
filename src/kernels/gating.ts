import shader from '../../shaders/gating.wgsl?raw';
import { type GpuContext, KernelInputError, type KernelSource, paramsSchema, type Recorder, type Tensor } from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, splitGrid } from './common';
import { assembleShader } from './kernel-plan';
import { type WeightVariant, weightPrelude, weightVariant } from './weights';

/** Threads (token rows) per gating workgroup (WG in the shader). */
const GATE_WG = 64;

/** Gating entry points: `main` reads per-token router logits, `main_task` a per-task gate table. */
export type GateEntry = 'main' | 'main_task';

/** gating's uniform struct (emitted into the WGSL as `struct Params`). */
const GATING_PARAMS = paramsSchema([
  ['N', 'u32', 'token rows'],
  ['E', 'u32', 'experts'],
  ['k', 'u32', 'experts per token, 1 or 2'],
  ['T', 'u32', 'rows of the task table (main_task); ids >= T are clamped to T - 1'],
  ['rows_x', 'u32', 'workgroups along x: row = (wid.y * rows_x + wid.x) * WG + lid'],
] as const);

/** The pipeline source of gating for a logits/table variant and entry point. */
export function gatingSource(variant: WeightVariant, entry: GateEntry): KernelSource {
  const code = assembleShader(`gating:${variant}`, () => ({
    prelude: weightPrelude(variant, ['src']),
    params: GATING_PARAMS,
    consts: { WG: GATE_WG },
    body: shader,
  }));
  return { name: 'gating', variant, entryPoint: entry, code };
}

/**
 * Every gating pipeline a model with `dtype` weights may use on `ctx`: token gating over f32 logits and task gating
 * over a table of `dtype`.
 */
export function gatingSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  return [gatingSource('f32', 'main'), gatingSource(weightVariant(ctx, dtype), 'main_task')];
}

/** What a gate produces for N token rows. */
export interface GateOutput {
  /** u32 [N, k]: chosen experts, best first; ties go to the lower expert index. */
  indices: Tensor;
  /** f32 [N, k]: gate values of the chosen experts renormalised to sum to 1 (k = 1 gives exactly 1). */
  weights: Tensor;
}

/** Options of the gates. */
export interface GateOptions {
  /** A label prefix for the output buffers. */
  label?: string;
}

/** Throws unless k is 1 or 2 and at most E. */
export function checkK(kernel: string, k: number, E: number): void {
  if (k !== 1 && k !== 2) throw new KernelInputError(kernel, `k must be 1 or 2, got ${k}`);
  if (k > E) throw new KernelInputError(kernel, `k = ${k} exceeds the number of experts ${E}`);
}

function record(
  rec: Recorder,
  src: KernelSource,
  inputs: Tensor[],
  N: number,
  E: number,
  k: number,
  T: number,
  label: string,
): GateOutput {
  const ctx = rec.ctx;
  const indices = ctx.empty([N, k], 'u32', `${label}.indices`);
  const weights = ctx.empty([N, k], 'f32', `${label}.weights`);
  const grid = splitGrid(ctx, ceilDiv(N, GATE_WG));
  const uniforms = GATING_PARAMS.pack({ N, E, k, T, rows_x: grid[0] });
  const [first, ...rest] = inputs as [Tensor, ...Tensor[]];
  rec.dispatch(src, uniforms, [first, indices, weights, ...rest], grid);
  return { indices, weights };
}

/**
 * Token routing (GShard): softmax over the experts of f32 router logits [N, E] (the model computes them as
 * `linear(x, Wg, null)`), the top-k experts with ties to the lower index, and their gate values renormalised g_j / Σ g.
 */
export function gateTopK(rec: Recorder, logits: Tensor, k: 1 | 2, opts: GateOptions = {}): GateOutput {
  const kernel = 'gating';
  expectLive(kernel, logits);
  expectDType(kernel, 'logits', logits, 'f32');
  expectRank(kernel, 'logits', logits, 2);
  const [N, E] = logits.shape as [number, number];
  if (E < 1) throw new KernelInputError(kernel, `logits must have at least one expert, got ${logits.toString()}`);
  checkK(kernel, k, E);
  return record(rec, gatingSource('f32', 'main'), [logits], N, E, k, 1, opts.label ?? 'gate');
}

/**
 * Task routing, G = GATE(task_id): each token row n takes row taskIds[n] of a per-task gate-logit table [T, E]
 * (f32 or f16) through the same softmax and top-k as {@link gateTopK}. Ids >= T are clamped to T - 1 on the GPU
 * (they cannot be checked without a readback).
 */
export function gateTask(rec: Recorder, table: Tensor, taskIds: Tensor, k: 1 | 2, opts: GateOptions = {}): GateOutput {
  const kernel = 'gating';
  expectLive(kernel, table, taskIds);
  expectDType(kernel, 'table', table, 'f32', 'f16');
  expectRank(kernel, 'table', table, 2);
  expectDType(kernel, 'taskIds', taskIds, 'u32');
  expectRank(kernel, 'taskIds', taskIds, 1);
  const [T, E] = table.shape as [number, number];
  if (T < 1 || E < 1)
    throw new KernelInputError(kernel, `table must be non-empty [tasks, experts], got ${table.toString()}`);
  checkK(kernel, k, E);
  const N = taskIds.shape[0] as number;
  const src = gatingSource(weightVariant(rec.ctx, table.dtype), 'main_task');
  return record(rec, src, [table, taskIds], N, E, k, T, opts.label ?? 'gate');
}
