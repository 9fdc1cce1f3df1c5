import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError, packF16 } from '../../src/gpu';
import { attention } from '../../src/kernels/attention';
import { gatherRows, kvCacheSources, kvWrite } from '../../src/kernels/kv-cache';
import { KvCache } from '../../src/model/kv-cache';
import { attentionRef, gatherRowsRef } from '../reference/attention';
import { assertClose, assertExact, TOL } from '../reference/compare';
import { Rng } from '../reference/random';
import { testContext } from '../setup/gpu';

// Copies are exact: every comparison here is bit-for-bit except attention over the cache (TOL.f32, as in
// attention.test.ts).

describe('kv_cache', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
    await ctx.pipelines.prepareAll(kvCacheSources(ctx));
  });
  afterAll(() => ctx.dispose());

  it('kvWrite writes every batch row at the offset and leaves the other positions alone', async () => {
    const rng = new Rng();
    const [B, Tmax, D] = [3, 11, 7];
    const init = rng.array(B * Tmax * D);
    const expected = Float32Array.from(init);
    const cache = ctx.upload(init, [B, Tmax, D]);
    for (const [offset, n] of [
      [0, 1],
      [1, 4],
      [9, 2],
      [5, 3],
    ] as const) {
      const src = rng.array(B * n * D);
      const rec = ctx.recorder();
      const st = ctx.upload(src, [B, n, D]);
      kvWrite(rec, st, cache, offset);
      rec.submit();
      for (let b = 0; b < B; b++) expected.set(src.subarray(b * n * D, (b + 1) * n * D), (b * Tmax + offset) * D);
      assertExact(await ctx.read(cache), expected, `after writing ${n} at ${offset}, seed ${rng.seed}`);
      st.dispose();
    }
    cache.dispose();
  });

  it('gatherRows permutes, duplicates and zeroes out-of-range rows (f32, u32, i32, f16, B2 != B)', async () => {
    const rng = new Rng();
    const [B, T, D] = [5, 3, 6];
    const index = [4, 0, 0, 2, 5, 0xffffffff, 1];
    const idx = ctx.upload(index, [index.length], 'u32');
    const f = rng.array(B * T * D);
    const u = Uint32Array.from(f, (x) => Math.floor((x + 1) * 1e6));
    const i = Int32Array.from(f, (x) => Math.floor(x * 1e6));
    for (const [dtype, data] of [
      ['f32', f],
      ['u32', u],
      ['i32', i],
    ] as const) {
      const rec = ctx.recorder();
      const src = ctx.upload(data, [B, T, D], dtype);
      const y = gatherRows(rec, src, idx);
      rec.submit();
      expect(y.shape).toEqual([index.length, T, D]);
      expect(y.dtype).toBe(dtype);
      assertExact(await ctx.read(y), gatherRowsRef(data, index, T * D), `${dtype}, seed ${rng.seed}`);
      src.dispose();
      y.dispose();
    }
    // f16 rows of an even size are gathered as packed words.
    const h = new Uint16Array(packF16(f).buffer);
    const rec = ctx.recorder();
    const src = ctx.upload(h, [B, T, D], 'f16');
    const y = gatherRows(rec, src, idx);
    rec.submit();
    const back = await ctx.read(src);
    assertExact(await ctx.read(y), gatherRowsRef(back, index, T * D), 'f16');
    // Into a given tensor.
    const rec2 = ctx.recorder();
    const out = ctx.empty([index.length, T * D]);
    const src2 = ctx.upload(f, [B, T * D]);
    expect(gatherRows(rec2, src2, idx, { out })).toBe(out);
    rec2.submit();
    assertExact(await ctx.read(out), gatherRowsRef(f, index, T * D), 'out');
  });

  it('gatherRows covers rows longer than the grid (grid-stride loop)', async () => {
    const rng = new Rng();
    const width = 4096 * 256 + 77;
    const src = rng.array(2 * width);
    const rec = ctx.recorder();
    const st = ctx.upload(src, [2, width]);
    const idx = ctx.upload([1, 0, 2], [3], 'u32');
    const y = gatherRows(rec, st, idx);
    rec.submit();
    assertExact(await ctx.read(y), gatherRowsRef(src, [1, 0, 2], width), `seed ${rng.seed}`);
    for (const t of [st, idx, y]) t.dispose();
  });

  it('beam search: append, reorder (including expanding 1 -> 4 rows) and attend over the cache', async () => {
    const rng = new Rng();
    const [D, H, Tmax] = [24, 3, 20];
    // CPU mirror: history[b] = list of [k row, v row] per position.
    let hk: Float32Array[][] = [[]];
    let hv: Float32Array[][] = [[]];
    const cache = new KvCache(ctx, 1, Tmax, D);
    const appendStep = async (n: number) => {
      const B = cache.batch;
      const k = rng.array(B * n * D);
      const v = rng.array(B * n * D);
      const q = rng.array(B * n * D);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < n; t++) {
          hk[b]!.push(k.subarray((b * n + t) * D, (b * n + t + 1) * D));
          hv[b]!.push(v.subarray((b * n + t) * D, (b * n + t + 1) * D));
        }
      }
      const rec = ctx.recorder();
      const kt = ctx.upload(k, [B, n, D]);
      const vt = ctx.upload(v, [B, n, D]);
      const qt = ctx.upload(q, [B, n, D]);
      cache.append(rec, kt, vt);
      const L = cache.length;
      const y = attention(rec, qt, cache.k, cache.v, { heads: H, causal: true, qOffset: L - n, kvLength: L });
      rec.submit();
      const fk = new Float32Array(B * L * D);
      const fv = new Float32Array(B * L * D);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < L; t++) {
          fk.set(hk[b]![t]!, (b * L + t) * D);
          fv.set(hv[b]![t]!, (b * L + t) * D);
        }
      }
      const ref = attentionRef(q, fk, fv, B, n, L, D, { heads: H, causal: true, qOffset: L - n });
      assertClose(await ctx.read(y), ref, TOL.f32, `attention at length ${L}, seed ${rng.seed}`);
      // The filled part of the cache is exactly the history.
      const ck = (await ctx.read(cache.k)) as Float32Array;
      for (let b = 0; b < B; b++) {
        assertExact(ck.subarray(b * Tmax * D, (b * Tmax + L) * D), fk.subarray(b * L * D, (b + 1) * L * D), 'cache.k');
      }
      for (const t of [kt, vt, qt, y]) t.dispose();
    };
    const reorder = (index: number[]) => {
      const rec = ctx.recorder();
      const idx = ctx.upload(index, [index.length], 'u32');
      cache.reorder(rec, idx);
      rec.submit();
      idx.dispose();
      hk = index.map((i) => [...(hk[i] ?? [])]);
      hv = index.map((i) => [...(hv[i] ?? [])]);
    };
    await appendStep(3); // the source prefix of one sentence
    reorder([0, 0, 0, 0]); // expand to 4 beams
    expect(cache.batch).toBe(4);
    await appendStep(1);
    reorder([2, 2, 0, 3]);
    await appendStep(1);
    reorder([1, 3, 3, 0]);
    await appendStep(2);
    reorder([3, 2, 1, 0]);
    await appendStep(1);
    expect(cache.length).toBe(8);
    cache.dispose();
  });

  it('an out-of-range beam index reorders to a row of zeros', async () => {
    const cache = new KvCache(ctx, 2, 4, 3);
    const rec = ctx.recorder();
    cache.append(rec, ctx.upload([1, 2, 3, 4, 5, 6], [2, 1, 3]), ctx.upload([6, 5, 4, 3, 2, 1], [2, 1, 3]));
    cache.reorder(rec, ctx.upload([1, 7], [2], 'u32'));
    rec.submit();
    const k = await ctx.read(cache.k);
    expect(Array.from(k.subarray(0, 3))).toEqual([4, 5, 6]);
    expect(Array.from(k.subarray(12, 15))).toEqual([0, 0, 0]);
    cache.dispose();
  });
});

