// npm run bench:step:browser -- [--model bench-results/models/E32/task_task-extracted] [--batch 1] [--steps 8]
// Where a decode step's time goes in headless Chromium (SwiftShader): wall time per step and GPU time per kernel
// (timestamp queries, where the adapter offers them) for both kernel profiles ('gpu', 'emulated') with fused kernels
// and the plain sequence, on a model prepared by `npm run bench` (bench-results/models). Writes
// bench-results/browser-step.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { BrowserHarness } from '../test/browser/chromium';
import { table } from './harness';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : def;
}

async function main(): Promise<void> {
  const h = new BrowserHarness();
  await h.start();
  try {
    const page = await h.open('/test/browser/kernels.html');
    const model = `/${arg('model', 'bench-results/models/E32/task_task-extracted')}/`;
    const out = await page.evaluate(
      async ([model, batch, steps, paths]) => {
        // Modules from the Vite dev server (paths as data, so that the Node-side build leaves the imports alone).
        const [gpu, { LocalModel }, { fetchFiles }] = await Promise.all(paths.map((p) => import(/* @vite-ignore */ p)));
        const res: Array<{ name: string; adapter: string; wallMsPerStep: number; kernels: unknown[] }> = [];
        for (const kernelProfile of ['gpu', 'emulated']) {
          const ctx = await gpu.createGpuContext({ kernelProfile });
          const tr = await LocalModel.create(ctx, fetchFiles(model));
          await tr.load('de');
          const src = Array.from({ length: batch }, (_, i) => tr.sourceIds(`Open the file number ${i} now.`, 'de'));
          const run = async () => {
            const t: number[] = [];
            await tr.translateIds(src, {
              to: 'de',
              batchSize: batch,
              maxSteps: steps,
              forceSteps: true,
              onStep: () => t.push(performance.now()),
            });
            return ((t[t.length - 1] as number) - (t[0] as number)) / (steps - 1);
          };
          for (const fuse of [false, true]) {
            tr.loaded.model.fuse = fuse;
            await run();
            const wall: number[] = [];
            for (let r = 0; r < 5; r++) wall.push(await run());
            wall.sort((a, b) => a - b);
            let kernels: unknown[] = [];
            if (ctx.features.has('timestamp-query')) {
              const p = new gpu.Profiler(ctx);
              ctx.profiler = p;
              await run();
              ctx.profiler = null;
              kernels = p.rows();
              p.dispose();
            }
            const name = `${kernelProfile} kernels, ${fuse ? 'fused' : 'plain'}`;
            res.push({ name, adapter: gpu.adapterName(ctx.adapter), wallMsPerStep: wall[2] as number, kernels });
          }
          tr.dispose();
          ctx.dispose();
        }
        return res;
      },
      [
        model,
        Number(arg('batch', '1')),
        Number(arg('steps', '8')),
        ['/src/gpu/index.ts', '/src/engine/local-model.ts', '/src/runtime/model-files.ts'],
      ] as const,
    );
    console.log(`model ${model}, batch ${arg('batch', '1')}, adapter: ${out[0]?.adapter}`);
    console.log(table(out.map((r) => ({ variant: r.name, wallMsPerStep: +r.wallMsPerStep.toFixed(1) }))));
    for (const r of out) {
      if (!r.kernels.length) continue;
      console.log(`\n${r.name}: GPU time per kernel over ${arg('steps', '8')} steps (timestamp queries)`);
      console.log(table(r.kernels as Array<Record<string, string | number>>));
    }
    mkdirSync('bench-results', { recursive: true });
    writeFileSync('bench-results/browser-step.json', `${JSON.stringify(out, null, 1)}\n`);
  } finally {
    await h.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
