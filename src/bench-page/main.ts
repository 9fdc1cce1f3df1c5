// The throughput page (bench.html): reads its settings from the URL query, runs the sweep over the models listed in
// bench-models.json (written by `npm run bench`, bench/bench-models.ts), and shows tables and SVG charts. The result
// is also left in window.__bench for the runner (bench/page-runner.ts) and the browser test.
import { lineChart, type Series } from './charts';
import { ENGINE_LABELS } from './engines';
import { type BenchModelIndex, type EngineKind, parseSettings } from './plan';
import { markdownReport, peaksTable, resultsTable, type Table, targetsTable } from './report';
import { type BenchResult, runSweep } from './run';

declare global {
  interface Window {
    __bench?: { state: 'running' | 'done' | 'error'; result?: BenchResult; markdown?: string; error?: string };
  }
}

const COLORS: Record<EngineKind, string> = { token: '#d62728', extracted: '#1f77b4', dense: '#2ca02c', ort: '#ff7f0e' };

function byId(id: string): HTMLElement {
  return document.getElementById(id) as HTMLElement;
}

function htmlTable(t: Table, caption: string): HTMLTableElement {
  const table = document.createElement('table');
  table.createCaption().textContent = caption;
  const head = table.createTHead().insertRow();
  for (const h of t.head) {
    const th = document.createElement('th');
    th.textContent = h;
    th.scope = 'col';
    head.append(th);
  }
  const body = table.createTBody();
  for (const r of t.rows) {
    const tr = body.insertRow();
    for (const c of r) tr.insertCell().textContent = c;
  }
  return table;
}

function charts(r: BenchResult): string[] {
  const out: string[] = [];
  const experts = [...new Set(r.rows.map((x) => x.experts))];
  const kinds = [...new Set(r.rows.map((x) => x.kind))];
  for (const E of experts) {
    const series: Series[] = kinds
      .map(
        (k): Series => ({
          name: ENGINE_LABELS[k],
          color: COLORS[k],
          points: r.rows.filter((x) => x.kind === k && x.experts === E).map((x) => [x.batch, x.tokensPerSecond]),
        }),
      )
      .filter((x) => x.points.length > 0);
    out.push(
      lineChart({ title: `Decode throughput, E = ${E}`, xLabel: 'batch size', yLabel: 'tokens/s', logX: true, series }),
    );
  }
  if (experts.length > 1) {
    // Only the expert counts an engine ran at (dense and onnxruntime-web run at the comparison E only).
    const byE = (k: EngineKind, v: (e: number) => number | undefined): Series => ({
      name: ENGINE_LABELS[k],
      color: COLORS[k],
      points: experts.flatMap((e): Array<[number, number]> => {
        const y = v(e);
        return y === undefined ? [] : [[e, y]];
      }),
    });
    const present = kinds.filter((k) => r.peaks.some((p) => p.kind === k));
    out.push(
      lineChart({
        title: 'Peak throughput vs experts per MoE layer',
        xLabel: 'experts per MoE layer (E)',
        yLabel: 'peak tokens/s',
        logX: true,
        series: present.map((k) =>
          byE(k, (e) => r.peaks.find((p) => p.kind === k && p.experts === e)?.tokensPerSecond),
        ),
      }),
    );
    const maxBatch = Math.max(...r.rows.map((x) => x.batch));
    out.push(
      lineChart({
        title: `Weight MiB read per decode step (batch ${maxBatch})`,
        xLabel: 'experts per MoE layer (E)',
        yLabel: 'MiB per step',
        logX: true,
        series: present.map((k) =>
          byE(k, (e) => {
            const row = r.rows.find((x) => x.kind === k && x.experts === e && x.batch === maxBatch);
            return row ? row.weightBytesPerStep / 2 ** 20 : undefined;
          }),
        ),
      }),
    );
  }
  return out;
}

function render(r: BenchResult): void {
  byId('summary').textContent =
    `${r.adapter}; onnxruntime-web on ${r.ortBackend ?? 'n/a'}; ${r.settings.steps} forced steps, median of ${r.settings.runs} runs; ${r.seconds.toFixed(0)} s`;
  byId('targets').replaceChildren(htmlTable(targetsTable(r), 'Targets (peak decode throughput ratios)'));
  byId('peaks').replaceChildren(htmlTable(peaksTable(r), 'Peak throughput (max over batch sizes)'));
  byId('rows').replaceChildren(htmlTable(resultsTable(r), 'Every measurement'));
  byId('charts').innerHTML = charts(r).join('');
  byId('json').textContent = JSON.stringify(r, null, 1);
}

async function main(): Promise<void> {
  window.__bench = { state: 'running' };
  const status = byId('status');
  const log = (line: string): void => {
    status.textContent = line;
    byId('log').textContent += `${line}\n`;
    console.log(`[bench] ${line}`);
  };
  try {
    const settings = parseSettings(location.search);
    log(
      `models ${settings.models}; batches ${settings.batches.join(',')}; ${settings.steps} steps; ${settings.runs} runs`,
    );
    const res = await fetch(settings.models);
    if (!res.ok)
      throw new Error(`${settings.models}: HTTP ${res.status}. Run \`npm run bench\` (it prepares the models).`);
    const index = (await res.json()) as BenchModelIndex;
    const result = await runSweep(index, settings, log);
    render(result);
    log('done');
    document.body.dataset.state = 'done';
    window.__bench = { state: 'done', result, markdown: markdownReport(result) };
  } catch (e) {
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    log(`error: ${msg}`);
    document.body.dataset.state = 'error';
    window.__bench = { state: 'error', error: msg };
  }
}

void main();
