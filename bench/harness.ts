// Node side of the benchmarks: the timing method (src/bench-page/timing.ts, shared with the throughput page), JSON output
// and terminal tables; the adapter is named in every row.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export { type Timing, time, timeInterleaved } from '../src/bench-page/timing';

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
