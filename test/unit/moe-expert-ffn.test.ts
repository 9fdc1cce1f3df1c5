import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError } from '../../src/gpu';
import { moeCombine } from '../../src/kernels/combine';
import { moeDispatch } from '../../src/kernels/dispatch';
import { groupedExpertFfn } from '../../src/kernels/expert-ffn';
import { assertClose, assertExact, TOL } from '../reference/compare';
import { dispatchRef, type ExpertsRef, groupedFfnRef } from '../reference/moe';
import { Rng, roundF16 } from '../reference/random';
import { KERNEL_MODES, modeContext, testContext } from '../setup/gpu';

// f32 weights read the same WGSL in both contexts, so the packed context runs only f16 weights (every pipeline is a
// slow compile on lavapipe).
const WEIGHT_DTYPES = { 'f16 native': ['f32', 'f16'], 'f16 packed': ['f16'] } as const;

/** Random experts with weights scaled by 1/sqrt(fan-in), so outputs stay O(1) whatever D and F. */
function randomExperts(rng: Rng, E: number, D: number, F: number, f16: boolean): ExpertsRef {
  const r = (n: number, fan: number) => {
    const a = rng.array(n, -1 / Math.sqrt(fan), 1 / Math.sqrt(fan));
    return f16 ? roundF16(a) : a;
  };
  return { wi: r(E * F * D, D), bi: r(E * F, D), wo: r(E * D * F, F), bo: r(E * D, F), E, D, F };
}

/** Distinct random experts per token (k <= E), or any when E < k. */
function choices(rng: Rng, N: number, k: number, pool: number[]): Uint32Array {
  const out = new Uint32Array(N * k);
  for (let n = 0; n < N; n++) {
    const picked: number[] = [];
    for (let j = 0; j < k; j++) {
      let e = pool[rng.int(pool.length)] as number;
      if (pool.length >= k) while (picked.includes(e)) e = pool[rng.int(pool.length)] as number;
      picked.push(e);
      out[n * k + j] = e;
    }
  }
  return out;
}

// [N, E, D, F, k, tileRows]: awkward sizes, every tile height, segments shorter and longer than a tile.
const CASES: Array<[number, number, number, number, 1 | 2, 8 | 16 | 32 | 64]> = [
  [1, 1, 1, 1, 1, 8],
  [3, 3, 7, 5, 2, 16],
  [257, 8, 33, 17, 2, 64],
  [257, 32, 19, 70, 1, 16],
  [130, 3, 65, 31, 2, 32],
  [40, 5, 45, 37, 2, 8],
];

// Both kernel profiles: 8-row tiles take `main_rows` ('gpu') or `main_cols` ('emulated').
for (const kmode of KERNEL_MODES) {
  const [mode, kernelProfile] = kmode;
  describe(`groupedExpertFfn (${mode}, ${kernelProfile} kernels)`, () => {
    let ctx: GpuContext;
    beforeAll(async () => {
      ctx = await modeContext(kmode);
      expect(ctx.kernelProfile).toBe(kernelProfile);
    });
    afterAll(() => ctx.dispose());

    for (const wdtype of WEIGHT_DTYPES[mode]) {
      for (const [N, E, D, F, k, tr] of CASES) {
        // Every tile height with f32 weights; f16 weights only at 8, 16 and 64 rows (each variant is a slow compile on
        // lavapipe, and the tile code does not depend on the weight type).
        const tileRows = wdtype === 'f16' && tr === 32 ? 64 : tr;
        it(`${wdtype} weights, N=${N} E=${E} D=${D} F=${F} k=${k}, ${tileRows}-row tiles`, async () => {
          const rng = new Rng();
          const ex = randomExperts(rng, E, D, F, wdtype === 'f16');
          const x = rng.array(N * D);
          // Use a subset of the experts, so some are empty.
          const pool = [...Array(E).keys()].filter((e) => E < 4 || e % 3 !== 1);
          const idx = choices(rng, N, k, pool);
          const rec = ctx.recorder();
          const xt = ctx.upload(x, [N, D]);
          const it_ = ctx.upload(idx, [N, k], 'u32');
          const w = [
            ctx.createWeight(ex.wi, [E, F, D], wdtype),
            ctx.createWeight(ex.bi, [E, F], wdtype),
            ctx.createWeight(ex.wo, [E, D, F], wdtype),
            ctx.createWeight(ex.bo, [E, D], wdtype),
          ] as const;
          const plan = moeDispatch(rec, it_, E, { tileRows });
          const out = groupedExpertFfn(rec, xt, plan, ...w);
          rec.submit();
          const ref = dispatchRef(idx, N, k, E, 0, tileRows);
          const used = ref.offsets[E] as number;
          expect(used).toBe(N * k);
          assertExact(await ctx.read(plan.order).then((o) => o.slice(0, used)), ref.order, `seed ${rng.seed} order`);
          const got = (await ctx.read(out)).slice(0, used * D);
          assertClose(got, groupedFfnRef(x, ref, k, ex), TOL[wdtype], `seed ${rng.seed} expert out`);
          for (const t of [xt, it_, out, ...w]) t.dispose();
          plan.dispose();
        });
      }
    }
  });
}

