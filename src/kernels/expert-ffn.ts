import code from '../../shaders/expert_ffn.wgsl?raw';
import {
  type GpuContext,
  KernelInputError,
  type KernelProfile,
  type KernelSource,
  type Recorder,
  type Tensor,
  UniformBuilder,
} from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, expectShape, splitGrid } from './common';
import type { DispatchPlan } from './dispatch';
import { type WeightVariant, weightPrelude, weightVariant } from './weights';

/**
 * Row-tile heights the grouped FFN compiles: 16, 32, 64 (the register-tiled `main`, 16 threads down times 1, 2 or 4
 * rows each) and 8 (`main_rows`, K split over lanes, for decoding's few rows per expert).
 */
export const EXPERT_TILE_ROWS = [8, 16, 32, 64] as const;
export type ExpertTileRows = (typeof EXPERT_TILE_ROWS)[number];

/** Output columns per workgroup of `main` (`BN` in shaders/expert_ffn.wgsl) and of `main_rows`. */
const BN = 64;
const BN_ROWS = 32;

/**
 * The pipeline source of the grouped expert FFN for a weight variant and row-tile height. 8-row tiles take
 * `main_rows` (K split over lanes, a workgroup reduction) on GPUs and `main_cols` (a thread per column, no barriers)
 * with the 'emulated' kernel profile.
 */
export function expertFfnSource(
  variant: WeightVariant,
  tileRows: ExpertTileRows,
  profile: KernelProfile = 'gpu',
): KernelSource {
  const shader = weightPrelude(variant, ['w', 'b']) + code;
  if (tileRows === 8) {
    const entryPoint = profile === 'emulated' ? 'main_cols' : 'main_rows';
    return { name: 'expert_ffn', variant, entryPoint, code: shader };
  }
  return { name: 'expert_ffn', variant, entryPoint: 'main', code: shader, constants: { TR: tileRows / 16 } };
}

/** Every grouped-FFN pipeline a model with `dtype` expert weights may use on `ctx` (every tile height). */
export function expertFfnSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  const v = weightVariant(ctx, dtype);
  // CPU emulations plan 8-row tiles only (planTileRows); other heights compile if a caller asks for them.
  const heights = ctx.kernelProfile === 'emulated' ? ([8] as const) : EXPERT_TILE_ROWS;
  return heights.map((tr) => expertFfnSource(v, tr, ctx.kernelProfile));
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
  const src = expertFfnSource(weightVariant(ctx, wi.dtype), tileRows, ctx.kernelProfile);
  const colsPerGroup = src.entryPoint === 'main_cols' ? 64 : tileRows === 8 ? BN_ROWS : BN;
  // Upper bound of Σ_e ceil(count_e / BM): each non-empty expert adds at most one partial tile.
  const rowTiles = rows === 0 ? 0 : ceilDiv(rows, tileRows) + Math.min(E, rows);
  const hidden = ctx.empty([rows, F], 'f32', 'expert_ffn.hidden');
  const out = ctx.empty([rows, D], 'f32', 'expert_ffn.out');
  // Row tiles go along y, and along z too past maxComputeWorkgroupsPerDimension.
  const [tilesY, tilesZ] = splitGrid(ctx, rowTiles);
  const stage = (input: Tensor, w: Tensor, b: Tensor, y: Tensor, nOut: number, kIn: number, flags: number) => {
    const u = new UniformBuilder().u32(rows).u32(nOut).u32(kIn).u32(k).u32(E).u32(flags).u32(tilesY).build();
    rec.dispatch(
      src,
      u,
      [input, w, b, plan.order, plan.offsets, plan.tileOffsets, y],
      [ceilDiv(nOut, colsPerGroup), tilesY, tilesZ],
    );
  };
  stage(x, wi, bi, hidden, F, D, 1 | 2);
  stage(hidden, wo, bo, out, D, F, 0);
  hidden.dispose();
  return out;
}
