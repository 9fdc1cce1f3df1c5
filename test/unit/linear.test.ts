import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError, LimitExceededError } from '../../src/gpu';
import { linear } from '../../src/kernels/linear';
import { assertClose, TOL } from '../reference/compare';
import { layerNormRef } from '../reference/layer-norm';
import { linearRef } from '../reference/linear';
import { Rng, roundF16 } from '../reference/random';
import { KERNEL_MODES, modeContext, testContext } from '../setup/gpu';

// Awkward shapes: up to 32 rows take the few-rows entry points (1, 3, 8, 9 rows), 33 and 257 rows the 64x64 tile;
// odd feature counts.
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [1, 3, 257],
  [3, 257, 33],
  [8, 64, 100],
  [9, 17, 5],
  [33, 40, 24],
  [257, 130, 70],
];

// Both kernel profiles: 'gpu' takes `main_rows` for up to 32 rows, 'emulated' (CPU emulations) `main_cols`.
for (const kmode of KERNEL_MODES) {
  const [mode, kernelProfile] = kmode;
  describe(`linear (${mode}, ${kernelProfile} kernels)`, () => {
    let ctx: GpuContext;
    beforeAll(async () => {
      ctx = await modeContext(kmode);
      expect(ctx.kernelProfile).toBe(kernelProfile);
    });
    afterAll(() => ctx.dispose());

    for (const wdtype of ['f32', 'f16'] as const) {
      for (const [M, N, K] of SHAPES) {
        for (const relu of [false, true]) {
          it(`${wdtype} weights, [${M}x${K}]·[${N}x${K}]ᵀ, relu=${relu}`, async () => {
            const rng = new Rng();
            const x = rng.array(M * K);
            let w = rng.array(N * K);
            let b = rng.array(N);
            if (wdtype === 'f16') {
              w = roundF16(w);
              b = roundF16(b);
            }
            const rec = ctx.recorder();
            const xt = ctx.upload(x, [M, K]);
            const wt = ctx.createWeight(w, [N, K], wdtype);
            const bt = ctx.createWeight(b, [N], wdtype);
            const y = linear(rec, xt, wt, bt, { relu });
            rec.submit();
            const got = await ctx.read(y);
            assertClose(got, linearRef(x, w, b, M, N, K, relu), TOL[wdtype], `seed ${rng.seed}`);
            for (const t of [xt, wt, bt, y]) t.dispose();
          });
        }
      }
    }

    it('f16 weights with an f32 bias and a column scale after ReLU (extracted sub-networks)', async () => {
      const rng = new Rng();
      for (const [M, N, K] of [
        [1, 37, 19],
        [9, 130, 33],
      ] as const) {
        const x = rng.array(M * K);
        const w = roundF16(rng.array(N * K));
        const b = rng.array(N);
        const sc = rng.array(N, 0, 1);
        const rec = ctx.recorder();
        const xt = ctx.upload(x, [M, K]);
        const wt = ctx.createWeight(w, [N, K], 'f16');
        const bt = ctx.createWeight(b, [N], 'f32');
        const st = ctx.createWeight(sc, [N], 'f32');
        const y = linear(rec, xt, wt, bt, { relu: true, scale: st });
        rec.submit();
        const ref = linearRef(x, w, b, M, N, K, true).map((v, i) => v * (sc[i % N] as number));
        assertClose(await ctx.read(y), ref, TOL.f16, `M=${M} seed ${rng.seed}`);
        for (const t of [xt, wt, bt, st, y]) t.dispose();
      }
    });

    // Decode-step fusions: a layer norm on x's rows, accumulation into out (a residual) and a strided output layout
    // (a KV-cache slot). K crosses the 256-wide staging chunk (300, 513); rows 1, 5, 8 and 9 (two row groups).
    for (const ndtype of ['f32', 'f16'] as const) {
      for (const [M, N, K] of [
        [1, 33, 7],
        [5, 64, 300],
        [8, 17, 256],
        [9, 40, 513],
        [32, 3, 64],
      ] as const) {
        it(`fused layer norm (${ndtype} gamma/beta) + accumulate + strided out, [${M}x${K}]·[${N}x${K}]ᵀ`, async () => {
          const rng = new Rng();
          // A large row mean with a small spread exercises the shifted statistics.
          const x = rng.array(M * K).map((v, i) => (i % 3 === 0 ? v : 50 + 0.01 * v));
          const w = roundF16(rng.array(N * K));
          const b = roundF16(rng.array(N));
          let gamma = rng.array(K, 0.5, 1.5);
          let beta = rng.array(K);
          if (ndtype === 'f16') {
            gamma = roundF16(gamma);
            beta = roundF16(beta);
          }
          const stride = N + 5;
          const offset = 3;
          const init = rng.array(offset + M * stride + 2);
          const rec = ctx.recorder();
          const xt = ctx.upload(x, [M, K]);
          const wt = ctx.createWeight(w, [N, K], 'f16');
          const bt = ctx.createWeight(b, [N], 'f16');
          const gt = ctx.createWeight(gamma, [K], ndtype);
          const bet = ctx.createWeight(beta, [K], ndtype);
          const out = ctx.upload(init, [init.length]);
          linear(rec, xt, wt, bt, {
            relu: true,
            norm: { gamma: gt, beta: bet, eps: 1e-5 },
            out,
            accumulate: true,
            outLayout: { offset, rowStride: stride },
          });
          rec.submit();
          const y = linearRef(layerNormRef(x, gamma, beta, M, K), w, b, M, N, K, true);
          const want = Float64Array.from(init);
          for (let m = 0; m < M; m++) {
            for (let n = 0; n < N; n++)
              want[offset + m * stride + n] = (want[offset + m * stride + n] as number) + (y[m * N + n] as number);
          }
          // Elements outside the layout are untouched (compared exactly via the same tolerance on unchanged values).
          assertClose(await ctx.read(out), want, TOL.f16, `seed ${rng.seed}`);
          for (const t of [xt, wt, bt, gt, bet, out]) t.dispose();
        });
      }
    }

    it('accumulates and writes a strided layout on the tiled entry point too (33+ rows)', async () => {
      const rng = new Rng();
      const [M, N, K] = [70, 20, 37];
      const x = rng.array(M * K);
      const w = rng.array(N * K);
      const stride = 2 * N;
      const init = rng.array(M * stride);
      const rec = ctx.recorder();
      const xt = ctx.upload(x, [M, K]);
      const wt = ctx.createWeight(w, [N, K], 'f32');
      const out = ctx.upload(init, [M, stride]);
      linear(rec, xt, wt, null, { out, accumulate: true, outLayout: { offset: N, rowStride: stride } });
      rec.submit();
      const y = linearRef(x, w, null, M, N, K);
      const want = Float64Array.from(init);
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++)
          want[N + m * stride + n] = (want[N + m * stride + n] as number) + (y[m * N + n] as number);
      assertClose(await ctx.read(out), want, TOL.f32, `seed ${rng.seed}`);
      for (const t of [xt, wt, out]) t.dispose();
    });
  });
}

