// Benchmark method (CONVENTIONS.md 11): warm-up, then N timed runs, each ending when the GPU has finished
// (onSubmittedWorkDone); median and spread reported; the adapter is named in every row.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
}

/** Times `fn` (which must wait for the GPU itself) `runs` times after `warmup` untimed calls. */
export async function time(fn: () => Promise<void>, runs = 5, warmup = 2): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return {
    medianMs: ms[Math.floor(ms.length / 2)] as number,
    minMs: ms[0] as number,
    maxMs: ms[ms.length - 1] as number,
    runs,
  };
}

/**
 * Times several variants side by side: after warm-up, the variants run in turn (A, B, C, A, B, C, ...) so that load
 * from other processes falls on all of them alike; returns one Timing per variant.
 */
export async function timeInterleaved(fns: Array<() => Promise<void>>, runs = 7, warmup = 2): Promise<Timing[]> {
  for (let i = 0; i < warmup; i++) for (const fn of fns) await fn();
  const ms: number[][] = fns.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < fns.length; j++) {
      const t0 = performance.now();
      await (fns[j] as () => Promise<void>)();
      (ms[j] as number[]).push(performance.now() - t0);
    }
  }
  return ms.map((m) => {
    m.sort((a, b) => a - b);
    return {
      medianMs: m[Math.floor(m.length / 2)] as number,
      minMs: m[0] as number,
      maxMs: m[m.length - 1] as number,
      runs,
    };
  });
}

/** Writes `data` as pretty JSON, creating the folder. */
export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}

/** Formats a table of rows for the terminal. */
export function table(rows: Array<Record<string, string | number>>): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0] as object);
  const cell = (v: string | number | undefined): string => (typeof v === 'number' ? formatNum(v) : (v ?? ''));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padStart(widths[i] as number)).join('  ');
  return [
    line(cols),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => cell(r[c])))),
  ].join('\n');
}

function formatNum(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3);
}
