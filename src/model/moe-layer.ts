import { type GpuContext, KernelInputError, type KernelSource, type Recorder, type Tensor } from '../gpu';
import { combineSources, moeCombine } from '../kernels/combine';
import { expectDType, expectLive, expectRank, expectShape } from '../kernels/common';
import { dispatchSources, moeDispatch } from '../kernels/dispatch';
import { checkExperts, expertFfnSources, groupedExpertFfn } from '../kernels/expert-ffn';
import { checkK, type GateOutput, gateTask, gateTopK, gatingSources } from '../kernels/gating';
import { linear, linearSources } from '../kernels/linear';

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

/**
 * One Mixture-of-Experts layer on x f32 [N, D], recorded into `rec` with no readback: router logits
 * (token routing: linear without bias) or a task-table lookup -> top-k gate -> dispatch -> grouped expert FFN ->
 * combine (plus the residual). Every input is validated (by the kernels' own checks, called up front) before
 * anything is dispatched.
 */
export function moeLayer(
  rec: Recorder,
  x: Tensor,
  routing: MoeRouting,
  experts: MoeExperts,
  opts: MoeLayerOptions,
): MoeLayerOutput {
  const kernel = 'moe';
  expectLive(kernel, x);
  expectDType(kernel, 'x', x, 'f32');
  expectRank(kernel, 'x', x, 2);
  const [N, D] = x.shape as [number, number];
  expectRank(kernel, 'wi', experts.wi, 3);
  const E = experts.wi.shape[0] as number;
  checkExperts(kernel, experts, E, D);
  const { k } = opts;
  checkK(kernel, k, E);
  if (opts.residual) {
    expectLive(kernel, opts.residual);
    expectDType(kernel, 'residual', opts.residual, 'f32');
    expectShape(kernel, 'residual', opts.residual, [N, D]);
  }
  if (routing.kind === 'token') {
    expectLive(kernel, routing.gate);
    expectDType(kernel, 'gate', routing.gate, 'f32', 'f16');
    expectShape(kernel, 'gate', routing.gate, [E, D]);
  } else if (routing.kind === 'task') {
    expectLive(kernel, routing.table, routing.taskIds);
    expectDType(kernel, 'table', routing.table, 'f32', 'f16');
    if (routing.table.shape.length !== 2 || routing.table.shape[1] !== E || (routing.table.shape[0] as number) < 1) {
      throw new KernelInputError(kernel, `table must be [tasks, ${E}], got ${routing.table.toString()}`);
    }
    expectDType(kernel, 'taskIds', routing.taskIds, 'u32');
    expectShape(kernel, 'taskIds', routing.taskIds, [N]);
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
  const plan = moeDispatch(rec, gate.indices, E);
  const out = groupedExpertFfn(rec, x, plan, experts.wi, experts.bi, experts.wo, experts.bo); // [N*k, D] by slot
  const y = moeCombine(rec, out, plan, gate.weights, { residual: opts.residual, out: opts.out }); // [N, D]
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
