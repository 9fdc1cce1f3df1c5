// The demo page: names the WebGPU adapter and runs the engine's kernels on it. Uses only the public GPU layer.
import { adapterName, createGpuContext, type GpuContext } from '../gpu';
import { linear } from '../kernels/linear';

function setAdapter(rows: Array<[string, string]>): void {
  const dl = document.getElementById('adapter') as HTMLDListElement;
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

function addRow(name: string, ok: boolean, detail: string, ms: number): void {
  const tr = document.createElement('tr');
  const cells = [name, ok ? `pass ${detail}` : `FAIL ${detail}`, `${ms.toFixed(1)} ms`];
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c;
    tr.append(td);
  }
  (tr.children[1] as HTMLElement).className = ok ? 'pass' : 'fail';
  (document.querySelector('#kernels tbody') as HTMLElement).append(tr);
}

async function runLinear(ctx: GpuContext, M: number, N: number, K: number, dtype: 'f32' | 'f16'): Promise<void> {
  const x = Float32Array.from({ length: M * K }, () => Math.random() * 2 - 1);
  const w = Float32Array.from({ length: N * K }, () => Math.random() * 2 - 1);
  const t0 = performance.now();
  const rec = ctx.recorder();
  const xt = ctx.upload(x, [M, K]);
  const wt = ctx.createWeight(w, [N, K], dtype);
  const y = linear(rec, xt, wt, null);
  rec.submit();
  const got = await ctx.read(y);
  const ms = performance.now() - t0;
  const wr = dtype === 'f16' ? ((await ctx.read(wt)) as Float32Array) : w;
  let worst = 0;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (x[m * K + k] as number) * (wr[n * K + k] as number);
      worst = Math.max(worst, Math.abs(s - (got[m * N + n] as number)) / (1e-4 + 1e-3 * Math.abs(s)));
    }
  }
  addRow(`linear ${dtype} [${M}×${K}]·[${N}×${K}]ᵀ`, worst <= 1, `(worst error ${worst.toFixed(3)} of tolerance)`, ms);
  for (const t of [xt, wt, y]) t.dispose();
}

async function main(): Promise<void> {
  let ctx: GpuContext;
  try {
    ctx = await createGpuContext();
  } catch (e) {
    setAdapter([['status', e instanceof Error ? e.message : String(e)]]);
    return;
  }
  setAdapter([
    ['adapter', adapterName(ctx.adapter)],
    ['features', [...ctx.features].join(', ') || 'none'],
    ['max storage binding', `${(ctx.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`],
  ]);
  const button = document.getElementById('run') as HTMLButtonElement;
  const run = async (): Promise<void> => {
    button.disabled = true;
    (document.querySelector('#kernels tbody') as HTMLElement).replaceChildren();
    await runLinear(ctx, 1, 1024, 256, 'f16');
    await runLinear(ctx, 64, 256, 256, 'f32');
    await runLinear(ctx, 64, 1024, 256, 'f16');
    button.disabled = false;
  };
  button.addEventListener('click', () => void run());
  await run();
}

void main();
