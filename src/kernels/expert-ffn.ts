import shader from '../../shaders/expert_ffn.wgsl?raw';
import {
  type GpuContext,
  KernelInputError,
  type KernelProfile,
  type KernelSource,
  paramsSchema,
  type Recorder,
  type Tensor,
} from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, expectShape, splitGrid } from './common';
import type { DispatchPlan } from './dispatch';
import { assembleShader, type EntrySpec, type KernelPlan, type ProfileTable } from './kernel-plan';
import { type WeightVariant, weightPrelude, weightVariant } from './weights';

/**
 * Row-tile heights the grouped FFN compiles: 16, 32, 64 (the register-tiled `main`, 16 threads down times 1, 2 or 4
 * rows each) and 8 (`main_rows`, K split over lanes, for decoding's few rows per expert).
 */
export const EXPERT_TILE_ROWS = [8, 16, 32, 64] as const;
export type ExpertTileRows = (typeof EXPERT_TILE_ROWS)[number];

/** Flag bits of expert_ffn's `flags` uniform (emitted into the WGSL as FLAG_GATHER, FLAG_RELU). */
export const EXPERT_FFN_FLAGS = { GATHER: 1, RELU: 2 } as const;

/** expert_ffn's uniform struct (emitted into the WGSL as `struct Params`). */
const EXPERT_FFN_PARAMS = paramsSchema([
  ['rows', 'u32', 'slots (N * k): rows of y'],
  ['Nout', 'u32', 'output features of this stage'],
  ['K', 'u32', 'input features of this stage'],
  ['k', 'u32', 'choices per token: assignment a belongs to token a / k'],
  ['E', 'u32', 'experts'],
  ['flags', 'u32', 'FLAG_* bits'],
  ['tiles_y', 'u32', 'row tiles along y: the global row tile is wid.z * tiles_y + wid.y (z only past the grid limit)'],
] as const);

/** Output columns per workgroup of `main_rows` (ROW_COLS in the GEMM core): 256 threads, 8 lanes per column. */
const ROW_COLS = 32;

export type ExpertFfnEntry = 'main' | 'main_rows' | 'main_cols';

/** Each entry point's override constants and output tile (`main`'s rows: 16 * TR, set per tile height). */
const EXPERT_FFN_ENTRIES: Readonly<Record<ExpertFfnEntry, EntrySpec>> = {
  main: { constants: {}, cols: 64, rows: 64 },
  main_rows: { constants: {}, cols: ROW_COLS, rows: 8 },
  main_cols: { constants: { COLS_WG: 64 }, cols: 64, rows: 8 },
};

/**
 * The entry point for 8-row tiles (`small`) and taller ones (`tiled`) per kernel profile: 8-row tiles take
 * `main_rows` (K split over lanes, a workgroup reduction) on GPUs and `main_cols` (a thread per column, no barriers)
 * on CPU emulations; 16-, 32- and 64-row tiles the register-tiled `main`.
 */
const EXPERT_FFN_PROFILES: ProfileTable<'small' | 'tiled', ExpertFfnEntry> = {
  gpu: { small: 'main_rows', tiled: 'main' },
  emulated: { small: 'main_cols', tiled: 'main' },
};

/** The tile heights each kernel profile plans (planTileRows); other heights compile when a caller asks for them. */
const PLANNED_TILE_ROWS: Readonly<Record<KernelProfile, readonly ExpertTileRows[]>> = {
  gpu: EXPERT_TILE_ROWS,
  emulated: [8],
};

/**
 * Entry point, constants and grid of one grouped-FFN stage with `rowTiles` row tiles (an upper bound) of `tileRows`
 * rows and `nOut` output columns on `ctx`: row tiles go along y, and along z too past maxComputeWorkgroupsPerDimension.
 */
export function expertFfnPlan(
  ctx: GpuContext,
  tileRows: ExpertTileRows,
  rowTiles: number,
  nOut: number,
): KernelPlan<ExpertFfnEntry> {
  const entry = EXPERT_FFN_PROFILES[ctx.kernelProfile][tileRows === 8 ? 'small' : 'tiled'];
  const spec = EXPERT_FFN_ENTRIES[entry];
  const constants = entry === 'main' ? { TR: tileRows / 16 } : spec.constants;
  const [tilesY, tilesZ] = splitGrid(ctx, rowTiles);
  return { entry, constants, grid: [ceilDiv(nOut, spec.cols), tilesY, tilesZ] };
}

/** The pipeline source of the grouped expert FFN for a weight variant and a plan's entry point and constants. */
export function expertFfnSource(variant: WeightVariant, plan: Omit<KernelPlan<ExpertFfnEntry>, 'grid'>): KernelSource {
  const code = assembleShader(`expert_ffn:${variant}`, () => ({
    prelude: weightPrelude(variant, ['w', 'b']),
    params: EXPERT_FFN_PARAMS,
    flags: EXPERT_FFN_FLAGS,
    consts: { ROW_COLS },
    includes: ['gemm'],
    body: shader,
  }));
  return { name: 'expert_ffn', variant, entryPoint: plan.entry, code, constants: plan.constants };
}

