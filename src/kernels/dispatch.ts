import code from '../../shaders/dispatch.wgsl?raw';
import {
  type GpuContext,
  KernelInputError,
  type KernelProfile,
  type KernelSource,
  type Recorder,
  type Tensor,
  UniformBuilder,
} from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, splitGrid } from './common';

/** Threads per dispatch workgroup; matches `WG` in shaders/dispatch.wgsl. */
const DISPATCH_WG = 256;

/** Slot value of an assignment dropped for capacity (in `slotOf`). */
export const DROPPED_SLOT = 0xffffffff;

/** Dispatch entry points, recorded in this order (the `_serial` ones with the 'emulated' kernel profile). */
export type DispatchEntry = 'rank' | 'scan' | 'scatter' | 'rank_serial' | 'scan_serial';

/** The pipeline source of one dispatch entry point (no variants: indices are always u32). */
export function dispatchSource(entry: DispatchEntry): KernelSource {
  return { name: 'dispatch', variant: 'u32', entryPoint: entry, code };
}

/** The rank and scan entry points for a kernel profile (serial, barrier-free ones for CPU emulations). */
function stepEntries(profile: KernelProfile): ['rank' | 'rank_serial', 'scan' | 'scan_serial'] {
  return profile === 'emulated' ? ['rank_serial', 'scan_serial'] : ['rank', 'scan'];
}

/** Every dispatch pipeline `ctx` uses (for ahead-of-time compilation). */
export function dispatchSources(ctx: GpuContext): KernelSource[] {
  const [rank, scan] = stepEntries(ctx.kernelProfile);
  return [dispatchSource(rank), dispatchSource(scan), dispatchSource('scatter')];
}

/**
 * Rows per grouped-FFN row tile suited to N tokens with k choices over E experts, from the average segment length:
 * 8-row tiles (K split over lanes) up to 16 rows per expert (decoding), 32 or 64-row register tiles above, so short
 * segments do not pay for 64-row tiles (16-row tiles are available through the option). On lavapipe the 8-row tiles
 * measured 2-13x faster than 16-row ones at 0.5-16 rows per expert.
 */
export function defaultTileRows(N: number, k: number, E: number): 8 | 16 | 32 | 64 {
  const avg = (N * k) / Math.max(1, E);
  if (avg > 32) return 64;
  if (avg > 16) return 32;
  return 8;
}

/** The default row-tile height on `ctx`: always 8 on CPU emulations (its `main_cols` has no barriers). */
export function planTileRows(ctx: GpuContext, N: number, k: number, E: number): 8 | 16 | 32 | 64 {
  return ctx.kernelProfile === 'emulated' ? 8 : defaultTileRows(N, k, E);
}

/**
 * Where every expert assignment goes: per-expert contiguous segments of slots, built on the GPU. Holds GPU memory:
 * call `dispose()`.
 */
export interface DispatchPlan {
  /** u32 [E + 1]: start slot of each expert's segment (kept counts prefix-summed); offsets[E] = kept assignments. */
  offsets: Tensor;
  /** u32 [E]: assignments kept per expert (clipped at the capacity). */
  counts: Tensor;
  /** u32 [N * k]: slot -> assignment a = n*k + j; only the first offsets[E] entries are meaningful. */
  order: Tensor;
  /** u32 [N * k]: assignment -> slot, {@link DROPPED_SLOT} when dropped for capacity. */
  slotOf: Tensor;
  /** u32 [E + 1]: prefix sum of ceil(counts[e] / tileRows), the grouped FFN's row tile -> expert lookup. */
  tileOffsets: Tensor;
  /** Tokens. */
  N: number;
  /** Choices per token. */
  k: number;
  /** Experts. */
  E: number;
  /** Rows per grouped-FFN row tile that tileOffsets counts. */
  tileRows: number;
  /** Kept assignments per expert at most (0: no limit). */
  capacity: number;
  /** Releases the plan's tensors. */
  dispose(): void;
}

/** Options of {@link moeDispatch}. */
export interface DispatchOptions {
  /** Max assignments kept per expert, 0 or undefined for no limit (inference). */
  capacity?: number;
  /** Rows per grouped-FFN tile (8, 16, 32 or 64 for groupedExpertFfn); default {@link defaultTileRows}. */
  tileRows?: number;
}

/**
 * Sorts the N*k assignments of `indices` (u32 [N, k], token n's j-th expert at [n, j]) into per-expert segments,
 * deterministically and entirely on the GPU (no readback): GShard priority (all first choices, then all second
 * choices, each in token order); assignments ranked at or past `capacity` are dropped. Expert ids >= numExperts are
 * dropped too.
 */
export function moeDispatch(
  rec: Recorder,
  indices: Tensor,
  numExperts: number,
  opts: DispatchOptions = {},
): DispatchPlan {
  const kernel = 'dispatch';
  expectLive(kernel, indices);
  expectDType(kernel, 'indices', indices, 'u32');
  expectRank(kernel, 'indices', indices, 2);
  const [N, k] = indices.shape as [number, number];
  const E = numExperts;
  const ctx = rec.ctx;
  if (!Number.isInteger(E) || E < 1 || E > ctx.limits.maxComputeWorkgroupsPerDimension) {
    throw new KernelInputError(
      kernel,
      `numExperts must be an integer in [1, ${ctx.limits.maxComputeWorkgroupsPerDimension}], got ${E}`,
    );
  }
  if (k < 1)
    throw new KernelInputError(kernel, `indices must have at least one choice per token, got ${indices.toString()}`);
  const capacity = opts.capacity ?? 0;
  if (!Number.isInteger(capacity) || capacity < 0) {
    throw new KernelInputError(kernel, `capacity must be a non-negative integer (0: no limit), got ${capacity}`);
  }
  const tileRows = opts.tileRows ?? planTileRows(ctx, N, k, E);
  if (!Number.isInteger(tileRows) || tileRows < 1) {
    throw new KernelInputError(kernel, `tileRows must be a positive integer, got ${tileRows}`);
  }
  const total = N * k;
  if (total >= DROPPED_SLOT) throw new KernelInputError(kernel, `too many assignments: ${total}`);
  const offsets = ctx.empty([E + 1], 'u32', 'dispatch.offsets');
  const counts = ctx.empty([E], 'u32', 'dispatch.counts');
  const order = ctx.empty([total], 'u32', 'dispatch.order');
  const slotOf = ctx.empty([total], 'u32', 'dispatch.slotOf');
  const tileOffsets = ctx.empty([E + 1], 'u32', 'dispatch.tileOffsets');
  const scatterGrid = splitGrid(ctx, ceilDiv(total, DISPATCH_WG));
  const uniforms = new UniformBuilder()
    .u32(N)
    .u32(k)
    .u32(E)
    .u32(capacity === 0 ? DROPPED_SLOT : capacity)
    .u32(tileRows)
    .u32(total)
    .u32(scatterGrid[0])
    .build();
  const tensors = [indices, counts, offsets, tileOffsets, order, slotOf];
  const [rank, scan] = stepEntries(ctx.kernelProfile);
  rec.dispatch(dispatchSource(rank), uniforms, tensors, [rank === 'rank' ? E : ceilDiv(E, 64)]);
  rec.dispatch(dispatchSource(scan), uniforms, tensors, [1]);
  rec.dispatch(dispatchSource('scatter'), uniforms, tensors, scatterGrid);
  return {
    offsets,
    counts,
    order,
    slotOf,
    tileOffsets,
    N,
    k,
    E,
    tileRows,
    capacity,
    dispose() {
      for (const t of [offsets, counts, order, slotOf, tileOffsets]) t.dispose();
    },
  };
}
