import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError, type Recorder, type Tensor } from '../../src/gpu';
import { moeCombine } from '../../src/kernels/combine';
import { type DispatchPlan, moeDispatch, planTileRows } from '../../src/kernels/dispatch';
import { assertClose, assertExact, TOL } from '../reference/compare';
import { combineRef, dispatchRef, type PlanRef } from '../reference/moe';
import { Rng } from '../reference/random';
import { testContext } from '../setup/gpu';

/** Expert choices for N tokens: distinct per token when k <= E (as a gate gives), drawn from `pool`. */
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

async function readPlan(ctx: GpuContext, plan: DispatchPlan): Promise<PlanRef> {
  const offsets = (await ctx.read(plan.offsets)) as Uint32Array;
  const used = offsets[plan.E] as number;
  return {
    offsets,
    counts: (await ctx.read(plan.counts)) as Uint32Array,
    order: ((await ctx.read(plan.order)) as Uint32Array).slice(0, used),
    slotOf: (await ctx.read(plan.slotOf)) as Uint32Array,
    tileOffsets: (await ctx.read(plan.tileOffsets)) as Uint32Array,
  };
}

function assertPlan(got: PlanRef, ref: PlanRef, what: string): void {
  assertExact(got.offsets, ref.offsets, `${what} offsets`);
  assertExact(got.counts, ref.counts, `${what} counts`);
  assertExact(got.tileOffsets, ref.tileOffsets, `${what} tileOffsets`);
  assertExact(got.order, ref.order, `${what} order`);
  assertExact(got.slotOf, ref.slotOf, `${what} slotOf`);
}

// Both kernel profiles: rank/scan with workgroup prefix sums ('gpu') or serial, barrier-free ('emulated').
for (const kernelProfile of ['gpu', 'emulated'] as const) {
  describe(`moeDispatch (${kernelProfile} kernels)`, () => {
    let ctx: GpuContext;
    beforeAll(async () => {
      ctx = await testContext({ kernelProfile });
    });
    afterAll(() => ctx.dispose());

    async function check(
      rng: Rng,
      indices: Uint32Array,
      N: number,
      k: number,
      E: number,
      capacity: number,
      tileRows?: number,
    ): Promise<PlanRef> {
      const rec = ctx.recorder();
      const it_ = ctx.upload(indices, [N, k], 'u32');
      const plan = moeDispatch(rec, it_, E, { capacity, tileRows });
      rec.submit();
      const got = await readPlan(ctx, plan);
      const tr = tileRows ?? planTileRows(ctx, N, k, E);
      expect(plan.tileRows).toBe(tr);
      assertPlan(got, dispatchRef(indices, N, k, E, capacity, tr), `seed ${rng.seed}`);
      plan.dispose();
      it_.dispose();
      return got;
    }

    for (const N of [1, 3, 257]) {
      for (const E of [1, 3, 8, 32]) {
        for (const k of [1, 2]) {
          for (const capacity of [0, Math.max(1, Math.floor((N * k) / E / 2))]) {
            it(`N=${N} E=${E} k=${k} capacity=${capacity || 'none'}`, async () => {
              const rng = new Rng();
              const pool = Array.from({ length: E }, (_, e) => e);
              await check(rng, choices(rng, N, k, pool), N, k, E, capacity, [16, 64, undefined][rng.int(3)]);
            });
          }
        }
      }
    }

    it('leaves empty experts empty (zero-length segments, no tiles)', async () => {
      const rng = new Rng();
      const got = await check(rng, choices(rng, 100, 2, [1, 4, 5]), 100, 2, 8, 0, 16);
      expect(got.counts[0]).toBe(0);
      expect(got.tileOffsets[1]).toBe(0);
    });

    it('puts every token on one expert', async () => {
      const rng = new Rng();
      const got = await check(rng, new Uint32Array(257).fill(6), 257, 1, 8, 0, 64);
      expect(Array.from(got.order)).toEqual(Array.from({ length: 257 }, (_, i) => i));
      expect(got.tileOffsets[8]).toBe(5);
    });

    it('drops overflow by GShard priority: first choices, then second, in token order', async () => {
      // 4 tokens, k=2, everything on experts 0 and 1; capacity 3.
      const idx = Uint32Array.from([0, 1, 1, 0, 0, 1, 0, 1]);
      const got = await check(new Rng(), idx, 4, 2, 2, 3, 16);
      // Expert 0: first choices of tokens 0, 2, 3 (a = 0, 4, 6); the second choice of token 1 (a = 3) is dropped.
      // Expert 1: first choice of token 1 (a = 2), then second choices of tokens 0, 2 (a = 1, 5); token 3's (a = 7) dropped.
      expect(Array.from(got.order)).toEqual([0, 4, 6, 2, 1, 5]);
      expect(got.slotOf[3]).toBe(0xffffffff);
      expect(got.slotOf[7]).toBe(0xffffffff);
    });

    it('drops expert ids out of range and handles more experts than one scan chunk', async () => {
      const rng = new Rng();
      const idx = choices(
        rng,
        300,
        2,
        Array.from({ length: 310 }, (_, e) => e),
      );
      await check(rng, idx, 300, 2, 300, 0, 16);
      await check(
        rng,
        choices(
          rng,
          700,
          2,
          Array.from({ length: 5 }, (_, e) => e),
        ),
        700,
        2,
        5,
        200,
        32,
      );
    });

    it('rejects bad inputs with a typed error before dispatching', () => {
      const rec = ctx.recorder();
      const idx = ctx.upload(new Uint32Array(6), [3, 2], 'u32');
      expect(() => moeDispatch(rec, ctx.upload(new Float32Array(6), [3, 2]), 4)).toThrow(KernelInputError);
      expect(() => moeDispatch(rec, ctx.upload(new Uint32Array(6), [6], 'u32'), 4)).toThrow(KernelInputError);
      expect(() => moeDispatch(rec, idx, 0)).toThrow(KernelInputError);
      expect(() => moeDispatch(rec, idx, 2.5)).toThrow(KernelInputError);
      expect(() => moeDispatch(rec, idx, 4, { capacity: -1 })).toThrow(KernelInputError);
      expect(() => moeDispatch(rec, idx, 4, { tileRows: 0 })).toThrow(KernelInputError);
      expect(rec.pendingDispatches).toBe(0);
    });
  });
}