/** Every grouped-FFN pipeline a model with `dtype` expert weights may use on `ctx` (every planned tile height). */
export function expertFfnSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  const v = weightVariant(ctx, dtype);
  return PLANNED_TILE_ROWS[ctx.kernelProfile].map((tr) => expertFfnSource(v, expertFfnPlan(ctx, tr, 1, 1)));
}

/**
 * Checks a layer's packed experts wi [E, F, D], bi [E, F], wo [E, D, F], bo [E, D] (all f32 or all f16, live) and
 * returns F. Throws {@link KernelInputError} naming `kernel`.
 */
export function checkExperts(
  kernel: string,
  experts: { wi: Tensor; bi: Tensor; wo: Tensor; bo: Tensor },
  E: number,
  D: number,
): number {
  const { wi, bi, wo, bo } = experts;
  expectLive(kernel, wi, bi, wo, bo);
  expectDType(kernel, 'wi', wi, 'f32', 'f16');
  expectRank(kernel, 'wi', wi, 3);
  const F = wi.shape[1] as number;
  expectShape(kernel, 'wi', wi, [E, F, D]);
  expectShape(kernel, 'bi', bi, [E, F]);
  expectShape(kernel, 'wo', wo, [E, D, F]);
  expectShape(kernel, 'bo', bo, [E, D]);
  for (const [name, t] of [
    ['bi', bi],
    ['wo', wo],
    ['bo', bo],
  ] as const) {
    if (t.dtype !== wi.dtype)
      throw new KernelInputError(kernel, `${name} must have wi's dtype ${wi.dtype}, got ${t.dtype}`);
  }
  return F;
}

/**
 * Runs every expert over its own segment of the dispatch plan in one dispatch per stage:
 * hidden[s] = ReLU(wi_e · x[token(order[s])] + bi_e) (rows gathered through `order`), then
 * out[s] = wo_e · hidden[s] + bo_e, for slots s < offsets[E] with e the segment's expert.
 *
 * x: f32 [N, D]; wi [E, F, D], bi [E, F], wo [E, D, F], bo [E, D], all f32 or all f16. Returns f32 [N*k, D] by slot;
 * rows at or past offsets[E] are undefined.
 */
export function groupedExpertFfn(
  rec: Recorder,
  x: Tensor,
  plan: DispatchPlan,
  wi: Tensor,
  bi: Tensor,
  wo: Tensor,
  bo: Tensor,
): Tensor {
  const kernel = 'expert_ffn';
  expectLive(kernel, x, plan.order, plan.offsets, plan.tileOffsets);
  expectDType(kernel, 'x', x, 'f32');
  expectRank(kernel, 'x', x, 2);
  const [N, D] = x.shape as [number, number];
  const { E, k } = plan;
  if (plan.N !== N) throw new KernelInputError(kernel, `x has ${N} rows, the plan was made for ${plan.N} tokens`);
  if (!(EXPERT_TILE_ROWS as readonly number[]).includes(plan.tileRows)) {
    throw new KernelInputError(
      kernel,
      `plan.tileRows must be one of ${EXPERT_TILE_ROWS.join(', ')}, got ${plan.tileRows}`,
    );
  }
  const F = checkExperts(kernel, { wi, bi, wo, bo }, E, D);
  const ctx = rec.ctx;
  const rows = N * k;
  const tileRows = plan.tileRows as ExpertTileRows;
  // Upper bound of Σ_e ceil(count_e / BM): each non-empty expert adds at most one partial tile.
  const rowTiles = rows === 0 ? 0 : ceilDiv(rows, tileRows) + Math.min(E, rows);
  const hidden = ctx.empty([rows, F], 'f32', 'expert_ffn.hidden');
  const out = ctx.empty([rows, D], 'f32', 'expert_ffn.out');
  const variant = weightVariant(ctx, wi.dtype);
  const stage = (input: Tensor, w: Tensor, b: Tensor, y: Tensor, nOut: number, kIn: number, flags: number) => {
    const kp = expertFfnPlan(ctx, tileRows, rowTiles, nOut);
    const tiles_y = kp.grid[1] as number;
    const u = EXPERT_FFN_PARAMS.pack({ rows, Nout: nOut, K: kIn, k, E, flags, tiles_y });
    rec.dispatch(
      expertFfnSource(variant, kp),
      u,
      [input, w, b, plan.order, plan.offsets, plan.tileOffsets, y],
      kp.grid,
    );
  };
  stage(x, wi, bi, hidden, F, D, EXPERT_FFN_FLAGS.GATHER | EXPERT_FFN_FLAGS.RELU);
  stage(hidden, wo, bo, out, D, F, 0);
  hidden.dispose();
  return out;
}
