import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError, type Tensor } from '../../src/gpu';
import { ATTENTION_DECODE_MAX_QUERIES, attention, attentionSources } from '../../src/kernels/attention';
import { KvCache } from '../../src/model/kv-cache';
import { type AttentionRefOptions, attentionRef } from '../reference/attention';
import { assertClose, TOL, type Tolerance } from '../reference/compare';
import { Rng } from '../reference/random';
import { testContext } from '../setup/gpu';

// Activations are f32 on both paths and the reference accumulates in f64, so TOL.f32 (atol 1e-5, rtol 1e-4) holds for
// inputs in [-1, 1]: scores carry ~1e-6 of f32 rounding and outputs are convex combinations of v.
// Only the large-score stress test (scores of magnitude ~100) uses LARGE: f32 rounding of a score of 100 is ~1e-5
// absolute inside exp(), i.e. ~1e-5 relative on the weights, on top of outputs of magnitude up to 3.
const LARGE: Tolerance = { atol: 1e-4, rtol: 1e-3 };

interface Case {
  B: number;
  Tq: number;
  Tk: number;
  D: number;
  H: number;
}

/** Uploads random q, k, v of `c`, runs attention, and compares with the f64 reference. */
async function check(ctx: GpuContext, c: Case, opts: AttentionRefOptions, range = 1, tol: Tolerance = TOL.f32) {
  const rng = new Rng();
  const { B, Tq, Tk, D } = c;
  const q = rng.array(B * Tq * D, -range, range);
  const k = rng.array(B * Tk * D, -range, range);
  const v = rng.array(B * Tk * D, -range, range);
  const qt = ctx.upload(q, [B, Tq, D]);
  const kt = ctx.upload(k, [B, Tk, D]);
  const vt = ctx.upload(v, [B, Tk, D]);
  const lt = opts.keyLengths ? ctx.upload(opts.keyLengths, [B], 'u32') : undefined;
  const rec = ctx.recorder();
  const y = attention(rec, qt, kt, vt, { ...opts, keyLengths: lt });
  rec.submit();
  const got = await ctx.read(y);
  assertClose(got, attentionRef(q, k, v, B, Tq, Tk, D, opts), tol, `seed ${rng.seed}`);
  for (const t of [qt, kt, vt, y, ...(lt ? [lt] : [])]) t.dispose();
  return got;
}

function label(c: Case): string {
  return `B=${c.B} Tq=${c.Tq} Tk=${c.Tk} D=${c.D} H=${c.H} (dh=${c.D / c.H}, ${c.Tq <= ATTENTION_DECODE_MAX_QUERIES ? 'decode' : 'tiled'})`;
}

// Head widths 1, 3, 64, 128 and 130 (> 64: several column chunks), heads 1, 3, 4, 8; query counts on both entry
// points (<= 4: one workgroup per query; more: 16-query tiles), key counts around the 32/64-key tiles.
const SHAPES: Case[] = [
  { B: 1, Tq: 1, Tk: 1, D: 1, H: 1 },
  { B: 2, Tq: 5, Tk: 7, D: 9, H: 3 },
  { B: 2, Tq: 3, Tk: 37, D: 24, H: 8 },
  { B: 1, Tq: 17, Tk: 33, D: 128, H: 1 },
  { B: 3, Tq: 33, Tk: 65, D: 256, H: 4 },
  { B: 2, Tq: 20, Tk: 20, D: 260, H: 2 },
  { B: 1, Tq: 1, Tk: 200, D: 130, H: 1 },
  { B: 2, Tq: 4, Tk: 64, D: 384, H: 3 },
  { B: 1, Tq: 70, Tk: 70, D: 24, H: 8 },
];

