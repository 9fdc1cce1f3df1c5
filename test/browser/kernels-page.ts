// Runs kernel checks against the CPU references inside a real browser's WebGPU and publishes the outcome on
// window.__taskmoe for the Node-side test (kernels.browser.test.ts) to assert.
import { adapterName, createGpuContext, type GpuContext } from '../../src/gpu';
import { browserChecks } from './checks';

interface CheckResult {
  name: string;
  ok: boolean;
  message: string;
  ms: number;
}

declare global {
  interface Window {
    __taskmoe?: { done: boolean; adapter: string; features: string[]; results: CheckResult[]; error?: string };
  }
}

async function main(): Promise<void> {
  const state: NonNullable<Window['__taskmoe']> = { done: false, adapter: '', features: [], results: [] };
  window.__taskmoe = state;
  const list = document.getElementById('results') as HTMLOListElement;
  let ctx: GpuContext;
  try {
    ctx = await createGpuContext();
  } catch (e) {
    state.error = String(e);
    state.done = true;
    (document.getElementById('adapter') as HTMLElement).textContent = String(e);
    return;
  }
  state.adapter = adapterName(ctx.adapter);
  state.features = [...ctx.features];
  (document.getElementById('adapter') as HTMLElement).textContent =
    `adapter: ${state.adapter}; features: ${state.features.join(', ') || 'none'}`;
  for (const check of browserChecks) {
    const t0 = performance.now();
    let ok = true;
    let message = 'ok';
    try {
      await check.run(ctx);
    } catch (e) {
      ok = false;
      message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    const r = { name: check.name, ok, message, ms: performance.now() - t0 };
    state.results.push(r);
    const li = document.createElement('li');
    li.textContent = `${ok ? 'PASS' : 'FAIL'} ${r.name} (${r.ms.toFixed(0)} ms)${ok ? '' : `: ${message}`}`;
    list.append(li);
  }
  ctx.dispose();
  state.done = true;
}

void main();
