import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError } from '../../src/gpu';
import { softmax, softmaxSources } from '../../src/kernels/softmax';
import { assertClose, TOL, type Tolerance } from '../reference/compare';
import { Rng } from '../reference/random';
import { softmaxRef } from '../reference/softmax';
import { testContext } from '../setup/gpu';

// Tolerances. Probabilities: relative, since a row of 32000 has probabilities far below TOL.f32's atol of 1e-5; f32
// exp is within a few ulp and the sum within ~1e-6 relative, so rtol 1e-4 holds, and atol 1e-9 only covers values
// that underflow to (or flush from) f32 subnormals. Log-probabilities: TOL.f32 (absolute errors ~1e-6).
const PROB_TOL: Tolerance = { atol: 1e-9, rtol: 1e-4 };
const LOG_TOL: Tolerance = TOL.f32;
const NEG_INF = Number.NEGATIVE_INFINITY;

// [rows, N]: 1 and 3 entries (fewer than the workgroup's threads), 257, a vocabulary-sized 8000 and 32003.
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [3, 3],
  [257, 5],
  [2, 257],
  [4, 8000],
  [1, 32003],
];

describe('softmax', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  for (const log of [false, true]) {
    const name = log ? 'log_softmax' : 'softmax';
    for (const [rows, N] of SHAPES) {
      it(`${name} [${rows}, ${N}]`, async () => {
        const rng = new Rng();
        const x = rng.array(rows * N, -20, 20);
        const xt = ctx.upload(x, [rows, N]);
        const rec = ctx.recorder();
        const y = softmax(rec, xt, { log });
        rec.submit();
        expect(y.shape).toEqual([rows, N]);
        assertClose(await ctx.read(y), softmaxRef(x, rows, N, log), log ? LOG_TOL : PROB_TOL, `seed ${rng.seed}`);
        xt.dispose();
        y.dispose();
      });
    }

    it(`${name} is safe for -inf, very negative and large entries`, async () => {
      const rng = new Rng();
      const N = 300;
      const rows = 4;
      const x = rng.array(rows * N, -5, 5);
      for (let i = 0; i < N; i++) {
        // Row 0: masked entries (-inf) mixed in, including the first one (the running maximum starts there).
        if (i % 3 === 0) x[i] = NEG_INF;
        // Row 1: very negative entries and one dominant logit.
        if (i % 2 === 0) x[N + i] = -1e30;
        // Row 2: large logits, whose exp overflows f32 unless the max is subtracted.
        x[2 * N + i] = 1e4 + rng.uniform(-30, 30);
        // Row 3: a single finite entry among -inf (its probability is exactly 1).
        x[3 * N + i] = i === 123 ? 50 : NEG_INF;
      }
      x[N + 7] = 80;
      const xt = ctx.upload(x, [rows, N]);
      const rec = ctx.recorder();
      const y = softmax(rec, xt, { log });
      rec.submit();
      const got = await ctx.read(y);
      const ref = softmaxRef(x, rows, N, log);
      if (log) {
        // -inf in, -inf out: compare those exactly and the finite rest with the tolerance.
        const finite = ref.map((v) => (Number.isFinite(v) ? v : 0));
        const gotFinite = got.map((v, i) => (Number.isFinite(ref[i] as number) ? v : 0));
        assertClose(gotFinite, finite, LOG_TOL, `seed ${rng.seed}`);
        for (let i = 0; i < ref.length; i++) if (ref[i] === NEG_INF) expect(got[i]).toBe(NEG_INF);
      } else {
        assertClose(got, ref, PROB_TOL, `seed ${rng.seed}`);
        expect(got[3 * N + 123]).toBe(1);
      }
      xt.dispose();
      y.dispose();
    });
  }

  it('gives NaN for a row of only -inf, as PyTorch, without touching other rows', async () => {
    const x = new Float32Array([NEG_INF, NEG_INF, NEG_INF, 0, 1, 2]);
    const xt = ctx.upload(x, [2, 3]);
    const rec = ctx.recorder();
    const p = softmax(rec, xt);
    const lp = softmax(rec, xt, { log: true });
    rec.submit();
    const gp = await ctx.read(p);
    const glp = await ctx.read(lp);
    for (let i = 0; i < 3; i++) {
      expect(gp[i]).toBeNaN();
      expect(glp[i]).toBeNaN();
    }
    assertClose(gp.subarray(3), softmaxRef(x, 2, 3).subarray(3), PROB_TOL);
    assertClose(glp.subarray(3), softmaxRef(x, 2, 3, true).subarray(3), LOG_TOL);
  });

  it('handles any leading shape and more rows than one grid dimension holds', async () => {
    const rng = new Rng();
    const rows = ctx.limits.maxComputeWorkgroupsPerDimension + 2;
    const N = 2;
    const x = rng.array(rows * N, -5, 5);
    const xt = ctx.upload(x, [1, rows, N]);
    const rec = ctx.recorder();
    const y = softmax(rec, xt, { log: true });
    rec.submit();
    assertClose(await ctx.read(y), softmaxRef(x, rows, N, true), LOG_TOL, `seed ${rng.seed}`);
    xt.dispose();
    y.dispose();
  });

  it('rejects bad inputs with a typed error before dispatching', () => {
    const rec = ctx.recorder();
    expect(() => softmax(rec, ctx.upload(new Uint32Array(4), [4], 'u32'))).toThrow(KernelInputError);
    expect(() => softmax(rec, ctx.upload(new Float32Array(4), [4], 'f16'))).toThrow(KernelInputError);
    expect(() => softmax(rec, ctx.empty([3, 0]))).toThrow(KernelInputError);
    expect(() => softmax(rec, ctx.empty([]))).toThrow(KernelInputError);
    const gone = ctx.empty([2]);
    gone.dispose();
    expect(() => softmax(rec, gone)).toThrow(/disposed/);
    expect(rec.pendingDispatches).toBe(0);
  });

  it('compiles ahead and never on the hot path once prepared', async () => {
    await ctx.pipelines.prepareAll(softmaxSources());
    const before = ctx.pipelines.syncCompiles;
    const x = ctx.upload([0, Math.log(3)], [1, 2]);
    const rec = ctx.recorder();
    const y = softmax(rec, x);
    rec.submit();
    assertClose(await ctx.read(y), [0.25, 0.75], PROB_TOL);
    expect(ctx.pipelines.syncCompiles).toBe(before);
  });
});
