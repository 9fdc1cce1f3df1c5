// Tables of a throughput run: the same cells for the page's HTML tables and for bench-results/latest.md.
import type { BenchResult } from './run';

/** A table as header plus rows of cell strings. */
export interface Table {
  head: string[];
  rows: string[][];
}

const MiB = 1024 * 1024;

function mib(bytes: number): string {
  return bytes >= MiB ? `${(bytes / MiB).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function num(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

/** Every measurement: tokens/s with spread, and the memory and download columns. */
export function resultsTable(r: BenchResult): Table {
  return {
    head: [
      'E',
      'batch',
      'engine',
      'tokens/s',
      'spread',
      'weight bytes / step',
      'GPU memory',
      'first load',
      'per extra language',
    ],
    rows: r.rows.map((x) => [
      String(x.experts),
      String(x.batch),
      x.engine,
      num(x.tokensPerSecond),
      `${(x.spread * 100).toFixed(0)} %`,
      mib(x.weightBytesPerStep),
      x.gpuBytes > 0 ? mib(x.gpuBytes) : 'n/a',
      mib(x.firstLoadBytes),
      x.perExtraLanguageBytes > 0 ? mib(x.perExtraLanguageBytes) : '0 (whole model)',
    ]),
  };
}

/** Peak tokens/s (max over batches) per engine and expert count. */
export function peaksTable(r: BenchResult): Table {
  return {
    head: ['E', 'engine', 'peak tokens/s', 'at batch'],
    rows: r.peaks.map((p) => [String(p.experts), p.engine, num(p.tokensPerSecond), String(p.batch)]),
  };
}

/** The issue's targets with the measured ratios. */
export function targetsTable(r: BenchResult): Table {
  return {
    head: ['target', 'E', 'measured', 'wanted', 'met'],
    rows: r.targets.map((t) => [
      t.name,
      String(t.experts),
      `${t.value.toFixed(2)}x`,
      t.note,
      t.met ? 'yes' : `no (${((t.target / t.value - 1) * 100).toFixed(0)} % short)`,
    ]),
  };
}

/** A table in GitHub markdown. */
export function markdownTable(t: Table): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(t.head), line(t.head.map(() => '---')), ...t.rows.map(line)].join('\n');
}

/** bench-results/latest.md: the run's settings, targets, peaks and every row. */
export function markdownReport(r: BenchResult): string {
  const s = r.settings;
  const d = r.dims;
  return [
    `# taskmoe throughput (${r.date})`,
    '',
    `Adapter: **${r.adapter}**; onnxruntime-web backend: ${r.ortBackend ?? 'not run'}${r.ortFallbackReason ? ` (WebGPU failed: ${r.ortFallbackReason})` : ''}.`,
    `Random weights, d_model ${d.dModel}, ${d.nHeads} heads, d_ff ${d.dFF}, ${d.encLayers}+${d.decLayers} layers, vocabulary ${d.vocab}; ` +
      `${s.steps} forced decode steps; batches ${s.batches.join(', ')}; median of ${s.runs} runs after ${s.warmup} warm-up; taskmoe kernels ${s.fuse ? 'fused' : 'unfused (fuse=0)'}; ${r.seconds.toFixed(0)} s.`,
    'Software emulation of a GPU: only ratios measured side by side in this run mean anything.',
    '',
    '## Targets',
    '',
    markdownTable(targetsTable(r)),
    '',
    '## Peak throughput',
    '',
    markdownTable(peaksTable(r)),
    '',
    '## All measurements',
    '',
    markdownTable(resultsTable(r)),
    '',
  ].join('\n');
}
