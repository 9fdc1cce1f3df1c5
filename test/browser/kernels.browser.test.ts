import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserHarness } from './chromium';

describe('kernels in real headless Chromium (WebGPU)', () => {
  const h = new BrowserHarness();
  beforeAll(async () => {
    await h.start();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('runs the kernel checks on the browser adapter', async () => {
    const page = await h.open('/test/browser/kernels.html');
    await page.waitForFunction(() => window.__taskmoe?.done === true, undefined, { timeout: 240_000 });
    const state = await page.evaluate(() => window.__taskmoe);
    await h.screenshot(page, 'browser-kernels');
    if (!state) throw new Error('page published no state');
    console.log(
      `[taskmoe] Chromium WebGPU adapter: ${state.adapter}; features: ${state.features.join(', ') || 'none'}`,
    );
    expect(state.error, `${state.error}\n${h.consoleLines.join('\n')}`).toBeUndefined();
    expect(state.results.length).toBeGreaterThan(0);
    const failed = state.results.filter((r) => !r.ok);
    expect(failed, failed.map((f) => `${f.name}: ${f.message}`).join('\n')).toEqual([]);
    for (const r of state.results) console.log(`[taskmoe] browser PASS ${r.name} (${r.ms.toFixed(0)} ms)`);
  });
});
