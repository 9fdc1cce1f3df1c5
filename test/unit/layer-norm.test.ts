import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError } from '../../src/gpu';
import { layerNorm, layerNormSources } from '../../src/kernels/layer-norm';
import { assertClose, TOL } from '../reference/compare';
import { layerNormRef } from '../reference/layer-norm';
import { Rng, roundF16 } from '../reference/random';
import { KERNEL_MODES, modeContext, testContext } from '../setup/gpu';

// Tolerance: TOL.f32 for f32 and f16 weights alike. f16 gamma/beta are rounded identically on both sides, so the
// only error is the kernel's f32 arithmetic on outputs of magnitude ~1-3.
// [rows, D]: D = 1 and 3 are awkward (fewer features than threads), 257 and 3000 stride past the workgroup size.
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [3, 3],
  [1, 257],
  [257, 3],
  [5, 512],
  [2, 2048],
  [1, 3000],
];

// Both kernel profiles: a workgroup per row ('gpu') or a thread per row ('emulated').
for (const kmode of KERNEL_MODES) {
  const [mode, kernelProfile] = kmode;
  describe(`layer_norm (${mode}, ${kernelProfile} kernels)`, () => {
    let ctx: GpuContext;
    beforeAll(async () => {
      ctx = await modeContext(kmode);
    });
    afterAll(() => ctx.dispose());

    for (const wdtype of ['f32', 'f16'] as const) {
      for (const [rows, D] of SHAPES) {
        it(`${wdtype} weights, [${rows}, ${D}]`, async () => {
          const rng = new Rng();
          const x = rng.array(rows * D, -3, 3);
          let gamma = rng.array(D, 0.5, 1.5);
          let beta = rng.array(D, -0.5, 0.5);
          if (wdtype === 'f16') {
            gamma = roundF16(gamma);
            beta = roundF16(beta);
          }
          const xt = ctx.upload(x, [rows, D]);
          const gt = ctx.createWeight(gamma, [D], wdtype);
          const bt = ctx.createWeight(beta, [D], wdtype);
          const rec = ctx.recorder();
          const y = layerNorm(rec, xt, gt, bt);
          rec.submit();
          expect(y.shape).toEqual([rows, D]);
          assertClose(await ctx.read(y), layerNormRef(x, gamma, beta, rows, D), TOL.f32, `seed ${rng.seed}`);
          for (const t of [xt, gt, bt, y]) t.dispose();
        });
      }
    }

    it('stays accurate for rows with a large mean and a small variance', async () => {
      const rng = new Rng();
      const D = 512;
      // Mean 1000 with std 0.01 and 1, mean -1000 with std 0.1: E[x²] - E[x]² in f32 would be all noise here.
      const rows: Array<[number, number]> = [
        [1000, 0.01],
        [1000, 1],
        [-1000, 0.1],
        [0, 1],
      ];
      const x = new Float32Array(rows.length * D);
      rows.forEach(([mean, std], r) => {
        for (let i = 0; i < D; i++) x[r * D + i] = mean + rng.normal(std);
      });
      const gamma = roundF16(rng.array(D, 0.5, 1.5));
      const beta = roundF16(rng.array(D, -0.5, 0.5));
      const xt = ctx.upload(x, [2, 2, D]);
      const gt = ctx.createWeight(gamma, [D], 'f16');
      const bt = ctx.createWeight(beta, [D], 'f16');
      const out = ctx.empty([2, 2, D]);
      const rec = ctx.recorder();
      expect(layerNorm(rec, xt, gt, bt, 1e-5, { out })).toBe(out);
      rec.submit();
      assertClose(await ctx.read(out), layerNormRef(x, gamma, beta, rows.length, D), TOL.f32, `seed ${rng.seed}`);
      for (const t of [xt, gt, bt, out]) t.dispose();
    });

    it('uses eps as given (a constant row normalises to beta)', async () => {
      const D = 7;
      const rng = new Rng();
      const x = new Float32Array(2 * D).fill(5);
      for (let i = 0; i < D; i++) x[D + i] = rng.uniform();
      const gamma = rng.array(D);
      const beta = rng.array(D);
      const xt = ctx.upload(x, [2, D]);
      const gt = ctx.createWeight(gamma, [D], 'f32');
      const bt = ctx.createWeight(beta, [D], 'f32');
      const rec = ctx.recorder();
      const y = layerNorm(rec, xt, gt, bt, 0.5);
      rec.submit();
      assertClose(await ctx.read(y), layerNormRef(x, gamma, beta, 2, D, 0.5), TOL.f32, `seed ${rng.seed}`);
      for (const t of [xt, gt, bt, y]) t.dispose();
    });
  });
}

describe('layer_norm input validation', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  it('rejects bad inputs with a typed error before dispatching', () => {
    const rec = ctx.recorder();
    const x = ctx.upload(new Float32Array(8), [2, 4]);
    const g4 = ctx.createWeight(new Float32Array(4), [4], 'f32');
    const g3 = ctx.createWeight(new Float32Array(3), [3], 'f32');
    const h4 = ctx.createWeight(new Float32Array(4), [4], 'f16');
    const g22 = ctx.createWeight(new Float32Array(4), [2, 2], 'f32');
    const xi = ctx.upload(new Uint32Array(8), [2, 4], 'u32');
    const x0 = ctx.empty([2, 0]);
    expect(() => layerNorm(rec, x, g3, g3)).toThrow(KernelInputError);
    expect(() => layerNorm(rec, x, g4, h4)).toThrow(/dtype/);
    expect(() => layerNorm(rec, x, g22, g4)).toThrow(KernelInputError);
    expect(() => layerNorm(rec, xi, g4, g4)).toThrow(KernelInputError);
    expect(() => layerNorm(rec, x0, g4, g4)).toThrow(KernelInputError);
    expect(() => layerNorm(rec, x, g4, g4, -1)).toThrow(/eps/);
    expect(() => layerNorm(rec, x, g4, g4, 1e-5, { out: x })).toThrow(/in place/);
    expect(() => layerNorm(rec, x, g4, g4, 1e-5, { out: ctx.empty([3]) })).toThrow(/out/);
    expect(rec.pendingDispatches).toBe(0);
  });

  it('compiles ahead and never on the hot path once prepared', async () => {
    await ctx.pipelines.prepareAll(layerNormSources(ctx, 'f16'));
    const before = ctx.pipelines.syncCompiles;
    const x = ctx.upload([1, 2, 3, 4], [1, 4]);
    const g = ctx.createWeight([1, 1, 1, 1], [4], 'f16');
    const b = ctx.createWeight([0, 0, 0, 0], [4], 'f16');
    const rec = ctx.recorder();
    const y = layerNorm(rec, x, g, b, 0);
    rec.submit();
    assertClose(await ctx.read(y), [-1.3416408, -0.4472136, 0.4472136, 1.3416408], TOL.f32);
    expect(ctx.pipelines.syncCompiles).toBe(before);
  });
});
