import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError } from '../../src/gpu';
import { foldTaskExperts } from '../../src/kernels/fold';
import { topKGate } from '../../src/kernels/gating-cpu';
import { linear } from '../../src/kernels/linear';
import { moeLayer, moeSources } from '../../src/model/moe-layer';
import { assertClose, assertExact, TOL } from '../reference/compare';
import { type ExpertsRef, moeLayerRef } from '../reference/moe';
import { Rng, roundF16 } from '../reference/random';
import { testContext } from '../setup/gpu';

// f32 weights read the same WGSL in both contexts, so the packed context runs only f16 weights (every pipeline is a
// slow compile on lavapipe).
const WEIGHT_DTYPES = { 'f16 native': ['f32', 'f16'], 'f16 packed': ['f16'] } as const;

/** Random experts with weights scaled by 1/sqrt(fan-in). */
function randomExperts(rng: Rng, E: number, D: number, F: number, f16: boolean): ExpertsRef {
  const r = (n: number, fan: number) => {
    const a = rng.array(n, -1 / Math.sqrt(fan), 1 / Math.sqrt(fan));
    return f16 ? roundF16(a) : a;
  };
  return { wi: r(E * F * D, D), bi: r(E * F, D), wo: r(E * D * F, F), bo: r(E * D, F), E, D, F };
}

/**
 * Multiples of 1/8 in [-1, 1]: products and sums of a few hundred of them are exact in f32 (and the values exact in
 * f16), so router logits are bit-identical on the GPU and in the f64 reference and top-k ties are real ties.
 */
function dyadic(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.int(17) - 8) / 8);
}

for (const mode of ['f16 native', 'f16 packed'] as const) {
  describe(`moeLayer (${mode})`, () => {
    let ctx: GpuContext;
    beforeAll(async () => {
      ctx = await testContext(mode === 'f16 packed' ? { disableFeatures: ['shader-f16'] } : {});
    });
    afterAll(() => ctx.dispose());

    function upload(ex: ExpertsRef, dtype: 'f32' | 'f16') {
      const { E, D, F } = ex;
      return {
        wi: ctx.createWeight(ex.wi, [E, F, D], dtype),
        bi: ctx.createWeight(ex.bi, [E, F], dtype),
        wo: ctx.createWeight(ex.wo, [E, D, F], dtype),
        bo: ctx.createWeight(ex.bo, [E, D], dtype),
      };
    }

    // [N, E, D, F, k, residual]
    const CASES: Array<[number, number, number, number, 1 | 2, boolean]> = [
      [1, 1, 5, 3, 1, false],
      [3, 3, 7, 9, 2, true],
      [257, 8, 19, 13, 2, true],
      [257, 32, 11, 6, 1, false],
      [257, 8, 9, 5, 2, true],
    ];

    for (const dtype of WEIGHT_DTYPES[mode]) {
      for (const kind of ['token', 'task'] as const) {
        for (const [N, E, D, F, k, withResidual] of CASES) {
          it(`${kind} routing, ${dtype} weights, N=${N} E=${E} D=${D} F=${F} k=${k}`, async () => {
            const rng = new Rng();
            const ex = randomExperts(rng, E, D, F, dtype === 'f16');
            const x = dyadic(rng, N * D);
            const residual = withResidual ? rng.array(N * D) : undefined;
            const T = 5;
            const gateW = dyadic(rng, E * D);
            const table = dtype === 'f16' ? roundF16(rng.array(T * E, -3, 3)) : rng.array(T * E, -3, 3);
            const taskIds = Uint32Array.from({ length: N }, () => rng.int(T));
            const rec = ctx.recorder();
            const xt = ctx.upload(x, [N, D]);
            const rt = residual ? ctx.upload(residual, [N, D]) : undefined;
            const w = upload(ex, dtype);
            const gt = ctx.createWeight(gateW, [E, D], dtype);
            const tt = ctx.createWeight(table, [T, E], dtype);
            const ids = ctx.upload(taskIds, [N], 'u32');
            const routing = kind === 'token' ? { kind, gate: gt } : { kind, table: tt, taskIds: ids };
            const out = moeLayer(rec, xt, routing, w, { k, residual: rt });
            rec.submit();
            const ref = moeLayerRef(x, N, kind === 'token' ? { kind, gate: gateW } : { kind, table, T, taskIds }, ex, {
              k,
              residual,
            });
            const what = `seed ${rng.seed}`;
            assertExact(await ctx.read(out.indices), ref.indices, `${what} indices`);
            assertClose(await ctx.read(out.weights), ref.weights, TOL.f32, `${what} weights`);
            assertClose(await ctx.read(out.y), ref.y, TOL[dtype], `${what} y`);
            for (const t of [xt, gt, tt, ids, out.y, out.indices, out.weights, ...Object.values(w)]) t.dispose();
            rt?.dispose();
          });
        }
      }
    }

    for (const dtype of WEIGHT_DTYPES[mode]) {
      it(`task extraction: folding a task's top-2 experts into one dense FFN equals task routing (${dtype} experts)`, async () => {
        const rng = new Rng();
        const [N, E, D, F, T] = [37, 8, 21, 15, 4];
        const ex = randomExperts(rng, E, D, F, dtype === 'f16');
        const table = dtype === 'f16' ? roundF16(rng.array(T * E, -3, 3)) : rng.array(T * E, -3, 3);
        const x = rng.array(N * D);
        const w = upload(ex, dtype);
        const tt = ctx.createWeight(table, [T, E], dtype);
        const xt = ctx.upload(x, [N, D]);
        for (let task = 0; task < T; task++) {
          const rec = ctx.recorder();
          const ids = ctx.upload(new Uint32Array(N).fill(task), [N], 'u32');
          const moe = moeLayer(rec, xt, { kind: 'task', table: tt, taskIds: ids }, w, { k: 2 });
          const gate = topKGate(table.subarray(task * E, (task + 1) * E), 2);
          const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
          const fold = foldTaskExperts(f32(ex.wi), f32(ex.bi), f32(ex.wo), f32(ex.bo), ex, gate.indices, gate.weights);
          expect(fold.F).toBe(2 * F);
          const fw = [
            ctx.createWeight(fold.wi, [2 * F, D], 'f32'),
            ctx.createWeight(fold.bi, [2 * F], 'f32'),
            ctx.createWeight(fold.wo, [D, 2 * F], 'f32'),
            ctx.createWeight(fold.bo, [D], 'f32'),
          ] as const;
          const h = linear(rec, xt, fw[0], fw[1], { relu: true }); // [N, 2F]
          const dense = linear(rec, h, fw[2], fw[3]); // [N, D]
          rec.submit();
          const what = `seed ${rng.seed} task ${task}`;
          const idx = await ctx.read(moe.indices);
          for (let n = 0; n < N; n++) assertExact(idx.subarray(2 * n, 2 * n + 2), gate.indices, `${what} indices`);
          assertClose(await ctx.read(moe.weights), Array(N).fill(gate.weights).flat(), TOL.f32, `${what} weights`);
          assertClose(await ctx.read(dense), await ctx.read(moe.y), TOL.f32, what);
          for (const t of [ids, moe.y, moe.indices, moe.weights, h, dense, ...fw]) t.dispose();
        }
        for (const t of [xt, tt, ...Object.values(w)]) t.dispose();
      });
    }
  });
}

