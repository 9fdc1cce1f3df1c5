import { type GpuContext, KernelInputError, type KernelSource, type Recorder, type Tensor } from '../gpu';
import { combineSources, moeCombine } from './combine';
import { expectDType, expectLive, expectRank } from './common';
import { dispatchSources, moeDispatch } from './dispatch';
import { expertFfnSources, groupedExpertFfn } from './expert-ffn';
import { type GateOutput, gateTask, gateTopK, gatingSources } from './gating';
import { linear, linearSources } from './linear';

/** How a MoE layer picks experts: from each token's hidden state (router weight) or from the task id alone. */
export type MoeRouting =
  | {
      kind: 'token';
      /** Router weight Wg [E, D], f32 or f16: logits = x · Wgᵀ (no bias). */
      gate: Tensor;
    }
  | {
      kind: 'task';
      /** Per-task gate logits [T, E], f32 or f16: G = GATE(task_id). */
      table: Tensor;
      /** u32 [N]: task of each token row. */
      taskIds: Tensor;
    };

/** A layer's experts, packed: wi [E, F, D], bi [E, F], wo [E, D, F], bo [E, D], all f32 or all f16. */
export interface MoeExperts {
  wi: Tensor;
  bi: Tensor;
  wo: Tensor;
  bo: Tensor;
}

/** Options of {@link moeLayer}. */
export interface MoeLayerOptions {
  /** Experts per token. */
  k: 1 | 2;
  /** Max tokens per expert (0 or undefined: no limit, as at inference); overflow passes only the residual. */
  capacity?: number;
  /** f32 [N, D] added to the output. */
  residual?: Tensor;
  /** Write y into this f32 [N, D] tensor (it may be `residual`, for an in-place residual add). */
  out?: Tensor;
}

/** What {@link moeLayer} returns; the caller disposes all three. */
export interface MoeLayerOutput {
  /** f32 [N, D]: residual + Σ_j g_j · FFN_{e_j}(x). */
  y: Tensor;
  /** u32 [N, k]: experts chosen per token. */
  indices: Tensor;
  /** f32 [N, k]: their renormalised gate weights. */
  weights: Tensor;
}

function shapeIs(t: Tensor, shape: readonly number[]): boolean {
  return t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
}

/**
 * One Mixture-of-Experts layer on x f32 [N, D], recorded into `rec` with no readback: router logits
 * (token routing: linear without bias) or a task-table lookup -> top-k gate -> dispatch -> grouped expert FFN ->
 * combine (plus the residual). Every input is validated before anything is dispatched.
 */
export function moeLayer(
  rec: Recorder,
  x: Tensor,
  routing: MoeRouting,
  experts: MoeExperts,
  opts: MoeLayerOptions,
): MoeLayerOutput {
  const kernel = 'moe';
  const { wi, bi, wo, bo } = experts;
  expectLive(kernel, x, wi, bi, wo, bo);
  expectDType(kernel, 'x', x, 'f32');
  expectRank(kernel, 'x', x, 2);
  const [N, D] = x.shape as [number, number];
  expectDType(kernel, 'wi', wi, 'f32', 'f16');
  expectRank(kernel, 'wi', wi, 3);
  const [E, F] = wi.shape as [number, number];
  for (const [name, t, shape] of [
    ['wi', wi, [E, F, D]],
    ['bi', bi, [E, F]],
    ['wo', wo, [E, D, F]],
    ['bo', bo, [E, D]],
  ] as const) {
    if (!shapeIs(t, shape))
      throw new KernelInputError(kernel, `${name} must be [${shape.join(', ')}], got ${t.toString()}`);
    if (t.dtype !== wi.dtype) throw new KernelInputError(kernel, `${name} must have wi's dtype ${wi.dtype}`);
  }
  const { k } = opts;
  if (k !== 1 && k !== 2) throw new KernelInputError(kernel, `k must be 1 or 2, got ${k}`);
  if (k > E) throw new KernelInputError(kernel, `k = ${k} exceeds the number of experts ${E}`);
  const capacity = opts.capacity ?? 0;
  if (!Number.isInteger(capacity) || capacity < 0) {
    throw new KernelInputError(kernel, `capacity must be a non-negative integer, got ${capacity}`);
  }
  if (opts.residual) {
    expectLive(kernel, opts.residual);
    expectDType(kernel, 'residual', opts.residual, 'f32');
    if (!shapeIs(opts.residual, [N, D])) {
      throw new KernelInputError(kernel, `residual must be [${N}, ${D}], got ${opts.residual.toString()}`);
    }
  }
  if (routing.kind === 'token') {
    expectLive(kernel, routing.gate);
    expectDType(kernel, 'gate', routing.gate, 'f32', 'f16');
    if (!shapeIs(routing.gate, [E, D])) {
      throw new KernelInputError(kernel, `gate must be [${E}, ${D}], got ${routing.gate.toString()}`);
    }
  } else if (routing.kind === 'task') {
    expectLive(kernel, routing.table, routing.taskIds);
    expectDType(kernel, 'table', routing.table, 'f32', 'f16');
    if (routing.table.shape.length !== 2 || routing.table.shape[1] !== E || (routing.table.shape[0] as number) < 1) {
      throw new KernelInputError(kernel, `table must be [tasks, ${E}], got ${routing.table.toString()}`);
    }
    expectDType(kernel, 'taskIds', routing.taskIds, 'u32');
    if (!shapeIs(routing.taskIds, [N])) {
      throw new KernelInputError(kernel, `taskIds must be [${N}], got ${routing.taskIds.toString()}`);
    }
  } else {
    throw new KernelInputError(kernel, `unknown routing ${(routing as { kind: string }).kind}`);
  }

  let gate: GateOutput;
  if (routing.kind === 'token') {
    const logits = linear(rec, x, routing.gate, null); // [N, E]
    gate = gateTopK(rec, logits, k);
    logits.dispose();
  } else {
    gate = gateTask(rec, routing.table, routing.taskIds, k);
  }
  gate.probs.dispose();
  const plan = moeDispatch(rec, gate.indices, E, { capacity });
  const out = groupedExpertFfn(rec, x, plan, wi, bi, wo, bo); // [N*k, D] by slot
  const y = moeCombine(rec, out, plan, gate.weights, {
    ...(opts.residual ? { residual: opts.residual } : {}),
    ...(opts.out ? { out: opts.out } : {}),
  }); // [N, D]
  out.dispose();
  plan.dispose();
  return { y, indices: gate.indices, weights: gate.weights };
}

/** Every pipeline {@link moeLayer} may use with `dtype` weights on `ctx` (for ahead-of-time compilation). */
export function moeSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  return [
    ...linearSources(ctx, dtype),
    ...gatingSources(ctx, dtype),
    ...dispatchSources(ctx),
    ...expertFfnSources(ctx, dtype),
    ...combineSources(),
  ];
}
