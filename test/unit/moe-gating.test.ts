import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GpuContext, KernelInputError } from '../../src/gpu';
import { gateTask, gateTopK } from '../../src/kernels/gating';
import { topKGate } from '../../src/kernels/gating-cpu';
import { assertClose, assertExact, TOL } from '../reference/compare';
import { gateRef } from '../reference/moe';
import { Rng, roundF16 } from '../reference/random';
import { testContext } from '../setup/gpu';

// f32 weights read the same WGSL in both contexts, so the packed context runs only f16 weights (every pipeline is a
// slow compile on lavapipe).
const WEIGHT_DTYPES = { 'f16 native': ['f32', 'f16'], 'f16 packed': ['f16'] } as const;

const ROWS = [1, 3, 257];
const EXPERTS = [1, 3, 8, 32];

/** Random logits; with `ties`, small integers so that many rows have equal logits among their top experts. */
function logitsOf(rng: Rng, n: number, ties: boolean): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ties ? rng.int(3) - 1 : rng.uniform(-4, 4);
  return a;
}

describe('gateTopK (token routing)', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  for (const N of ROWS) {
    for (const E of EXPERTS) {
      for (const k of [1, 2] as const) {
        if (k > E) continue;
        for (const ties of [false, true]) {
          it(`N=${N} E=${E} k=${k}${ties ? ' with ties' : ''}`, async () => {
            const rng = new Rng();
            const logits = logitsOf(rng, N * E, ties);
            const rec = ctx.recorder();
            const lt = ctx.upload(logits, [N, E]);
            const g = gateTopK(rec, lt, k);
            rec.submit();
            const ref = gateRef(logits, N, E, k);
            const what = `seed ${rng.seed}`;
            assertExact(await ctx.read(g.indices), ref.indices, `${what} indices`);
            const w = await ctx.read(g.weights);
            assertClose(w, ref.weights, TOL.f32, `${what} weights`);
            if (k === 1) expect(Array.from(w).every((v) => v === 1)).toBe(true);
            for (const t of [lt, g.indices, g.weights]) t.dispose();
          });
        }
      }
    }
  }

  it('a row of all-equal logits picks experts 0 and 1 with weights 1/2', async () => {
    const rec = ctx.recorder();
    const lt = ctx.upload(new Float32Array(8).fill(0.25), [1, 8]);
    const g = gateTopK(rec, lt, 2);
    rec.submit();
    expect(Array.from(await ctx.read(g.indices))).toEqual([0, 1]);
    expect(Array.from(await ctx.read(g.weights))).toEqual([0.5, 0.5]);
  });

  it('large logits do not overflow the softmax', async () => {
    const rec = ctx.recorder();
    const lt = ctx.upload([1000, 999, -1000, 500], [1, 4]);
    const g = gateTopK(rec, lt, 2);
    rec.submit();
    expect(Array.from(await ctx.read(g.indices))).toEqual([0, 1]);
    assertClose(await ctx.read(g.weights), [1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(1))], TOL.f32);
  });
});

for (const mode of ['f16 native', 'f16 packed'] as const) {
  describe(`gateTask (task routing, ${mode})`, () => {
    let ctx: GpuContext;
    beforeAll(async () => {
      ctx = await testContext(mode === 'f16 packed' ? { disableFeatures: ['shader-f16'] } : {});
    });
    afterAll(() => ctx.dispose());

    for (const dtype of WEIGHT_DTYPES[mode]) {
      for (const [N, T, E] of [
        [1, 1, 1],
        [3, 2, 3],
        [257, 5, 8],
        [257, 9, 32],
      ] as const) {
        for (const k of [1, 2] as const) {
          if (k > E) continue;
          it(`${dtype} table [${T}, ${E}], N=${N}, k=${k}`, async () => {
            const rng = new Rng();
            let table = logitsOf(rng, T * E, rng.next() < 0.5);
            if (dtype === 'f16') table = roundF16(table);
            const ids = Uint32Array.from({ length: N }, () => rng.int(T));
            const rec = ctx.recorder();
            const tt = ctx.createWeight(table, [T, E], dtype);
            const it_ = ctx.upload(ids, [N], 'u32');
            const g = gateTask(rec, tt, it_, k);
            rec.submit();
            const rows = new Float32Array(N * E);
            for (let n = 0; n < N; n++)
              rows.set(table.subarray((ids[n] as number) * E, ((ids[n] as number) + 1) * E), n * E);
            const ref = gateRef(rows, N, E, k);
            const what = `seed ${rng.seed}`;
            assertExact(await ctx.read(g.indices), ref.indices, `${what} indices`);
            assertClose(await ctx.read(g.weights), ref.weights, TOL.f32, `${what} weights`);
            // The CPU helper the extraction uses agrees with the GPU gate.
            for (let t = 0; t < T; t++) {
              const cpu = topKGate(table.subarray(t * E, (t + 1) * E), k);
              const r = gateRef(table.subarray(t * E, (t + 1) * E), 1, E, k);
              assertExact(cpu.indices, r.indices, `${what} topKGate indices, task ${t}`);
              assertClose(cpu.weights, r.weights, TOL.f32, `${what} topKGate weights, task ${t}`);
            }
            for (const t of [tt, it_, g.indices, g.weights]) t.dispose();
          });
        }
      }
    }
  });
}

describe('gateTask task ids', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  it('clamps ids past the table to its last row (no readback can reject them)', async () => {
    const table = Float32Array.from([3, 2, 1, 0, 1, 2, 9, 0, 5]);
    const rec = ctx.recorder();
    const tt = ctx.createWeight(table, [3, 3], 'f32');
    const ids = ctx.upload([0, 1, 2, 3, 0xffffffff], [5], 'u32');
    const g = gateTask(rec, tt, ids, 2);
    rec.submit();
    expect(Array.from(await ctx.read(g.indices))).toEqual([0, 1, 2, 1, 0, 2, 0, 2, 0, 2]);
  });
});

describe('gating input validation', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await testContext();
  });
  afterAll(() => ctx.dispose());

  it('rejects bad inputs with a typed error before dispatching', () => {
    const rec = ctx.recorder();
    const l3 = ctx.upload(new Float32Array(6), [2, 3]);
    const l1 = ctx.upload(new Float32Array(2), [2, 1]);
    const lu = ctx.upload(new Uint32Array(6), [2, 3], 'u32');
    const ids = ctx.upload(new Uint32Array(2), [2], 'u32');
    const idsF = ctx.upload(new Float32Array(2), [2]);
    expect(() => gateTopK(rec, l3, 3 as 1)).toThrow(KernelInputError);
    expect(() => gateTopK(rec, l1, 2)).toThrow(/exceeds/);
    expect(() => gateTopK(rec, lu, 1)).toThrow(KernelInputError);
    expect(() => gateTopK(rec, ctx.upload(new Float32Array(6), [6]), 1)).toThrow(KernelInputError);
    expect(() => gateTask(rec, l3, idsF, 1)).toThrow(KernelInputError);
    expect(() => gateTask(rec, l1, ids, 2)).toThrow(KernelInputError);
    expect(() => gateTask(rec, lu, ids, 1)).toThrow(KernelInputError);
    expect(rec.pendingDispatches).toBe(0);
    expect(() => topKGate([1, 2], 3)).toThrow(RangeError);
    expect(() => topKGate([1], 2)).toThrow(RangeError);
  });
});