describe('moeLayer validation and compilation', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  it('rejects bad inputs with a typed error before dispatching', () => {
    const [N, E, D, F] = [4, 3, 5, 6];
    const rec = ctx.recorder();
    const x = ctx.empty([N, D]);
    const w = {
      wi: ctx.createWeight(new Float32Array(E * F * D), [E, F, D], 'f32'),
      bi: ctx.createWeight(new Float32Array(E * F), [E, F], 'f32'),
      wo: ctx.createWeight(new Float32Array(E * D * F), [E, D, F], 'f32'),
      bo: ctx.createWeight(new Float32Array(E * D), [E, D], 'f32'),
    };
    const gate = ctx.createWeight(new Float32Array(E * D), [E, D], 'f32');
    const token = { kind: 'token' as const, gate };
    const table = ctx.createWeight(new Float32Array(2 * E), [2, E], 'f32');
    const ids = ctx.upload(new Uint32Array(N), [N], 'u32');
    expect(() => moeLayer(rec, x, token, w, { k: 3 as 2 })).toThrow(KernelInputError);
    expect(() => moeLayer(rec, x, token, w, { k: 2, residual: ctx.empty([N, D + 1]) })).toThrow(/residual/);
    expect(() =>
      moeLayer(rec, x, { kind: 'token', gate: ctx.createWeight(new Float32Array(E * 4), [E, 4], 'f32') }, w, { k: 1 }),
    ).toThrow(/gate/);
    expect(() => moeLayer(rec, x, { kind: 'task', table, taskIds: ctx.empty([N]) }, w, { k: 1 })).toThrow(
      KernelInputError,
    );
    expect(() =>
      moeLayer(rec, x, { kind: 'task', table: ctx.createWeight(new Float32Array(8), [2, 4], 'f32'), taskIds: ids }, w, {
        k: 1,
      }),
    ).toThrow(/table/);
    expect(() => moeLayer(rec, x, token, { ...w, bo: w.bi }, { k: 1 })).toThrow(/bo must be/);
    expect(() => moeLayer(rec, ctx.empty([N, D + 1]), token, w, { k: 1 })).toThrow(KernelInputError);
    expect(rec.pendingDispatches).toBe(0);
    expect(() =>
      foldTaskExperts(
        new Float32Array(1),
        new Float32Array(1),
        new Float32Array(1),
        new Float32Array(1),
        { E: 1, D: 1, F: 1 },
        [1],
        [1],
      ),
    ).toThrow(RangeError);
  });

  it('compiles ahead and never on the hot path once prepared', async () => {
    await ctx.pipelines.prepareAll(moeSources(ctx, 'f16'));
    const before = ctx.pipelines.syncCompiles;
    const rng = new Rng();
    const [E, D, F] = [4, 8, 8];
    const w = {
      wi: ctx.createWeight(rng.array(E * F * D), [E, F, D], 'f16'),
      bi: ctx.createWeight(rng.array(E * F), [E, F], 'f16'),
      wo: ctx.createWeight(rng.array(E * D * F), [E, D, F], 'f16'),
      bo: ctx.createWeight(rng.array(E * D), [E, D], 'f16'),
    };
    const gate = ctx.createWeight(rng.array(E * D), [E, D], 'f16');
    const table = ctx.createWeight(rng.array(3 * E), [3, E], 'f16');
    for (const N of [1, 6]) {
      const rec = ctx.recorder();
      const x = ctx.upload(rng.array(N * D), [N, D]);
      const ids = ctx.upload(new Uint32Array(N).fill(1), [N], 'u32');
      const a = moeLayer(rec, x, { kind: 'token', gate }, w, { k: 2 });
      const b = moeLayer(rec, x, { kind: 'task', table, taskIds: ids }, w, { k: 1, residual: x });
      rec.submit();
      await ctx.read(b.y);
      for (const t of [x, ids, a.y, a.indices, a.weights, b.y, b.indices, b.weights]) t.dispose();
    }
    expect(ctx.pipelines.syncCompiles).toBe(before);
  });
});
