// npm run bench:kernels — GFLOP/s of linear at decoder shapes, and the grouped expert FFN against one dense linear
// doing the same FLOPs, on the adapter at hand. Prints tables and writes bench-results/kernels.json.
import { adapterName, createGpuContext, type GpuContext } from '../src/gpu';
import { nodeGpu } from '../src/gpu/node';
import { add, addSources } from '../src/kernels/add';
import { linear, linearSources } from '../src/kernels/linear';
import { moeSources } from '../src/model/moe-layer';
import { table, time, writeJson } from './harness';
import { benchGroupedFfn } from './moe-ffn';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 5;

function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

async function benchLinear(ctx: GpuContext, adapter: string) {
  const rows: Array<Record<string, string | number>> = [];
  const batches = quick ? [1, 64] : [1, 8, 16, 32, 64];
  const dims = quick ? [256] : [256, 512, 1024];
  for (const dtype of ['f16', 'f32'] as const) {
    for (const d of dims) {
      for (const [label, N, K] of [
        ['ffn-in', 4 * d, d],
        ['attn-proj', d, d],
      ] as const) {
        const w = ctx.createWeight(rand(N * K), [N, K], dtype);
        for (const M of batches) {
          const x = ctx.upload(rand(M * K), [M, K]);
          const out = ctx.empty([M, N]);
          const t = await time(async () => {
            const rec = ctx.recorder();
            linear(rec, x, w, null, { out });
            rec.submit();
            await ctx.sync();
          }, RUNS);
          const gflops = (2 * M * N * K) / (t.medianMs * 1e6);
          rows.push({
            kernel: 'linear',
            weights: dtype,
            shape: label,
            d_model: d,
            batch: M,
            N,
            K,
            median_ms: t.medianMs,
            min_ms: t.minMs,
            max_ms: t.maxMs,
            gflops,
            adapter,
          });
          x.dispose();
          out.dispose();
        }
        w.dispose();
      }
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const ctx = await createGpuContext({ gpu: await nodeGpu() });
  const adapter = adapterName(ctx.adapter);
  console.log(`taskmoe kernel benchmark on ${adapter} (features: ${[...ctx.features].join(', ')})`);
  await ctx.pipelines.prepareAll([...linearSources(ctx, 'f16'), ...linearSources(ctx, 'f32')]);
  // Fixed cost of one dispatch: 100 tiny adds in one encoder, and one add per submit with a wait.
  await ctx.pipelines.prepareAll(addSources());
  const a = ctx.upload(rand(256), [256]);
  const batched = await time(async () => {
    const rec = ctx.recorder();
    for (let i = 0; i < 100; i++) add(rec, a, a, { out: a });
    rec.submit();
    await ctx.sync();
  }, RUNS);
  const single = await time(async () => {
    const rec = ctx.recorder();
    add(rec, a, a, { out: a });
    rec.submit();
    await ctx.sync();
  }, RUNS);
  a.dispose();
  const overhead = {
    perDispatchUs: (batched.medianMs * 1000) / 100,
    perSubmitAndWaitUs: single.medianMs * 1000,
    adapter,
  };
  console.log(
    `dispatch overhead: ${overhead.perDispatchUs.toFixed(0)} us per dispatch in a batch of 100; ${overhead.perSubmitAndWaitUs.toFixed(0)} us for one dispatch + submit + wait`,
  );
  const linearRows = await benchLinear(ctx, adapter);
  console.log(table(linearRows.map(({ adapter: _a, ...r }) => r)));
  await ctx.pipelines.prepareAll(moeSources(ctx, 'f16'));
  const grouped = await benchGroupedFfn(ctx, adapter, { quick, runs: RUNS });
  console.log('\ngrouped expert FFN vs one dense linear pair with the same FLOPs (target: ratio <= 1.3)');
  console.log(table(grouped.map(({ adapter: _a, ...r }) => r)));
  writeJson('bench-results/kernels.json', {
    adapter,
    features: [...ctx.features],
    date: new Date().toISOString(),
    overhead,
    linear: linearRows,
    groupedFfn: grouped,
  });
  console.log('wrote bench-results/kernels.json');
  ctx.dispose();
  process.exit(0);
}

void main();