describe('dispatch -> groupedExpertFfn -> combine', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  it('computes only kept slots under a capacity', async () => {
    const rng = new Rng();
    const [N, E, D, F, k] = [90, 4, 9, 11, 2];
    const ex = randomExperts(rng, E, D, F, false);
    const x = rng.array(N * D);
    const idx = choices(rng, N, k, [0, 1, 2, 3]);
    const rec = ctx.recorder();
    const xt = ctx.upload(x, [N, D]);
    const it_ = ctx.upload(idx, [N, k], 'u32');
    const w = [
      ctx.createWeight(ex.wi, [E, F, D], 'f32'),
      ctx.createWeight(ex.bi, [E, F], 'f32'),
      ctx.createWeight(ex.wo, [E, D, F], 'f32'),
      ctx.createWeight(ex.bo, [E, D], 'f32'),
    ] as const;
    const plan = moeDispatch(rec, it_, E, { capacity: 20, tileRows: 8 });
    const out = groupedExpertFfn(rec, xt, plan, ...w);
    rec.submit();
    const ref = dispatchRef(idx, N, k, E, 20, 8);
    expect(ref.offsets[E]).toBe(80);
    const got = (await ctx.read(out)).slice(0, 80 * D);
    assertClose(got, groupedFfnRef(x, ref, k, ex), TOL.f32, `seed ${rng.seed}`);
    for (const t of [xt, it_, out, ...w]) t.dispose();
    plan.dispose();
  });

  it('identity experts (wi = wo = I, no bias, x >= 0) give back x exactly with k=1', async () => {
    const rng = new Rng();
    const [N, E, D] = [257, 5, 13];
    const eye = new Float32Array(E * D * D);
    for (let e = 0; e < E; e++) for (let d = 0; d < D; d++) eye[(e * D + d) * D + d] = 1;
    const x = rng.array(N * D, 0, 4);
    const rec = ctx.recorder();
    const xt = ctx.upload(x, [N, D]);
    const it_ = ctx.upload(choices(rng, N, 1, [0, 2, 3, 4]), [N, 1], 'u32');
    const wi = ctx.createWeight(eye, [E, D, D], 'f32');
    const wo = ctx.createWeight(eye, [E, D, D], 'f32');
    const b = ctx.createWeight(new Float32Array(E * D), [E, D], 'f32');
    const plan = moeDispatch(rec, it_, E, { tileRows: 8 });
    const out = groupedExpertFfn(rec, xt, plan, wi, b, wo, b);
    const wts = ctx.upload(new Float32Array(N).fill(1), [N, 1]);
    const y = moeCombine(rec, out, plan, wts);
    rec.submit();
    assertExact(await ctx.read(y), x, `seed ${rng.seed}`);
    for (const t of [xt, it_, wi, wo, b, out, wts, y]) t.dispose();
    plan.dispose();
  });

  it('rejects bad inputs with a typed error before dispatching', () => {
    const [N, E, D, F] = [4, 3, 5, 6];
    const rec = ctx.recorder();
    const it_ = ctx.upload(new Uint32Array(N * 2), [N, 2], 'u32');
    const plan = moeDispatch(rec, it_, E, { tileRows: 16 });
    const plan12 = moeDispatch(rec, it_, E, { tileRows: 12 });
    rec.submit();
    const x = ctx.empty([N, D]);
    const wi = ctx.createWeight(new Float32Array(E * F * D), [E, F, D], 'f32');
    const bi = ctx.createWeight(new Float32Array(E * F), [E, F], 'f32');
    const wo = ctx.createWeight(new Float32Array(E * D * F), [E, D, F], 'f32');
    const bo = ctx.createWeight(new Float32Array(E * D), [E, D], 'f32');
    const boH = ctx.createWeight(new Float32Array(E * D), [E, D], 'f16');
    expect(() => groupedExpertFfn(rec, ctx.empty([N + 1, D]), plan, wi, bi, wo, bo)).toThrow(KernelInputError);
    expect(() => groupedExpertFfn(rec, x, plan12, wi, bi, wo, bo)).toThrow(/tileRows/);
    expect(() => groupedExpertFfn(rec, x, plan, wi, bi, wo, boH)).toThrow(KernelInputError);
    expect(() => groupedExpertFfn(rec, x, plan, wi, bi, wi, bo)).toThrow(/wo must be/);
    expect(() => groupedExpertFfn(rec, x, plan, wo, bi, wo, bo)).toThrow(KernelInputError);
    expect(() => groupedExpertFfn(rec, ctx.empty([N, D], 'u32'), plan, wi, bi, wo, bo)).toThrow(KernelInputError);
    expect(rec.pendingDispatches).toBe(0);
    plan.dispose();
    plan12.dispose();
  });
});
