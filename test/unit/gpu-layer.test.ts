// The GPU layer itself: buffer pool, tensors, f16 packing, pipeline cache, typed device errors, profiler.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGpuContext,
  DeviceLostError,
  FeatureMissingError,
  f16BitsToF32,
  f32ToF16Bits,
  type GpuContext,
  Profiler,
  packF16,
  pipelineKey,
  sizeClass,
  unpackF16,
  WebGPUUnavailableError,
} from '../../src/gpu';
import { nodeGpu } from '../../src/gpu/node';
import { linear, linearSources } from '../../src/kernels/linear';
import { testContext } from '../setup/gpu';

describe('f16 packing', () => {
  it('rounds to nearest even and handles subnormals, infinities and NaN', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65520, 0x7c00], // rounds up to infinity
      [1e6, 0x7c00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // ties to even (0)
      [3 * 2 ** -25, 0x0002], // ties to even (2)
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: to even
      [1 + 3 * 2 ** -11, 0x3c02],
      [Number.POSITIVE_INFINITY, 0x7c00],
    ];
    for (const [v, bits] of cases) expect(f32ToF16Bits(v), `f16(${v})`).toBe(bits);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(Number.NaN)))).toBe(true);
    const vals = [0.1, -3.25, 1000.5, 2 ** -20];
    expect(Array.from(unpackF16(packF16(vals), 4))).toEqual(vals.map((v) => f16BitsToF32(f32ToF16Bits(v))));
  });
});

describe('buffer pool and tensors', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  it('size classes waste at most a quarter', () => {
    for (const n of [1, 255, 256, 257, 1000, 4097, 123456, 2 ** 20 + 1]) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c % 16).toBe(0);
      if (n > 256) expect(c).toBeLessThanOrEqual(n * 1.25 + 16);
    }
  });

  it('reuses a released buffer only after the submit that used it, and counts bytes', () => {
    const before = ctx.pool.stats();
    const a = ctx.empty([1000]);
    expect(ctx.pool.stats().bytesInUse).toBe(before.bytesInUse + a.buffer.size);
    const buf = a.buffer;
    a.dispose();
    const b = ctx.empty([1000]);
    expect(b.buffer).not.toBe(buf); // released but not yet submitted: not reused
    expect(ctx.pool.stats().pendingRelease).toBeGreaterThan(0);
    ctx.recorder().submit();
    const c = ctx.empty([1000]);
    expect(c.buffer).toBe(buf); // reused after the submit
    b.dispose();
    c.dispose();
    expect(ctx.pool.stats().bytesInUse).toBe(before.bytesInUse);
    expect(ctx.pool.stats().bytesAllocated).toBeGreaterThanOrEqual(2 * buf.size);
  });

  it('reshapes without copying and views never free the buffer', async () => {
    const t = ctx.upload([1, 2, 3, 4, 5, 6], [2, 3]);
    const v = t.reshape([3, 2]);
    expect(v.buffer).toBe(t.buffer);
    v.dispose();
    expect(Array.from(await ctx.read(t))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => t.reshape([4])).toThrow(/reshape/);
    t.dispose();
  });

  it('round-trips every dtype', async () => {
    expect(Array.from(await ctx.read(ctx.upload([1, 2, 3], [3], 'u32')))).toEqual([1, 2, 3]);
    expect(Array.from(await ctx.read(ctx.upload([-1, 2, -3], [3], 'i32')))).toEqual([-1, 2, -3]);
    expect(Array.from(await ctx.read(ctx.upload([0.5, -2, 3], [3], 'f16')))).toEqual([0.5, -2, 3]);
    const raw = new Uint16Array([0x3c00, 0xc000, 0x3800]);
    expect(Array.from(await ctx.read(ctx.createWeight(raw, [3], 'f16')))).toEqual([1, -2, 0.5]);
  });
});

describe('pipeline cache', () => {
  it('keys by name, variant, entry point and constants, never by shape', async () => {
    const ctx = await testContext();
    const [a, b] = linearSources(ctx, 'f16');
    expect(pipelineKey(a as never)).not.toBe(pipelineKey(b as never));
    await ctx.pipelines.prepareAll(linearSources(ctx, 'f16'));
    const size = ctx.pipelines.size;
    const sync = ctx.pipelines.syncCompiles;
    const w = ctx.createWeight(new Float32Array(6), [2, 3], 'f16');
    for (const M of [1, 5, 17, 40, 100]) {
      const rec = ctx.recorder();
      linear(rec, ctx.upload(new Float32Array(M * 3), [M, 3]), w, null);
      rec.submit();
    }
    expect(ctx.pipelines.size).toBe(size);
    expect(ctx.pipelines.syncCompiles).toBe(sync);
    ctx.dispose();
  });
});

describe('device creation and loss', () => {
  it('names a missing feature with a typed error', async () => {
    await expect(
      createGpuContext({ gpu: await nodeGpu(), requireFeatures: ['shader-f16'], disableFeatures: ['shader-f16'] }),
    ).rejects.toThrow(FeatureMissingError);
  });

  it('says what to do when there is no WebGPU', async () => {
    await expect(createGpuContext({ gpu: undefined as never })).rejects.toThrow(WebGPUUnavailableError);
  });

  it('reports a lost device with a typed error on the next dispatch', async () => {
    let lost: DeviceLostError | null = null;
    const ctx = await testContext({ onLost: (e) => (lost = e) });
    const x = ctx.upload(new Float32Array(6), [2, 3]);
    const w = ctx.createWeight(new Float32Array(6), [2, 3], 'f32');
    ctx.device.destroy(); // what a driver reset looks like from here
    await ctx.device.lost;
    await new Promise((r) => setTimeout(r, 0));
    expect(lost).toBeInstanceOf(DeviceLostError);
    expect(ctx.isLost).toBe(true);
    expect(() => linear(ctx.recorder(), x, w, null)).toThrow(DeviceLostError);
  });
});

describe('profiler', () => {
  it('sums GPU time by kernel, entry point and grid', async () => {
    const ctx = await testContext({ kernelProfile: 'gpu' });
    const p = new Profiler(ctx);
    ctx.profiler = p;
    const rec = ctx.recorder();
    const x = ctx.upload(new Float32Array(64 * 64).fill(1), [64, 64]);
    const w = ctx.createWeight(new Float32Array(64 * 64).fill(1), [64, 64], 'f32');
    const y = linear(rec, x, w, null);
    linear(rec, y, w, null);
    rec.submit();
    await p.read();
    const rows = p.rows();
    // 64 rows: the 64x64 tile, one workgroup.
    expect(rows.map((r) => r.kernel)).toEqual(['linear.main [1x1x1]']);
    expect(rows[0]?.dispatches).toBe(2);
    expect(rows[0]?.totalMs).toBeGreaterThan(0);
    p.dispose();
    ctx.dispose();
  });
});
