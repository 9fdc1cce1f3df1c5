// npm run bench — the throughput page (bench.html) in headless Chromium: prepares the random-weight models
// (bench/bench-models.ts) under bench-results/models, serves the repository with Vite, runs the page's sweep and
// writes bench-results/latest.json, latest.md and a screenshot (latest.png).
//
//   node dist/bench-page/page-runner.js [--experts 8,32,128] [--batches 1,2,4,8,16,32,64] [--steps 16] [--runs 5]
//     [--warmup 1] [--d-model 128] [--heads 4] [--d-ff 512] [--layers 2] [--engines token,extracted,dense,ort]
//     [--ort webgpu|wasm] [--fuse 1|0] [--timeout-min 60]
import { mkdirSync, writeFileSync } from 'node:fs';
import type { BenchResult } from '../src/bench-page/run';
import { BrowserHarness } from '../test/browser/chromium';
import { prepareBenchModels } from './bench-models';
import { table, writeJson } from './harness';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : def;
}

const OUT = 'bench-results/models';

/** Options of {@link runBenchPage}. */
export interface PageRunOptions {
  /** URL query of the page (batches, experts, steps, runs, warmup, engines, ort); `models` is set from `modelsDir`. */
  query: Record<string, string>;
  /** Folder (below the repository root) holding bench-models.json. */
  modelsDir: string;
  timeoutMs: number;
  /** Where to save a screenshot of the finished page. */
  screenshot?: (h: BrowserHarness, page: import('playwright-core').Page) => Promise<unknown>;
  log?: (line: string) => void;
}

/** Opens bench.html in headless Chromium on a Vite server, waits for the sweep and returns its result. */
export async function runBenchPage(o: PageRunOptions): Promise<{ result: BenchResult; markdown: string }> {
  const h = new BrowserHarness();
  await h.start([
    {
      name: 'bench-no-reload',
      // Nothing may reload the page mid-run: not the results or models written, not an edit to the sources.
      config: () => ({ server: { hmr: false, watch: { ignored: ['**/bench-results/**', '**/test-results/**'] } } }),
    },
  ]);
  try {
    const q = new URLSearchParams({ ...o.query, models: `/${o.modelsDir}/bench-models.json` });
    // Not h.open: on a loaded machine the first load (Vite pre-bundling onnxruntime-web) can pass 30 s.
    const page = await h.browser.newPage();
    page.setDefaultNavigationTimeout(300_000);
    page.on('console', (m) => h.consoleLines.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => h.consoleLines.push(`[pageerror] ${e.message}`));
    await page.goto(`${h.baseUrl}/bench.html?${q}`);
    let shown = 0;
    const timer = setInterval(() => {
      for (const l of h.consoleLines.slice(shown)) o.log?.(l);
      shown = h.consoleLines.length;
    }, 1000);
    try {
      await page.waitForFunction(() => window.__bench && window.__bench.state !== 'running', undefined, {
        timeout: o.timeoutMs,
        polling: 1000,
      });
    } catch (e) {
      const status = await page.textContent('#log').catch(() => '');
      throw new Error(
        `the bench page did not finish: ${String(e)}\npage log:\n${status}\nconsole:\n${h.consoleLines.join('\n')}`,
      );
    } finally {
      clearInterval(timer);
    }
    const b = await page.evaluate(() => window.__bench);
    if (b?.state !== 'done' || !b.result || !b.markdown) {
      throw new Error(`the bench page failed: ${b?.error ?? 'no result'}\nconsole:\n${h.consoleLines.join('\n')}`);
    }
    await o.screenshot?.(h, page);
    return { result: b.result, markdown: b.markdown };
  } finally {
    await h.stop();
  }
}

async function main(): Promise<void> {
  const experts = arg('experts', '8,32,128').split(',').map(Number);
  const batches = arg('batches', '1,2,4,8,16,32,64');
  const layers = Number(arg('layers', '2'));
  const t0 = performance.now();
  const index = await prepareBenchModels({
    out: OUT,
    experts,
    dModel: Number(arg('d-model', '128')),
    nHeads: Number(arg('heads', '4')),
    dFF: Number(arg('d-ff', '512')),
    encLayers: layers,
    decLayers: layers,
    sentences: Math.max(...batches.split(',').map(Number)),
    log: (l) => console.log(`[bench models] ${l}`),
  });
  console.log(`models ready (${((performance.now() - t0) / 1000).toFixed(0)} s): dims ${JSON.stringify(index.dims)}`);
  const { result, markdown } = await runBenchPage({
    modelsDir: OUT,
    query: {
      batches,
      experts: experts.join(','),
      steps: arg('steps', '16'),
      runs: arg('runs', '5'),
      warmup: arg('warmup', '1'),
      engines: arg('engines', 'token,extracted,dense,ort'),
      ort: arg('ort', 'webgpu'),
      fuse: arg('fuse', '1'),
    },
    timeoutMs: Number(arg('timeout-min', '60')) * 60_000,
    screenshot: (_h, page) => page.screenshot({ path: 'bench-results/latest.png', fullPage: true }),
    log: (l) => console.log(l),
  });
  mkdirSync('bench-results', { recursive: true });
  writeJson('bench-results/latest.json', result);
  writeFileSync('bench-results/latest.md', markdown);
  console.log(table(result.peaks.map(({ kind: _k, ...p }) => p)));
  console.log(
    table(
      result.targets.map((t) => ({
        target: t.name,
        E: t.experts,
        measured: t.value,
        wanted: t.note,
        met: t.met ? 'yes' : 'no',
      })),
    ),
  );
  console.log(`adapter: ${result.adapter}; wrote bench-results/latest.json, latest.md, latest.png`);
  process.exit(0);
}

if (process.argv[1]?.endsWith('page-runner.js')) {
  main().catch((e: unknown) => {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
