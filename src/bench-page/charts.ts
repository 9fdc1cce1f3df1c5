// Line charts as plain SVG markup (no chart library): labelled axes, ticks, a legend, one polyline per series.

/** One line of a chart. */
export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

/** A chart: its title, axis labels and lines. `logX` spaces x by log2 (batch sizes, expert counts). */
export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  series: Series[];
}

const W = 600;
const H = 320;
const M = { left: 70, right: 200, top: 36, bottom: 50 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${(v / 1e3).toPrecision(3)}k`;
  return v >= 10 ? v.toFixed(0) : v.toPrecision(2);
}

/** SVG markup of a line chart; y starts at 0. */
export function lineChart(c: ChartSpec): string {
  const pts = c.series.flatMap((s) => s.points);
  const fx = (x: number): number => (c.logX ? Math.log2(x) : x);
  const xs = [...new Set(pts.map((p) => p[0]))].sort((a, b) => a - b);
  const x0 = fx(xs[0] ?? 1);
  const x1 = Math.max(fx(xs[xs.length - 1] ?? 1), x0 + 1);
  const yMax = Math.max(1e-9, ...pts.map((p) => p[1])) * 1.1;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + ((fx(x) - x0) / (x1 - x0)) * pw;
  const sy = (y: number): number => M.top + ph - (y / yMax) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(c.title)}" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${esc(c.title)}</title>`,
    `<text x="${W / 2 - M.right / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${esc(c.title)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = (yMax / 1.1) * (i / 4);
    out.push(
      `<line x1="${M.left}" x2="${M.left + pw}" y1="${sy(y)}" y2="${sy(y)}" stroke="#ddd"/>`,
      `<text x="${M.left - 6}" y="${sy(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
    );
  }
  for (const x of xs) {
    out.push(
      `<line x1="${sx(x)}" x2="${sx(x)}" y1="${M.top + ph}" y2="${M.top + ph + 5}" stroke="#333"/>`,
      `<text x="${sx(x)}" y="${M.top + ph + 18}" text-anchor="middle">${x}</text>`,
    );
  }
  out.push(
    `<line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="#333"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(c.xLabel)}</text>`,
    `<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`,
  );
  c.series.forEach((s, i) => {
    const p = [...s.points].sort((a, b) => a[0] - b[0]);
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`,
      ...p.map(([x, y]) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}"/>`),
      `<line x1="${W - M.right + 12}" x2="${W - M.right + 32}" y1="${M.top + 10 + i * 18}" y2="${M.top + 10 + i * 18}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${W - M.right + 38}" y="${M.top + 14 + i * 18}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('');
}
