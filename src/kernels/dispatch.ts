import shader from '../../shaders/dispatch.wgsl?raw';
import {
  type GpuContext,
  KernelInputError,
  type KernelProfile,
  type KernelSource,
  paramsSchema,
  type Recorder,
  type Tensor,
} from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, splitGrid } from './common';
import { assembleShader, type KernelPlan, type ProfileTable } from './kernel-plan';

/** Threads per workgroup of `rank`, `scan` and `scatter` (WG in the shader). */
const DISPATCH_WG = 256;

/** Slot value of an assignment dropped for capacity (in `slotOf`). */
export const DROPPED_SLOT = 0xffffffff;

/** dispatch's uniform struct (emitted into the WGSL as `struct Params`). */
const DISPATCH_PARAMS = paramsSchema([
  ['N', 'u32', 'tokens'],
  ['k', 'u32', 'choices per token'],
  ['E', 'u32', 'experts'],
  ['capacity', 'u32', 'max kept assignments per expert (0xFFFFFFFF: no limit)'],
  ['tile_rows', 'u32', 'rows per grouped-FFN tile'],
  ['total', 'u32', 'N * k'],
  ['groups_x', 'u32', 'scatter: workgroups along x'],
] as const);

/** Dispatch entry points, recorded in this order (the `_serial` ones with the 'emulated' kernel profile). */
export type DispatchEntry = 'rank' | 'scan' | 'scatter' | 'rank_serial' | 'scan_serial';

/** Each entry point's override constants. */
const DISPATCH_ENTRIES: Readonly<Record<DispatchEntry, Readonly<Record<string, number>>>> = {
  rank: {},
  scan: {},
  scatter: {},
  rank_serial: { SERIAL_WG: 64 },
  scan_serial: {},
};

/** The three steps per kernel profile: serial, barrier-free rank and scan on CPU emulations. */
const DISPATCH_PROFILES: ProfileTable<'rank' | 'scan' | 'scatter', DispatchEntry> = {
  gpu: { rank: 'rank', scan: 'scan', scatter: 'scatter' },
  emulated: { rank: 'rank_serial', scan: 'scan_serial', scatter: 'scatter' },
};

/** The three dispatches (rank, scan, scatter) of sorting N*k assignments over E experts on `ctx`, in order. */
export function dispatchPlan(ctx: GpuContext, total: number, E: number): KernelPlan<DispatchEntry>[] {
  const p = DISPATCH_PROFILES[ctx.kernelProfile];
  const plan = (entry: DispatchEntry, grid: KernelPlan['grid']): KernelPlan<DispatchEntry> => ({
    entry,
    constants: DISPATCH_ENTRIES[entry],
    grid,
  });
  const rankGrid: [number] = p.rank === 'rank' ? [E] : [ceilDiv(E, DISPATCH_ENTRIES.rank_serial.SERIAL_WG as number)];
  return [plan(p.rank, rankGrid), plan(p.scan, [1]), plan(p.scatter, splitGrid(ctx, ceilDiv(total, DISPATCH_WG)))];
}

/** The pipeline source of one dispatch entry point (no variants: indices are always u32). */
export function dispatchSource(entry: DispatchEntry): KernelSource {
  const code = assembleShader('dispatch:u32', () => ({
    prelude: '',
    params: DISPATCH_PARAMS,
    consts: { WG: DISPATCH_WG },
    body: shader,
  }));
  return { name: 'dispatch', variant: 'u32', entryPoint: entry, code, constants: DISPATCH_ENTRIES[entry] };
}

/** Every dispatch pipeline `ctx` uses (the entry points {@link dispatchPlan} picks, for compiling ahead). */
export function dispatchSources(ctx: GpuContext): KernelSource[] {
  return dispatchPlan(ctx, 1, 1).map((p) => dispatchSource(p.entry));
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

/** The row-tile height each kernel profile plans: CPU emulations always 8 (`main_cols` of expert_ffn). */
const TILE_ROWS_BY_PROFILE: Readonly<Record<KernelProfile, (N: number, k: number, E: number) => 8 | 16 | 32 | 64>> = {
  gpu: defaultTileRows,
  emulated: () => 8,
};

/** The default row-tile height on `ctx`: always 8 on CPU emulations (its `main_cols` has no barriers). */
export function planTileRows(ctx: GpuContext, N: number, k: number, E: number): 8 | 16 | 32 | 64 {
  return TILE_ROWS_BY_PROFILE[ctx.kernelProfile](N, k, E);
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
  const steps = dispatchPlan(ctx, total, E);
  const uniforms = DISPATCH_PARAMS.pack({
    N,
    k,
    E,
    capacity: capacity === 0 ? DROPPED_SLOT : capacity,
    tile_rows: tileRows,
    total,
    groups_x: (steps[2] as KernelPlan).grid[0],
  });
  const tensors = [indices, counts, offsets, tileOffsets, order, slotOf];
  for (const step of steps) rec.dispatch(dispatchSource(step.entry), uniforms, tensors, step.grid);
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