// Both kernel profiles: decoding takes `main_decode` ('gpu') or the barrier-free `main_decode_serial` ('emulated').
for (const kernelProfile of ['gpu', 'emulated'] as const) {
  describe(`attention (${kernelProfile} kernels)`, () => {
    let ctx: GpuContext;
    beforeAll(async () => {
      ctx = await testContext({ kernelProfile });
      await ctx.pipelines.prepareAll(attentionSources(ctx));
    });
    afterAll(() => ctx.dispose());

    for (const c of SHAPES) {
      it(`full attention, ${label(c)}`, async () => {
        await check(ctx, c, { heads: c.H });
      });
      if (c.Tq === c.Tk) {
        it(`causal self-attention, ${label(c)}`, async () => {
          await check(ctx, c, { heads: c.H, causal: true });
        });
      }
    }

    it('model-sized encoder self-attention and causal decoder self-attention (B=2, T=256, D=256, H=4)', async () => {
      const c = { B: 2, Tq: 256, Tk: 256, D: 256, H: 4 };
      await check(ctx, c, { heads: 4 });
      await check(ctx, c, { heads: 4, causal: true });
    });

    for (const Tq of [1, 3, 5, 40]) {
      it(`causal with qOffset (Tq=${Tq} new queries after 37 cached keys)`, async () => {
        const Tk = 37 + Tq;
        await check(ctx, { B: 2, Tq, Tk, D: 48, H: 3 }, { heads: 3, causal: true, qOffset: 37 });
      });
    }

    for (const Tq of [1, 19]) {
      it(`cross-attention with keyLengths padding, lengths 0 and 1 included (Tq=${Tq})`, async () => {
        const Tk = 45;
        const keyLengths = [0, 1, Tk, 17, 33, 2];
        await check(ctx, { B: keyLengths.length, Tq, Tk, D: 64, H: 4 }, { heads: 4, keyLengths });
      });
    }

    it('cross-attention while decoding beams: B=64 rows, Tq=1, Tk=256, D=256, H=4, random lengths', async () => {
      const rng = new Rng();
      const keyLengths = Array.from({ length: 64 }, () => rng.int(257));
      await check(ctx, { B: 64, Tq: 1, Tk: 256, D: 256, H: 4 }, { heads: 4, keyLengths });
    });

    for (const Tq of [2, 21]) {
      it(`kvLength < Tk (a partly filled cache), with and without causal (Tq=${Tq})`, async () => {
        const c = { B: 2, Tq, Tk: 90, D: 32, H: 2 };
        await check(ctx, c, { heads: 2, kvLength: 41 });
        await check(ctx, c, { heads: 2, kvLength: 41, causal: true, qOffset: 41 - Tq });
        await check(ctx, c, { heads: 2, kvLength: 41, causal: true, qOffset: 10, keyLengths: [30, 80] });
      });
    }

    it('queries with no visible key output zeros, never NaN (kvLength 0, keyLengths 0, causal past the cache)', async () => {
      for (const Tq of [1, 18]) {
        const c = { B: 2, Tq, Tk: 10, D: 8, H: 2 };
        const zeros = new Float32Array(2 * Tq * 8);
        expect(Array.from(await check(ctx, c, { heads: 2, kvLength: 0 }))).toEqual(Array.from(zeros));
        expect(Array.from(await check(ctx, c, { heads: 2, keyLengths: [0, 0] }))).toEqual(Array.from(zeros));
      }
      // No keys at all (Tk = 0).
      expect(Array.from(await check(ctx, { B: 2, Tq: 3, Tk: 0, D: 8, H: 2 }, { heads: 2 }))).toEqual(
        new Array(48).fill(0),
      );
      // out pre-filled with NaN: every element is written.
      const rec = ctx.recorder();
      const q = ctx.upload(new Float32Array(2 * 5 * 4).fill(1), [2, 5, 4]);
      const k = ctx.upload(new Float32Array(2 * 3 * 4).fill(1), [2, 3, 4]);
      const out = ctx.upload(new Float32Array(2 * 5 * 4).fill(Number.NaN), [2, 5, 4]);
      const lengths = ctx.upload([0, 3], [2], 'u32');
      attention(rec, q, k, k, { heads: 2, keyLengths: lengths, out });
      rec.submit();
      const got = await ctx.read(out);
      expect(Array.from(got)).toEqual([...new Array(20).fill(0), ...new Array(20).fill(1)]);
    });

    it('custom scale', async () => {
      await check(ctx, { B: 1, Tq: 9, Tk: 12, D: 16, H: 2 }, { heads: 2, scale: 0.731 });
      await check(ctx, { B: 1, Tq: 1, Tk: 12, D: 16, H: 2 }, { heads: 2, scale: 0.731 });
    });

    it('large scores stay finite (running max): inputs in [-3, 3], scale 1, dh=64', async () => {
      for (const Tq of [1, 24]) {
        const got = await check(ctx, { B: 1, Tq, Tk: 100, D: 64, H: 1 }, { heads: 1, scale: 1 }, 3, LARGE);
        expect(got.every((x) => Number.isFinite(x))).toBe(true);
      }
    });

    it('decoding step by step over a KV cache equals full causal attention row by row', async () => {
      const rng = new Rng();
      const [B, T, D, H] = [3, 70, 64, 4];
      const q = rng.array(B * T * D);
      const k = rng.array(B * T * D);
      const v = rng.array(B * T * D);
      const ref = attentionRef(q, k, v, B, T, T, D, { heads: H, causal: true });
      const rows = (a: Float32Array, t0: number, n: number) => {
        const r = new Float32Array(B * n * D);
        for (let b = 0; b < B; b++) r.set(a.subarray((b * T + t0) * D, (b * T + t0 + n) * D), b * n * D);
        return r;
      };
      // Full sequence on the tiled path.
      const rec0 = ctx.recorder();
      const full = attention(rec0, ctx.upload(q, [B, T, D]), ctx.upload(k, [B, T, D]), ctx.upload(v, [B, T, D]), {
        heads: H,
        causal: true,
      });
      rec0.submit();
      const fullGot = (await ctx.read(full)) as Float32Array;
      assertClose(fullGot, ref, TOL.f32, `full, seed ${rng.seed}`);
      // Steps of 1 position (decode path), then chunks of 3 (decode path) and 6 (tiled path) through the cache.
      const cache = new KvCache(ctx, B, T + 5, D);
      let t = 0;
      const step = async (n: number) => {
        const rec = ctx.recorder();
        const kNew = ctx.upload(rows(k, t, n), [B, n, D]);
        const vNew = ctx.upload(rows(v, t, n), [B, n, D]);
        const qNew = ctx.upload(rows(q, t, n), [B, n, D]);
        cache.append(rec, kNew, vNew);
        const y = attention(rec, qNew, cache.k, cache.v, {
          heads: H,
          causal: true,
          qOffset: cache.length - n,
          kvLength: cache.length,
        });
        rec.submit();
        const got = await ctx.read(y);
        const what = `positions ${t}..${t + n - 1}, seed ${rng.seed}`;
        assertClose(got, rows(Float32Array.from(ref), t, n), TOL.f32, `${what} vs reference`);
        assertClose(got, rows(fullGot, t, n), TOL.f32, `${what} vs full GPU attention`);
        for (const x of [kNew, vNew, qNew, y]) x.dispose();
        t += n;
      };
      while (t < 40) await step(1);
      while (t < 58) await step(3);
      while (t < T) await step(6);
      expect(cache.length).toBe(T);
      cache.dispose();
    });

    it('compiles ahead and never on the hot path once prepared', async () => {
      const before = ctx.pipelines.syncCompiles;
      for (const Tq of [1, 30]) {
        const rec = ctx.recorder();
        const q = ctx.upload(new Float32Array(Tq * 8).fill(0.5), [1, Tq, 8]);
        const kv = ctx.upload(new Float32Array(9 * 8).fill(2), [1, 9, 8]);
        const y = attention(rec, q, kv, kv, { heads: 2 });
        rec.submit();
        expect(Array.from(await ctx.read(y))).toEqual(new Array(Tq * 8).fill(2));
      }
      expect(ctx.pipelines.syncCompiles).toBe(before);
    });
  });
}

