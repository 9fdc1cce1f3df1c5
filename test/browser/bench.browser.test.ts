// The throughput page (bench.html) in real headless Chromium (WebGPU on SwiftShader): a small sweep over tiny
// random-weight models (E = 8 and 32, batches 1 and 2, a few forced steps) must finish with every engine measured.
import { rmSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareBenchModels } from '../../bench/bench-models';
import { runBenchPage } from '../../bench/page-runner';
import type { BenchResult } from '../../src/bench-page/run';

const DIR = 'test-results/bench-models';

describe('throughput page in real headless Chromium', () => {
  let result: BenchResult;
  let markdown: string;

  beforeAll(async () => {
    rmSync(DIR, { recursive: true, force: true });
    await prepareBenchModels({
      out: DIR,
      experts: [8, 32],
      dModel: 32,
      nHeads: 2,
      dFF: 64,
      encLayers: 2,
      decLayers: 2,
      sentences: 2,
    });
    ({ result, markdown } = await runBenchPage({
      modelsDir: DIR,
      query: { batches: '1,2', experts: '8,32', steps: '3', runs: '2', warmup: '1' },
      // Generous: on 2 shared cores SwiftShader is slow; about a minute on an idle machine.
      timeoutMs: 360_000,
      screenshot: (h, page) => h.screenshot(page, 'bench-page'),
      log: (l) => console.log(l),
    }));
  }, 420_000);

  it('measures every engine at every expert count and batch, with the adapter named', () => {
    console.log(`[taskmoe] bench page adapter: ${result.adapter}; onnxruntime-web: ${result.ortBackend}`);
    expect(result.adapter.length).toBeGreaterThan(0);
    expect(result.adapter).not.toBe('unknown adapter');
    const kinds = new Set(result.rows.map((r) => r.kind));
    expect([...kinds].sort()).toEqual(['dense', 'extracted', 'ort', 'token']);
    // Token-MoE and the extracted sub-network at every E; the dense model and onnxruntime-web (which do not depend on
    // E) beside them at E = 32, where the targets are.
    const want: Record<number, string[]> = { 8: ['extracted', 'token'], 32: ['dense', 'extracted', 'ort', 'token'] };
    for (const E of [8, 32]) {
      for (const batch of [1, 2]) {
        const at = result.rows.filter((r) => r.experts === E && r.batch === batch);
        expect(at.map((r) => r.kind).sort(), `E=${E} batch=${batch}`).toEqual(want[E]);
      }
    }
    for (const r of result.rows) {
      expect(Number.isFinite(r.tokensPerSecond) && r.tokensPerSecond > 0, JSON.stringify(r)).toBe(true);
      expect(r.runs).toBe(2);
      expect(r.medianMs).toBeGreaterThanOrEqual(r.minMs);
      expect(r.maxMs).toBeGreaterThanOrEqual(r.medianMs);
      expect(r.adapter.length).toBeGreaterThan(0);
      expect(r.weightBytesPerStep).toBeGreaterThan(0);
      expect(r.firstLoadBytes).toBeGreaterThan(0);
      expect(r.steps).toBe(3);
    }
  });

  it('reports what token routing costs and what extraction saves', () => {
    const row = (kind: string, E: number, batch = 2) =>
      result.rows.find((r) => r.kind === kind && r.experts === E && r.batch === batch) as BenchResult['rows'][number];
    // The extracted sub-network's weights (and bytes read per step) are the same at every E; token-MoE's grow with E.
    expect(row('extracted', 8).weightBytesPerStep).toBe(row('extracted', 32).weightBytesPerStep);
    expect(row('extracted', 8).gpuBytes).toBe(row('extracted', 32).gpuBytes);
    expect(row('token', 32).gpuBytes).toBeGreaterThan(row('token', 8).gpuBytes);
    // Token-MoE downloads the whole model for the first language and nothing more; the extracted one a shard each.
    expect(row('token', 32).firstLoadBytes).toBeGreaterThan(row('extracted', 32).firstLoadBytes);
    expect(row('extracted', 32).perExtraLanguageBytes).toBeGreaterThan(0);
    expect(row('token', 32).perExtraLanguageBytes).toBe(0);
    expect(row('extracted', 32).gpuBytes).toBeLessThan(row('token', 32).gpuBytes);
    // Peaks for each engine and E, and the three targets with their measured ratios.
    expect(result.peaks.length).toBe(6);
    expect(result.targets.map((t) => t.experts)).toEqual([32, 32, 32]);
    for (const t of result.targets) expect(Number.isFinite(t.value) && t.value > 0).toBe(true);
    expect(markdown).toContain('| E | batch | engine | tokens/s |');
    expect(markdown.split('\n').filter((l) => l.includes('onnxruntime-web')).length).toBeGreaterThanOrEqual(3);
  });
});
