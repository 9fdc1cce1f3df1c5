// The grouped expert FFN (every expert over its own segment, one dispatch per stage) against one dense linear pair
// doing the same FLOPs (N·k rows through [F, D] then [D, F]). Target (issue 2): grouped within 1.3x of dense.
import type { GpuContext } from '../src/gpu';
import { moeDispatch } from '../src/kernels/dispatch';
import { groupedExpertFfn } from '../src/kernels/expert-ffn';
import { linear } from '../src/kernels/linear';
import { moeLayer } from '../src/model/moe-layer';
import { type Timing, timeInterleaved } from './harness';

function rand(n: number, s = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * s;
  return a;
}

export interface GroupedFfnRow {
  [key: string]: string | number;
  experts: number;
  tokens: number;
  k: number;
  d_model: number;
  d_ff: number;
  grouped_ms: number;
  dense_ms: number;
  ratio: number;
  moe_layer_ms: number;
  gflops_grouped: number;
  adapter: string;
}

export async function benchGroupedFfn(
  ctx: GpuContext,
  adapter: string,
  opts: { quick: boolean; runs: number },
): Promise<GroupedFfnRow[]> {
  const rows: GroupedFfnRow[] = [];
  const D = 256;
  const F = 1024;
  const k = 2;
  const dtype = 'f16';
  for (const E of opts.quick ? [8] : [8, 32]) {
    const wi = ctx.createWeight(rand(E * F * D, 0.05), [E, F, D], dtype);
    const bi = ctx.createWeight(rand(E * F, 0.05), [E, F], dtype);
    const wo = ctx.createWeight(rand(E * D * F, 0.05), [E, D, F], dtype);
    const bo = ctx.createWeight(rand(E * D, 0.05), [E, D], dtype);
    const gate = ctx.createWeight(rand(E * D), [E, D], dtype);
    const dwi = ctx.createWeight(rand(F * D, 0.05), [F, D], dtype);
    const dbi = ctx.createWeight(rand(F, 0.05), [F], dtype);
    const dwo = ctx.createWeight(rand(D * F, 0.05), [D, F], dtype);
    const dbo = ctx.createWeight(rand(D, 0.05), [D], dtype);
    for (const N of opts.quick ? [8, 64] : [8, 32, 64, 256]) {
      const x = ctx.upload(rand(N * D), [N, D]);
      // Balanced routing: token n goes to experts n mod E and (n + 1) mod E.
      const idx = Uint32Array.from({ length: N * k }, (_, a) => (Math.floor(a / k) + (a % k)) % E);
      const indices = ctx.upload(idx, [N, k], 'u32');
      const rec0 = ctx.recorder();
      const plan = moeDispatch(rec0, indices, E);
      rec0.submit();
      const xd = ctx.upload(rand(N * k * D), [N * k, D]);
      const [grouped, dense, layer] = (await timeInterleaved(
        [
          async () => {
            const rec = ctx.recorder();
            groupedExpertFfn(rec, x, plan, wi, bi, wo, bo).dispose();
            rec.submit();
            await ctx.sync();
          },
          async () => {
            const rec = ctx.recorder();
            const h = linear(rec, xd, dwi, dbi, { relu: true });
            linear(rec, h, dwo, dbo).dispose();
            h.dispose();
            rec.submit();
            await ctx.sync();
          },
          async () => {
            const rec = ctx.recorder();
            const o = moeLayer(rec, x, { kind: 'token', gate }, { wi, bi, wo, bo }, { k });
            rec.submit();
            await ctx.sync();
            for (const t of [o.y, o.indices, o.weights]) t.dispose();
          },
        ],
        opts.runs,
      )) as [Timing, Timing, Timing];
      rows.push({
        experts: E,
        tokens: N,
        k,
        d_model: D,
        d_ff: F,
        grouped_ms: grouped.medianMs,
        dense_ms: dense.medianMs,
        ratio: grouped.medianMs / dense.medianMs,
        moe_layer_ms: layer.medianMs,
        gflops_grouped: (4 * N * k * D * F) / (grouped.medianMs * 1e6),
        adapter,
      });
      for (const t of [x, indices, xd]) t.dispose();
      plan.dispose();
    }
    for (const t of [wi, bi, wo, bo, gate, dwi, dbi, dwo, dbo]) t.dispose();
  }
  return rows;
}