describe('attention input validation', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  it('rejects bad inputs with a typed error before dispatching', () => {
    const rec = ctx.recorder();
    const q = ctx.empty([2, 3, 12]);
    const k = ctx.empty([2, 5, 12]);
    const v = ctx.empty([2, 5, 12]);
    const bad = (f: () => unknown, pattern?: RegExp) => {
      expect(f).toThrow(KernelInputError);
      if (pattern) expect(f).toThrow(pattern);
    };
    bad(() => attention(rec, q, k, v, { heads: 5 }), /heads/);
    bad(() => attention(rec, q, k, v, { heads: 0 }), /heads/);
    bad(() => attention(rec, q, k, v, { heads: 24 }), /heads/);
    bad(() => attention(rec, q, ctx.empty([3, 5, 12]), v, { heads: 2 }), /k /);
    bad(() => attention(rec, q, ctx.empty([2, 5, 8]), v, { heads: 2 }), /k /);
    bad(() => attention(rec, q, k, ctx.empty([2, 4, 12]), { heads: 2 }), /v /);
    bad(() => attention(rec, ctx.empty([2, 3, 12], 'f16'), k, v, { heads: 2 }), /q must be f32/);
    bad(() => attention(rec, q, ctx.empty([2, 5, 12], 'u32'), v, { heads: 2 }), /k must be f32/);
    bad(() => attention(rec, ctx.empty([6, 12]), k, v, { heads: 2 }), /rank/);
    bad(() => attention(rec, q, k, v, { heads: 2, kvLength: 6 }), /kvLength/);
    bad(() => attention(rec, q, k, v, { heads: 2, kvLength: 1.5 }), /kvLength/);
    bad(() => attention(rec, q, k, v, { heads: 2, causal: true, qOffset: -1 }), /qOffset/);
    bad(() => attention(rec, q, k, v, { heads: 2, scale: Number.NaN }), /scale/);
    bad(() => attention(rec, q, k, v, { heads: 2, keyLengths: ctx.empty([2], 'f32') }), /keyLengths must be u32/);
    bad(() => attention(rec, q, k, v, { heads: 2, keyLengths: ctx.empty([3], 'u32') }), /keyLengths/);
    bad(() => attention(rec, q, k, v, { heads: 2, out: ctx.empty([2, 3, 11]) }), /out/);
    bad(() => attention(rec, q, k, v, { heads: 2, out: ctx.empty([2, 3, 12], 'u32') }), /out/);
    bad(() => attention(rec, q, k, v, { heads: 2, out: q }), /share/);
    const gone: Tensor = ctx.empty([2, 5, 12]);
    gone.dispose();
    bad(() => attention(rec, q, k, gone, { heads: 2 }), /disposed/);
    expect(rec.pendingDispatches).toBe(0);
  });
});
