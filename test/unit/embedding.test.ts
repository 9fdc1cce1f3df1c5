import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError } from '../../src/gpu';
import { embedding, embeddingSources, sinusoidFrequencies } from '../../src/kernels/embedding';
import { assertClose, TOL, type Tolerance } from '../reference/compare';
import { embeddingRef, sinusoid } from '../reference/embedding';
import { Rng, roundF16 } from '../reference/random';
import { testContext } from '../setup/gpu';

// Tolerance: TOL.f32 for f32 and f16 tables alike (f16 values are rounded identically on both sides; what remains is
// one f32 multiply-add and the position encoding, which is within ~1e-6 of the f64 sinusoid below position 4096).
// The position-only test states a tighter bound for the encoding itself.
const PE_TOL: Tolerance = { atol: 2e-6, rtol: 0 };

// [ids shape, V, D, posOffset]: one id, odd widths (1, 3, 257 features: an odd D ends on a sin column), a batch of
// sequences, a decoding step [B, 1] at position 37.
const CASES: Array<[number[], number, number, number]> = [
  [[1], 1, 1, 0],
  [[3], 5, 3, 0],
  [[2, 7], 11, 64, 0],
  [[257], 50, 5, 3],
  [[4, 1], 100, 257, 37],
];

for (const mode of ['f16 native', 'f16 packed'] as const) {
  describe(`embedding (${mode})`, () => {
    let ctx: GpuContext;
    beforeAll(async () => {
      ctx = await testContext(mode === 'f16 packed' ? { disableFeatures: ['shader-f16'] } : {});
    });
    afterAll(() => ctx.dispose());

    for (const wdtype of ['f32', 'f16'] as const) {
      for (const [shape, V, D, posOffset] of CASES) {
        for (const positions of [true, false]) {
          it(`${wdtype} table [${V}, ${D}], ids [${shape.join(', ')}], positions=${positions} from ${posOffset}`, async () => {
            const rng = new Rng();
            const n = shape.reduce((p, d) => p * d, 1);
            const T = shape[shape.length - 1] as number;
            const ids = Uint32Array.from({ length: n }, () => rng.int(V));
            let table = rng.array(V * D, -0.2, 0.2);
            if (wdtype === 'f16') table = roundF16(table);
            const scale = Math.sqrt(D);
            const idt = ctx.upload(ids, shape, 'u32');
            const tt = ctx.createWeight(table, [V, D], wdtype);
            const rec = ctx.recorder();
            const y = embedding(rec, idt, tt, { scale, positions, posOffset });
            rec.submit();
            expect(y.shape).toEqual([...shape, D]);
            const ref = embeddingRef(ids, T, table, V, D, scale, positions, posOffset);
            assertClose(await ctx.read(y), ref, TOL.f32, `seed ${rng.seed}`);
            for (const t of [idt, tt, y]) t.dispose();
          });
        }
      }
    }

    it('writes zero rows for ids outside the vocabulary (no out-of-bounds read)', async () => {
      const rng = new Rng();
      const [V, D] = [6, 10];
      const table = rng.array(V * D);
      const ids = new Uint32Array([0, V, 5, V + 5, 0xffffffff, 2]);
      const idt = ctx.upload(ids, [2, 3], 'u32');
      const tt = ctx.createWeight(table, [V, D], 'f16');
      const rec = ctx.recorder();
      const y = embedding(rec, idt, tt, { scale: 2, posOffset: 9 });
      rec.submit();
      const got = await ctx.read(y);
      const ref = embeddingRef(ids, 3, roundF16(table), V, D, 2, true, 9);
      assertClose(got, ref, TOL.f32, `seed ${rng.seed}`);
      for (const bad of [1, 3, 4])
        expect(Array.from(got.subarray(bad * D, (bad + 1) * D))).toEqual(new Array(D).fill(0));
      for (const t of [idt, tt, y]) t.dispose();
    });

    it('matches the f64 sinusoid to 2e-6 up to position 4095', async () => {
      const D = 512;
      const T = 5;
      const table = new Float32Array(D); // one zero row: the output is the encoding alone
      const tt = ctx.createWeight(table, [1, D], 'f32');
      for (const posOffset of [0, 250, 1000, 4091]) {
        const idt = ctx.upload(new Uint32Array(T), [1, T], 'u32');
        const rec = ctx.recorder();
        const y = embedding(rec, idt, tt, { posOffset });
        rec.submit();
        const ref = new Float64Array(T * D);
        for (let t = 0; t < T; t++) ref.set(sinusoid(posOffset + t, D), t * D);
        assertClose(await ctx.read(y), ref, PE_TOL, `positions ${posOffset}..${posOffset + T - 1}`);
        idt.dispose();
        y.dispose();
      }
      tt.dispose();
    });
  });
}

describe('embedding helpers and validation', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  it('splits each frequency into a 12-bit head and a small tail', () => {
    for (const D of [1, 3, 64, 512, 1023]) {
      const f = sinusoidFrequencies(D);
      expect(f.length).toBe(2 * Math.ceil(D / 2));
      for (let i = 0; i < f.length / 2; i++) {
        const hi = f[2 * i] as number;
        const lo = f[2 * i + 1] as number;
        const exact = 10000 ** (-(2 * i) / D);
        expect(Math.abs(hi + lo - exact)).toBeLessThanOrEqual(exact * 2 ** -36);
        // 12 significant bits: hi · 2^(11 - exponent) is an integer.
        expect(Number.isInteger(hi * 2 ** (11 - Math.floor(Math.log2(hi))))).toBe(true);
      }
    }
  });

  it('rejects bad inputs with a typed error before dispatching', () => {
    const rec = ctx.recorder();
    const ids = ctx.upload(new Uint32Array(4), [2, 2], 'u32');
    const idsF = ctx.upload(new Float32Array(4), [2, 2], 'f32');
    const table = ctx.createWeight(new Float32Array(12), [3, 4], 'f32');
    const table1 = ctx.createWeight(new Float32Array(12), [12], 'f32');
    const tableU = ctx.createWeight(new Uint32Array(12), [3, 4], 'u32');
    expect(() => embedding(rec, idsF, table)).toThrow(KernelInputError);
    expect(() => embedding(rec, ids, table1)).toThrow(KernelInputError);
    expect(() => embedding(rec, ids, tableU)).toThrow(KernelInputError);
    expect(() => embedding(rec, ids, table, { posOffset: -1 })).toThrow(/posOffset/);
    expect(() => embedding(rec, ids, table, { posOffset: 1.5 })).toThrow(/posOffset/);
    expect(() => embedding(rec, ids, table, { scale: Number.NaN })).toThrow(/scale/);
    expect(() => embedding(rec, ctx.upload(new Uint32Array(1), [], 'u32'), table)).toThrow(/rank/);
    expect(rec.pendingDispatches).toBe(0);
  });

  it('compiles ahead and never on the hot path once prepared', async () => {
    await ctx.pipelines.prepareAll(embeddingSources(ctx, 'f16'));
    const before = ctx.pipelines.syncCompiles;
    const ids = ctx.upload([1, 0], [2], 'u32');
    const table = ctx.createWeight([1, 2, 3, 4], [2, 2], 'f16');
    const rec = ctx.recorder();
    const y = embedding(rec, ids, table, { scale: 2, positions: false });
    rec.submit();
    expect(Array.from(await ctx.read(y))).toEqual([6, 8, 2, 4]);
    expect(ctx.pipelines.syncCompiles).toBe(before);
  });
});