describe('kv_cache input validation', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  it('rejects bad inputs with a typed error before dispatching', () => {
    const rec = ctx.recorder();
    const cache = ctx.empty([2, 8, 6]);
    const src = ctx.empty([2, 3, 6]);
    const bad = (f: () => unknown, pattern: RegExp) => {
      expect(f).toThrow(KernelInputError);
      expect(f).toThrow(pattern);
    };
    bad(() => kvWrite(rec, src, cache, 6), /overflows/);
    bad(() => kvWrite(rec, src, cache, -1), /offset/);
    bad(() => kvWrite(rec, src, cache, 0.5), /offset/);
    bad(() => kvWrite(rec, ctx.empty([3, 3, 6]), cache, 0), /B or D/);
    bad(() => kvWrite(rec, ctx.empty([2, 3, 5]), cache, 0), /B or D/);
    bad(() => kvWrite(rec, ctx.empty([2, 3, 6], 'f16'), cache, 0), /src must be f32/);
    bad(() => kvWrite(rec, src, ctx.empty([2, 8, 6], 'u32'), 0), /cache must be f32/);
    bad(() => kvWrite(rec, ctx.empty([6, 6]), cache, 0), /rank/);
    const index = ctx.upload([0, 1], [2], 'u32');
    bad(() => gatherRows(rec, src, ctx.empty([2], 'f32')), /index must be u32/);
    bad(() => gatherRows(rec, src, ctx.empty([2, 1], 'u32')), /rank/);
    bad(() => gatherRows(rec, src, index, { out: ctx.empty([3, 3, 6]) }), /out must be/);
    bad(() => gatherRows(rec, src, index, { out: ctx.empty([2, 3, 6], 'u32') }), /out must be/);
    bad(() => gatherRows(rec, src, index, { out: src }), /share/);
    bad(() => gatherRows(rec, ctx.empty([2, 3], 'f16'), index), /even/);
    const kv = new KvCache(ctx, 2, 4, 6);
    bad(() => kv.append(rec, ctx.empty([2, 5, 6]), ctx.empty([2, 5, 6])), /overflows/);
    bad(() => kv.append(rec, ctx.empty([2, 1, 6]), ctx.empty([2, 2, 6])), /one shape/);
    bad(() => kv.append(rec, ctx.empty([3, 1, 6]), ctx.empty([3, 1, 6])), /must be \[2, Tnew, 6\]/);
    bad(() => kv.append(rec, ctx.empty([2, 1, 6], 'u32'), ctx.empty([2, 1, 6], 'u32')), /f32/);
    bad(() => kv.reorder(rec, ctx.empty([2], 'i32')), /index must be u32/);
    expect(() => new KvCache(ctx, 0, 4, 6)).toThrow(KernelInputError);
    expect(kv.length).toBe(0);
    expect(rec.pendingDispatches).toBe(0);
    kv.dispose();
  });
});
