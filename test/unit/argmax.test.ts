import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError } from '../../src/gpu';
import { argmax, argmaxSources, topk } from '../../src/kernels/argmax';
import { argmaxRef, topkRef } from '../reference/argmax';
import { assertExact } from '../reference/compare';
import { Rng } from '../reference/random';
import { testContext } from '../setup/gpu';

// Indices must match the reference exactly (assertExact), and values are copies of inputs, so they must match
// exactly too: no tolerance anywhere in this file.

/** Random row data with many ties: values from a small set, and in each row the maximum planted at several places. */
function tiedRows(rng: Rng, rows: number, N: number, levels: number): Float32Array {
  const x = new Float32Array(rows * N);
  for (let i = 0; i < x.length; i++) x[i] = rng.int(levels) - levels / 2;
  for (let r = 0; r < rows; r++) {
    const copies = 1 + rng.int(4);
    for (let c = 0; c < copies; c++) x[r * N + rng.int(N)] = levels;
  }
  return x;
}

/** Bit-for-bit equality of copied values (NaN equals NaN, -0 differs from +0). */
function sameFloats(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i]))
      throw new Error(`${what}: element #${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

// [rows, N]: 1 and 3 entries (fewer than the workgroup's threads), 257 both ways, greedy decoding of 8 rows over an
// 8000-word vocabulary, and 32003 entries.
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [3, 3],
  [257, 3],
  [3, 257],
  [8, 8000],
  [2, 32003],
];

describe('argmax', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  for (const [rows, N] of SHAPES) {
    for (const ties of [false, true]) {
      it(`[${rows}, ${N}]${ties ? ' with ties' : ''}`, async () => {
        const rng = new Rng();
        const x = ties ? tiedRows(rng, rows, N, 6) : rng.array(rows * N, -10, 10);
        const xt = ctx.upload(x, [rows, N]);
        const rec = ctx.recorder();
        const y = argmax(rec, xt);
        rec.submit();
        expect(y.shape).toEqual([rows]);
        expect(y.dtype).toBe('u32');
        assertExact(await ctx.read(y), argmaxRef(x, rows, N), `seed ${rng.seed}`);
        xt.dispose();
        y.dispose();
      });
    }
  }

  it('ranks NaN below everything, -0 with +0, and breaks ties to the lower index', async () => {
    const inf = Number.POSITIVE_INFINITY;
    const rows = [
      [NaN, 1, NaN, 1, 0],
      [NaN, NaN, NaN, NaN, NaN],
      [NaN, -inf, NaN, -inf, NaN],
      [-0, 0, -1, -0, -2],
      [0, -0, -1, 0, -2],
      [-5, inf, 3, inf, NaN],
      [-3, -2, -1, -1, -7],
    ];
    const N = 5;
    const x = Float32Array.from(rows.flat());
    const xt = ctx.upload(x, [rows.length, N]);
    const rec = ctx.recorder();
    const y = argmax(rec, xt);
    rec.submit();
    const got = await ctx.read(y);
    assertExact(got, argmaxRef(x, rows.length, N));
    assertExact(got, [1, 0, 1, 0, 0, 1, 2]);
  });

  it('handles a rank-1 input and more rows than one grid dimension holds', async () => {
    const rng = new Rng();
    const one = rng.array(1000);
    const ot = ctx.upload(one, [1000]);
    const rows = ctx.limits.maxComputeWorkgroupsPerDimension + 3;
    const x = tiedRows(rng, rows, 2, 2);
    const xt = ctx.upload(x, [rows, 2]);
    const rec = ctx.recorder();
    const y1 = argmax(rec, ot);
    const y = argmax(rec, xt);
    rec.submit();
    expect(y1.shape).toEqual([]);
    assertExact(await ctx.read(y1), argmaxRef(one, 1, 1000), `rank 1, seed ${rng.seed}`);
    assertExact(await ctx.read(y), argmaxRef(x, rows, 2), `many rows, seed ${rng.seed}`);
  });
});

describe('topk', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  for (const [rows, N] of SHAPES) {
    for (const k of [1, 3, 16]) {
      if (k > N) continue;
      it(`[${rows}, ${N}], k = ${k}, with ties`, async () => {
        const rng = new Rng();
        // Few levels: ties at the cut and inside the top k, in every row.
        const x = tiedRows(rng, rows, N, 8);
        const xt = ctx.upload(x, [rows, N]);
        const rec = ctx.recorder();
        const { values, indices } = topk(rec, xt, k);
        rec.submit();
        expect(values.shape).toEqual([rows, k]);
        expect(indices.shape).toEqual([rows, k]);
        const ref = topkRef(x, rows, N, k);
        assertExact(await ctx.read(indices), ref.indices, `indices, seed ${rng.seed}`);
        assertExact(await ctx.read(values), ref.values, `values, seed ${rng.seed}`);
        for (const t of [xt, values, indices]) t.dispose();
      });
    }
  }

  it('matches the reference on beam-search log-probabilities (distinct values), k = N and k = 16', async () => {
    const rng = new Rng();
    const cases: Array<[number, number, number]> = [
      [4, 8000, 8],
      [1, 16, 16],
      [5, 3, 3],
      [2, 300, 16],
    ];
    for (const [rows, N, k] of cases) {
      const x = rng.array(rows * N, -30, 0);
      const xt = ctx.upload(x, [1, rows, N]);
      const rec = ctx.recorder();
      const { values, indices } = topk(rec, xt, k);
      rec.submit();
      expect(indices.shape).toEqual([1, rows, k]);
      const ref = topkRef(x, rows, N, k);
      assertExact(await ctx.read(indices), ref.indices, `[${rows}, ${N}] k ${k} indices, seed ${rng.seed}`);
      assertExact(await ctx.read(values), ref.values, `[${rows}, ${N}] k ${k} values, seed ${rng.seed}`);
    }
  });

  it('orders NaN last, keeps -inf above it and breaks every tie to the lower index', async () => {
    const inf = Number.POSITIVE_INFINITY;
    const rows = [
      [NaN, 1, NaN, 1, 0, -inf, 2, -inf],
      [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN],
      [-0, 0, -1, -0, -2, 0, -inf, inf],
      [3, 3, 3, 3, 3, 3, 3, 3],
    ];
    const N = 8;
    const k = 6;
    const x = Float32Array.from(rows.flat());
    const xt = ctx.upload(x, [rows.length, N]);
    const rec = ctx.recorder();
    const { values, indices } = topk(rec, xt, k);
    rec.submit();
    const gi = await ctx.read(indices);
    const ref = topkRef(x, rows.length, N, k);
    assertExact(gi, ref.indices);
    assertExact(gi.subarray(0, k), [6, 1, 3, 4, 5, 7]);
    assertExact(gi.subarray(k, 2 * k), [0, 1, 2, 3, 4, 5]);
    assertExact(gi.subarray(2 * k, 3 * k), [7, 0, 1, 3, 5, 2]);
    sameFloats(await ctx.read(values), ref.values, 'values');
  });

  it('rejects bad inputs with a typed error before dispatching', () => {
    const rec = ctx.recorder();
    const x = ctx.upload(new Float32Array(20), [2, 10]);
    const x3 = ctx.upload(new Float32Array(6), [2, 3]);
    const big = ctx.empty([1, 40]);
    for (const k of [0, -1, 1.5, 17, Number.NaN]) expect(() => topk(rec, big, k)).toThrow(KernelInputError);
    expect(() => topk(rec, x3, 4)).toThrow(/k must be/);
    expect(() => topk(rec, ctx.upload(new Uint32Array(4), [4], 'u32'), 1)).toThrow(KernelInputError);
    expect(() => argmax(rec, ctx.upload(new Float32Array(4), [4], 'f16'))).toThrow(KernelInputError);
    expect(() => argmax(rec, ctx.empty([2, 0]))).toThrow(KernelInputError);
    expect(() => argmax(rec, ctx.empty([]))).toThrow(/rank/);
    x.dispose();
    expect(() => argmax(rec, x)).toThrow(/disposed/);
    expect(rec.pendingDispatches).toBe(0);
  });

  it('compiles ahead and never on the hot path once prepared', async () => {
    await ctx.pipelines.prepareAll(argmaxSources());
    const before = ctx.pipelines.syncCompiles;
    const x = ctx.upload([0.5, 2, -1, 2], [1, 4]);
    const rec = ctx.recorder();
    const a = argmax(rec, x);
    const t = topk(rec, x, 3);
    rec.submit();
    assertExact(await ctx.read(a), [1]);
    assertExact(await ctx.read(t.indices), [1, 3, 0]);
    assertExact(await ctx.read(t.values), [2, 2, 0.5]);
    expect(ctx.pipelines.syncCompiles).toBe(before);
  });
});
