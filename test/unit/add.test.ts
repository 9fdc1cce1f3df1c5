import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError } from '../../src/gpu';
import { ADD_WG, add, addSources } from '../../src/kernels/add';
import { splitGrid } from '../../src/kernels/common';
import { addRef } from '../reference/add';
import { assertClose, TOL } from '../reference/compare';
import { Rng } from '../reference/random';
import { testContext } from '../setup/gpu';

// f32 + f32 is one correctly rounded operation on both sides of the comparison: TOL.f32 is loose for it.
describe('add', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  for (const shape of [[1], [3], [257], [3, 257], [2, 5, 129]]) {
    it(`y = a + b, shape [${shape.join(', ')}]`, async () => {
      const rng = new Rng();
      const n = shape.reduce((p, d) => p * d, 1);
      const a = rng.array(n, -10, 10);
      const b = rng.array(n, -10, 10);
      const at = ctx.upload(a, shape);
      const bt = ctx.upload(b, shape);
      const rec = ctx.recorder();
      const y = add(rec, at, bt);
      rec.submit();
      expect(y.shape).toEqual(shape);
      assertClose(await ctx.read(y), addRef(a, b), TOL.f32, `seed ${rng.seed}`);
      // The inputs are untouched.
      assertClose(await ctx.read(at), a, { atol: 0, rtol: 0 }, 'a');
      for (const t of [at, bt, y]) t.dispose();
    });
  }

  it('adds in place into a, into b, and a tensor to itself', async () => {
    const rng = new Rng();
    const n = 1000;
    const a = rng.array(n);
    const b = rng.array(n);
    const ref = addRef(a, b);
    for (const into of ['a', 'b'] as const) {
      const at = ctx.upload(a, [n]);
      const bt = ctx.upload(b, [n]);
      const target = into === 'a' ? at : bt;
      const rec = ctx.recorder();
      const y = add(rec, at, bt, { out: target });
      rec.submit();
      expect(y).toBe(target);
      assertClose(await ctx.read(target), ref, TOL.f32, `in place into ${into}, seed ${rng.seed}`);
      assertClose(await ctx.read(into === 'a' ? bt : at), into === 'a' ? b : a, { atol: 0, rtol: 0 }, 'other input');
      at.dispose();
      bt.dispose();
    }
    const at = ctx.upload(a, [n]);
    const rec = ctx.recorder();
    add(rec, at, at, { out: at });
    const y2 = add(rec, at, at); // out of place, a and b one read-only tensor
    rec.submit();
    assertClose(await ctx.read(at), addRef(a, a), TOL.f32, `self in place, seed ${rng.seed}`);
    assertClose(await ctx.read(y2), addRef(addRef(a, a), addRef(a, a)), TOL.f32, `self out of place, seed ${rng.seed}`);
    at.dispose();
    y2.dispose();
  });

  it('accepts equal sizes of different shapes and writes into a given out', async () => {
    const rng = new Rng();
    const a = rng.array(12);
    const b = rng.array(12);
    const at = ctx.upload(a, [3, 4]);
    const bt = ctx.upload(b, [12]);
    const out = ctx.empty([2, 6]);
    const rec = ctx.recorder();
    expect(add(rec, at, bt, { out })).toBe(out);
    rec.submit();
    assertClose(await ctx.read(out), addRef(a, b), TOL.f32, `seed ${rng.seed}`);
    for (const t of [at, bt, out]) t.dispose();
  });

  it('splits grids over maxComputeWorkgroupsPerDimension', async () => {
    expect(splitGrid(ctx, 10, 4)).toEqual([4, 3]);
    expect(splitGrid(ctx, 8, 4)).toEqual([4, 2]);
    expect(splitGrid(ctx, 3, 4)).toEqual([3, 1]);
    expect(splitGrid(ctx, 65535 * 2 + 1)).toEqual([43691, 3]);
    // One element more than 65535 workgroups hold: the tail lands in the second grid row.
    const max = ctx.limits.maxComputeWorkgroupsPerDimension;
    const n = max * ADD_WG + 5;
    const rng = new Rng();
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = i % 1024;
      b[i] = rng.int(1024);
    }
    const at = ctx.upload(a, [n]);
    const bt = ctx.upload(b, [n]);
    const rec = ctx.recorder();
    add(rec, at, bt, { out: at });
    rec.submit();
    const got = await ctx.read(at);
    // Small integers add exactly in f32.
    for (let i = 0; i < n; i++) {
      if (got[i] !== (a[i] as number) + (b[i] as number)) {
        throw new Error(
          `element ${i} of ${n}: got ${got[i]}, expected ${(a[i] as number) + (b[i] as number)}, seed ${rng.seed}`,
        );
      }
    }
    at.dispose();
    bt.dispose();
  });

  it('rejects bad inputs with a typed error before dispatching', () => {
    const rec = ctx.recorder();
    const a = ctx.upload(new Float32Array(6), [2, 3]);
    const b = ctx.upload(new Float32Array(5), [5]);
    const u = ctx.upload(new Uint32Array(6), [2, 3], 'u32');
    const f16 = ctx.upload(new Float32Array(6), [2, 3], 'f16');
    expect(() => add(rec, a, b)).toThrow(KernelInputError);
    expect(() => add(rec, a, u)).toThrow(KernelInputError);
    expect(() => add(rec, f16, a)).toThrow(KernelInputError);
    expect(() => add(rec, a, a, { out: b })).toThrow(/out/);
    const gone = ctx.upload(new Float32Array(6), [6]);
    gone.dispose();
    expect(() => add(rec, a, gone)).toThrow(/disposed/);
    expect(rec.pendingDispatches).toBe(0);
    for (const t of [a, b, u, f16]) t.dispose();
  });

  it('compiles ahead and never on the hot path once prepared', async () => {
    await ctx.pipelines.prepareAll(addSources());
    const before = ctx.pipelines.syncCompiles;
    const a = ctx.upload([1, 2, 3], [3]);
    const rec = ctx.recorder();
    add(rec, a, a, { out: a });
    const y = add(rec, a, a);
    add(rec, y, a, { out: y });
    rec.submit();
    expect(Array.from(await ctx.read(y))).toEqual([6, 12, 18]);
    expect(ctx.pipelines.syncCompiles).toBe(before);
  });
});