describe('moeDispatch -> moeCombine', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  /** Expert output by slot = the row of x of the slot's token (what an identity expert would give). */
  function gathered(x: Float32Array, order: Uint32Array, N: number, k: number, D: number): Float32Array {
    const out = new Float32Array(N * k * D);
    order.forEach((a, s) => {
      const n = Math.floor(a / k);
      out.set(x.subarray(n * D, (n + 1) * D), s * D);
    });
    return out;
  }

  async function planFor(
    rec: Recorder,
    idx: Uint32Array,
    N: number,
    k: number,
    E: number,
    capacity = 0,
  ): Promise<{ plan: DispatchPlan; ref: PlanRef; it_: Tensor }> {
    const it_ = ctx.upload(idx, [N, k], 'u32');
    const plan = moeDispatch(rec, it_, E, { capacity });
    rec.submit();
    return { plan, ref: await readPlan(ctx, plan), it_ };
  }

  for (const [N, E, D] of [
    [1, 1, 1],
    [3, 3, 7],
    [257, 8, 33],
  ] as const) {
    it(`k=1 round trip returns x exactly (N=${N}, E=${E}, D=${D})`, async () => {
      const rng = new Rng();
      const x = rng.array(N * D);
      const rec = ctx.recorder();
      const { plan, ref, it_ } = await planFor(rec, choices(rng, N, 1, [...Array(E).keys()]), N, 1, E);
      const eo = ctx.upload(gathered(x, ref.order, N, 1, D), [N, D]);
      const w = ctx.upload(new Float32Array(N).fill(1), [N, 1]);
      const y = moeCombine(rec, eo, plan, w);
      rec.submit();
      assertExact(await ctx.read(y), x, `seed ${rng.seed} y`);
      for (const t of [it_, eo, w, y]) t.dispose();
      plan.dispose();
    });

    it(`k=2 gather with weights summing to 1, plus a residual (N=${N}, E=${E}, D=${D})`, async () => {
      const rng = new Rng();
      const k = Math.min(2, E);
      const x = rng.array(N * D);
      const res = rng.array(N * D);
      const wts = new Float32Array(N * k);
      for (let n = 0; n < N; n++) {
        const a = rng.next();
        wts[n * k] = k === 1 ? 1 : a;
        if (k === 2) wts[n * k + 1] = 1 - a;
      }
      const rec = ctx.recorder();
      const { plan, ref, it_ } = await planFor(rec, choices(rng, N, k, [...Array(E).keys()]), N, k, E);
      const eoData = gathered(x, ref.order, N, k, D);
      const eo = ctx.upload(eoData, [N * k, D]);
      const w = ctx.upload(wts, [N, k]);
      const r = ctx.upload(res, [N, D]);
      const y = moeCombine(rec, eo, plan, w, { residual: r });
      rec.submit();
      const got = await ctx.read(y);
      assertClose(got, combineRef(eoData, ref.slotOf, wts, N, k, D, res), TOL.f32, `seed ${rng.seed} y`);
      const xr = x.map((v, i) => v + (res[i] as number));
      assertClose(got, xr, TOL.f32, `seed ${rng.seed} y vs x + residual`);
      for (const t of [it_, eo, w, r, y]) t.dispose();
      plan.dispose();
    });
  }

  it('dropped assignments are skipped; fully dropped tokens pass only the residual', async () => {
    const rng = new Rng();
    const [N, k, E, D, cap] = [40, 2, 2, 5, 7];
    const idx = choices(rng, N, k, [0, 1]);
    const x = rng.array(N * D);
    const res = rng.array(N * D);
    const wts = rng.array(N * k, 0, 1);
    const rec = ctx.recorder();
    const { plan, ref, it_ } = await planFor(rec, idx, N, k, E, cap);
    expect(ref.offsets[E]).toBe(2 * cap);
    const eoData = gathered(x, ref.order, N, k, D);
    const eo = ctx.upload(eoData, [N * k, D]);
    const w = ctx.upload(wts, [N, k]);
    const r = ctx.upload(res, [N, D]);
    const y = moeCombine(rec, eo, plan, w, { residual: r });
    rec.submit();
    const got = await ctx.read(y);
    assertClose(got, combineRef(eoData, ref.slotOf, wts, N, k, D, res), TOL.f32, `seed ${rng.seed}`);
    let fullyDropped = 0;
    for (let n = 0; n < N; n++) {
      if (ref.slotOf[n * k] === 0xffffffff && ref.slotOf[n * k + 1] === 0xffffffff) {
        fullyDropped++;
        assertExact(got.subarray(n * D, (n + 1) * D), res.subarray(n * D, (n + 1) * D), `token ${n}`);
      }
    }
    expect(fullyDropped).toBeGreaterThan(0);
    for (const t of [it_, eo, w, r, y]) t.dispose();
    plan.dispose();
  });

  it('adds in place when the residual is also the output', async () => {
    const rng = new Rng();
    const [N, D] = [9, 6];
    const x = rng.array(N * D);
    const res = rng.array(N * D);
    const rec = ctx.recorder();
    const { plan, ref, it_ } = await planFor(rec, choices(rng, N, 1, [0, 1, 2]), N, 1, 3);
    const eo = ctx.upload(gathered(x, ref.order, N, 1, D), [N, D]);
    const w = ctx.upload(new Float32Array(N).fill(1), [N, 1]);
    const r = ctx.upload(res, [N, D]);
    const y = moeCombine(rec, eo, plan, w, { residual: r, out: r });
    rec.submit();
    expect(y).toBe(r);
    assertExact(
      await ctx.read(y),
      x.map((v, i) => Math.fround(v + (res[i] as number))),
      `seed ${rng.seed}`,
    );
    for (const t of [it_, eo, w, r]) t.dispose();
    plan.dispose();
  });

  it('rejects bad inputs with a typed error before dispatching', async () => {
    const rec = ctx.recorder();
    const { plan } = await planFor(rec, Uint32Array.from([0, 1, 1, 0, 2, 0]), 3, 2, 3);
    const eo = ctx.empty([6, 4]);
    const w = ctx.empty([3, 2]);
    expect(() => moeCombine(rec, ctx.empty([5, 4]), plan, w)).toThrow(KernelInputError);
    expect(() => moeCombine(rec, eo, plan, ctx.empty([3, 1]))).toThrow(KernelInputError);
    expect(() => moeCombine(rec, eo, plan, ctx.empty([3, 2], 'u32'))).toThrow(KernelInputError);
    expect(() => moeCombine(rec, eo, plan, w, { residual: ctx.empty([3, 5]) })).toThrow(KernelInputError);
    expect(() => moeCombine(rec, eo, plan, w, { out: ctx.empty([4, 4]) })).toThrow(KernelInputError);
    expect(rec.pendingDispatches).toBe(0);
    plan.dispose();
  });
});
