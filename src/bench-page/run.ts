// The throughput sweep of the page: for each expert count, load the four engines, then for each batch size time them
// side by side (interleaved runs after warm-up, median tokens/s), and derive peaks and the target ratios (plan.ts).

import { createGpuContext } from '../gpu';
import { type BenchEngine, ENGINE_LABELS, ortEngine, webgpuEngine } from './engines';
import { type BenchModelIndex, type BenchSettings, type EngineKind, TARGET_EXPERTS, TARGETS } from './plan';
import { timeInterleaved } from './timing';

/** One measurement: an engine at one expert count and batch size. */
export interface BenchRow {
  engine: string;
  kind: EngineKind;
  model: string;
  experts: number;
  batch: number;
  steps: number;
  /**
   * batch × (steps − 1) / median seconds of decoder steps 2..steps of one run (from the readback of step 1, which
   * follows the encoder, to the readback of the last step).
   */
  tokensPerSecond: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
  /** (max − min) / median of the timed runs. */
  spread: number;
  weightBytesPerStep: number;
  /** GPU memory of the engine's weights. */
  gpuBytes: number;
  /** Bytes the activation pool shared by the WebGPU engines holds after this measurement. */
  activationPoolBytes: number;
  firstLoadBytes: number;
  perExtraLanguageBytes: number;
  adapter: string;
}

/** The best batch of one engine at one expert count. */
export interface PeakRow {
  engine: string;
  kind: EngineKind;
  experts: number;
  batch: number;
  tokensPerSecond: number;
}

/** One of {@link TARGETS} measured: `value` against `target` (both as "how many times faster"). */
export interface TargetRow {
  name: string;
  experts: number;
  value: number;
  target: number;
  met: boolean;
  note: string;
}

/** Everything one run of the page measured (bench-results/latest.json). */
export interface BenchResult {
  adapter: string;
  date: string;
  userAgent: string;
  settings: BenchSettings;
  dims: BenchModelIndex['dims'];
  ortBackend: string | null;
  ortFallbackReason: string | null;
  rows: BenchRow[];
  peaks: PeakRow[];
  targets: TargetRow[];
  seconds: number;
}

/** Progress lines while the sweep runs. */
export type Log = (line: string) => void;

function resolveUrl(base: string, rel: string): string {
  return new URL(rel, new URL(base, location.href)).toString();
}

/** Peak (max over batches) tokens/s per engine and expert count. */
export function peaks(rows: readonly BenchRow[]): PeakRow[] {
  const best = new Map<string, PeakRow>();
  for (const r of rows) {
    const key = `${r.kind} ${r.experts}`;
    const b = best.get(key);
    if (!b || r.tokensPerSecond > b.tokensPerSecond) {
      best.set(key, {
        engine: r.engine,
        kind: r.kind,
        experts: r.experts,
        batch: r.batch,
        tokensPerSecond: r.tokensPerSecond,
      });
    }
  }
  return [...best.values()];
}

/** {@link TARGETS} measured at the expert count of the run nearest to {@link TARGET_EXPERTS}. */
export function targets(p: readonly PeakRow[], ortBackend: string | null): TargetRow[] {
  const es = [...new Set(p.map((r) => r.experts))];
  if (es.length === 0) return [];
  const E = es.reduce((a, b) => (Math.abs(b - TARGET_EXPERTS) < Math.abs(a - TARGET_EXPERTS) ? b : a));
  const peak = (k: EngineKind): number | undefined => p.find((r) => r.kind === k && r.experts === E)?.tokensPerSecond;
  const ex = peak('extracted');
  const out: TargetRow[] = [];
  for (const t of TARGETS) {
    const other = peak(t.against);
    if (ex === undefined || other === undefined) continue;
    const value = ex / other;
    const name = t.name.replace('{ort}', ortBackend ?? '?');
    const note = t.ortBackend && ortBackend !== t.ortBackend ? `${t.note}; ${t.ortBackendMissing}` : t.note;
    out.push({ name, experts: E, value, target: t.ratio, met: value >= t.ratio, note });
  }
  return out;
}