describe('linear input validation', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  it('rejects bad inputs with a typed error before dispatching', () => {
    const rec = ctx.recorder();
    const x = ctx.upload(new Float32Array(6), [2, 3]);
    const w = ctx.createWeight(new Float32Array(8), [2, 4], 'f32');
    const w3 = ctx.createWeight(new Float32Array(12), [2, 2, 3], 'f32');
    const wi = ctx.createWeight(new Uint32Array(6), [2, 3], 'u32');
    expect(() => linear(rec, x, w, null)).toThrow(KernelInputError);
    expect(() => linear(rec, x, wi, null)).toThrow(KernelInputError);
    expect(() => linear(rec, x, w3, null)).toThrow(KernelInputError);
    const w23 = ctx.createWeight(new Float32Array(6), [2, 3], 'f32');
    const g3 = ctx.createWeight(new Float32Array(3).fill(1), [3], 'f32');
    const g4 = ctx.createWeight(new Float32Array(4).fill(1), [4], 'f32');
    const out = ctx.empty([2, 4]);
    expect(() => linear(rec, x, w23, null, { accumulate: true })).toThrow(/need an out tensor/);
    expect(() => linear(rec, x, w23, null, { out, outLayout: { offset: 3, rowStride: 4 } })).toThrow(/past the end/);
    expect(() => linear(rec, x, w23, null, { out, outLayout: { offset: 0, rowStride: 1 } })).toThrow(/rowStride/);
    expect(() => linear(rec, x, w23, null, { norm: { gamma: g4, beta: g4, eps: 1e-5 } })).toThrow(/must be \[3\]/);
    expect(() => linear(rec, x, w23, null, { norm: { gamma: g3, beta: g3, eps: 0 } })).toThrow(/eps/);
    const big = ctx.empty([33, 3]);
    expect(() => linear(rec, big, w23, null, { norm: { gamma: g3, beta: g3, eps: 1e-5 } })).toThrow(/at most 32/);
    expect(() => linear(rec, x, w23, null, { out: x.reshape([3, 2]) })).toThrow(KernelInputError);
    expect(rec.pendingDispatches).toBe(0);
    for (const t of [w23, g3, g4, out, big]) t.dispose();
  });

  it('rejects a tensor over the storage-binding limit', () => {
    const max = ctx.limits.maxStorageBufferBindingSize;
    const K = 1024;
    const rows = Math.floor(max / (4 * K)) + 1;
    const rec = ctx.recorder();
    const x = ctx.empty([rows, K]);
    const w = ctx.createWeight(new Float32Array(K), [1, K], 'f32');
    expect(() => linear(rec, x, w, null)).toThrow(LimitExceededError);
    expect(rec.pendingDispatches).toBe(0);
    x.dispose();
  });

  it('compiles ahead and never on the hot path once prepared', async () => {
    const { linearSources } = await import('../../src/kernels/linear');
    await ctx.pipelines.prepareAll(linearSources(ctx, 'f16'));
    const before = ctx.pipelines.syncCompiles;
    const rec = ctx.recorder();
    const x = ctx.upload(new Float32Array(4 * 6).fill(1), [4, 6]);
    const w = ctx.createWeight(new Float32Array(6 * 5).fill(0.5), [5, 6], 'f16');
    const y = linear(rec, x, w, null);
    rec.submit();
    expect(Array.from(await ctx.read(y))).toEqual(new Array(20).fill(3));
    expect(ctx.pipelines.syncCompiles).toBe(before);
  });
});