/** Runs the sweep the settings ask for over the models of `index` (fetched from `settings.models`). */
export async function runSweep(index: BenchModelIndex, s: BenchSettings, log: Log): Promise<BenchResult> {
  const t0 = performance.now();
  const url = (rel: string): string => resolveUrl(s.models, rel);
  const rows: BenchRow[] = [];
  const want = (k: EngineKind): boolean => s.engines.includes(k);
  let adapter = '';
  let ortBackend: string | null = null;
  let ortFallbackReason: string | null = null;
  const ctx = await createGpuContext();
  const since = (): string => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  const sweeps = index.sweeps.filter((w) => !s.experts || s.experts.includes(w.experts));
  const es = sweeps.map((w) => w.experts);
  let compareAt = s.compareAt === 'all' ? es : es.filter((e) => (s.compareAt as number[]).includes(e));
  if (compareAt.length === 0 && es.length > 0)
    compareAt = [es.reduce((a, b) => (Math.abs(b - 32) < Math.abs(a - 32) ? b : a))];
  const dense = want('dense')
    ? await webgpuEngine(ctx, 'dense', url(index.dense), 'dense_wide', index.lang, index.extraLang, s.fuse)
    : null;
  try {
    for (const sw of sweeps) {
      log(`[${since()}] E = ${sw.experts}: loading`);
      const engines: BenchEngine[] = [];
      try {
        const folder = (m: string): string => m.slice(0, m.lastIndexOf('/'));
        if (want('token'))
          engines.push(
            await webgpuEngine(ctx, 'token', url(sw.token), folder(sw.token), index.lang, index.extraLang, s.fuse),
          );
        const ex = await webgpuEngine(
          ctx,
          'extracted',
          url(sw.extracted),
          folder(sw.extracted),
          index.lang,
          index.extraLang,
          s.fuse,
        );
        if (want('extracted')) engines.push(ex);
        adapter = ex.adapter;
        if (dense && compareAt.includes(sw.experts)) engines.push(dense);
        if (want('ort') && compareAt.includes(sw.experts)) {
          const o = await ortEngine(
            url(sw.extracted),
            folder(sw.extracted),
            index.lang,
            index.extraLang,
            s.ortBackend,
            ex.adapter,
          );
          ortBackend = o.adapter.includes('webgpu') ? 'webgpu' : 'wasm';
          ortFallbackReason = o.fallbackReason;
          engines.push(o);
        }
        const ids = index.sentences.map((t) => ex.translator.sourceIds(t, index.lang));
        if (!want('extracted')) await ex.dispose();
        for (const batch of s.batches) {
          const src = Array.from({ length: batch }, (_, i) => ids[i % ids.length] as number[]);
          log(
            `[${since()}] E = ${sw.experts}, batch ${batch}: ${engines.map((e) => ENGINE_LABELS[e.kind]).join(', ')}`,
          );
          const times = await timeInterleaved(
            engines.map((e) => () => e.decode(src, s.steps)),
            s.runs,
            s.warmup,
          );
          for (const [i, e] of engines.entries()) {
            const t = times[i] as (typeof times)[number];
            const row: BenchRow = {
              engine: ENGINE_LABELS[e.kind],
              kind: e.kind,
              model: e.model,
              experts: sw.experts,
              batch,
              steps: s.steps,
              tokensPerSecond: (batch * (s.steps - 1)) / (t.medianMs / 1000),
              medianMs: t.medianMs,
              minMs: t.minMs,
              maxMs: t.maxMs,
              runs: t.runs,
              spread: (t.maxMs - t.minMs) / t.medianMs,
              weightBytesPerStep: await e.stepBytes(src, s.steps),
              gpuBytes: e.gpuBytes(),
              activationPoolBytes: e.kind === 'ort' ? 0 : ctx.pool.stats().bytesAllocated,
              firstLoadBytes: e.downloads.firstLoad,
              perExtraLanguageBytes: e.downloads.perExtraLanguage,
              adapter: e.adapter,
            };
            rows.push(row);
            log(
              `  ${row.engine}: ${row.tokensPerSecond.toFixed(1)} tokens/s (spread ${(row.spread * 100).toFixed(0)} %)`,
            );
          }
        }
      } finally {
        for (const e of engines) if (e !== dense) await e.dispose();
      }
    }
  } finally {
    await dense?.dispose();
    ctx.dispose();
  }
  const p = peaks(rows);
  return {
    adapter,
    date: new Date().toISOString(),
    userAgent: navigator.userAgent,
    settings: s,
    dims: index.dims,
    ortBackend,
    ortFallbackReason,
    rows,
    peaks: p,
    targets: targets(p, ortBackend),
    seconds: (performance.now() - t0) / 1000,
  };
}
