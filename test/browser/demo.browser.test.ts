// The translation demo (index.html) in real headless Chromium on the tiny fixture models: streamed translation into
// two languages, per-file download progress on the first use of a language only, the activation view changing with
// the language, the token heatmap of the hybrid model, bytes per language, and screenshots at desktop and phone width.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDemoModels } from '../../scripts/prepare-demo-models';
import type { Activation } from '../../src/index';
import { BrowserHarness } from './chromium';

const OUT = 'public/demo-models-test';
const LIST = '/demo-models-test/models.json';
const TEXT = 'Displays a preview of the current selection.';

interface PageState {
  state: string;
  runs: number;
  output: string;
  outputDone: string;
  progressHidden: boolean;
  progressShards: string[];
  progressFull: boolean;
  progressCached: boolean;
  /** The overall bar's total: the language's bytes, known from the manifest before the first byte. */
  progressOverallTotal: number;
  activationLang: string;
  /** Per layer "stack:layer:routing" → expert weights (E numbers; 0 where unused). */
  layers: Record<string, number[]>;
  /** Per token-routed layer: rows of the heatmap (one per source piece), each E weights. */
  heatmaps: Record<string, number[][]>;
  bytesRows: Array<{ lang: string; downloaded: number; cached: number }>;
  stats: Record<string, string>;
  backend: string;
  error: string;
}

function readState(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const q = <T extends Element>(s: string) => document.querySelector<T>(s);
    const main = q<HTMLElement>('#demo') as HTMLElement;
    const progress = q<HTMLElement>('#progress') as HTMLElement;
    const layers: Record<string, number[]> = {};
    const heatmaps: Record<string, number[][]> = {};
    for (const fig of document.querySelectorAll<HTMLElement>('#activation figure.layer')) {
      const key = `${fig.dataset.stack}:${fig.dataset.layer}:${fig.dataset.routing}`;
      layers[key] = [...fig.querySelectorAll<HTMLElement>('ol.experts li')].map((li) => Number(li.dataset.weight));
      const rows = [...fig.querySelectorAll<HTMLTableRowElement>('table.heatmap tbody tr')];
      if (rows.length) {
        heatmaps[key] = rows.map((tr) =>
          [...tr.querySelectorAll<HTMLElement>('td')].map((td) => Number(td.dataset.weight)),
        );
      }
    }
    const bars = [...progress.querySelectorAll<HTMLProgressElement>('progress')];
    return {
      state: main.dataset.state ?? '',
      runs: Number(main.dataset.runs ?? 0),
      output: q<HTMLOutputElement>('#output')?.textContent ?? '',
      outputDone: q<HTMLOutputElement>('#output')?.dataset.done ?? '',
      progressHidden: progress.hidden,
      progressShards: [...progress.querySelectorAll<HTMLElement>('li')].map((li) => li.dataset.shard ?? ''),
      progressFull: bars.length > 0 && bars.every((b) => b.value === b.max),
      progressCached: [...progress.querySelectorAll<HTMLElement>('li')].every((li) => li.dataset.cached === 'true'),
      progressOverallTotal: Number(q<HTMLProgressElement>('#progress-overall')?.dataset.total ?? 0),
      activationLang: q<HTMLElement>('#activation')?.dataset.lang ?? '',
      layers,
      heatmaps,
      bytesRows: [...document.querySelectorAll<HTMLElement>('#bytes tbody tr')].map((tr) => ({
        lang: tr.dataset.lang ?? '',
        downloaded: Number(tr.dataset.downloaded),
        cached: Number(tr.dataset.cached),
      })),
      stats: Object.fromEntries(
        [...document.querySelectorAll<HTMLElement>('#stats dd')].map((dd) => [dd.dataset.stat, dd.textContent]),
      ),
      backend: q<HTMLElement>('#backend')?.textContent ?? '',
      error: q<HTMLElement>('#error')?.hidden ? '' : (q<HTMLElement>('#error')?.textContent ?? ''),
    };
  });
}

/** The page's console (the harness's), printed when a wait times out. */
let pageLog: readonly string[] = [];

async function waitReady(page: Page, runs: number): Promise<PageState> {
  await page
    .waitForFunction(
      (n) => {
        const m = document.getElementById('demo');
        return (
          m?.dataset.state === 'unavailable' ||
          m?.dataset.state === 'error' ||
          (m?.dataset.state === 'ready' && Number(m.dataset.runs ?? 0) >= n)
        );
      },
      runs,
      { timeout: 180_000 },
    )
    .catch(async (e: unknown) => {
      const st = await readState(page).catch(() => null);
      throw new Error(
        `demo did not finish run ${runs}: ${JSON.stringify({ ...st, layers: undefined, heatmaps: undefined })}\n${pageLog.join('\n')}`,
        { cause: e },
      );
    });
  return readState(page);
}

/** Selects `lang` and translates with the keyboard (Ctrl+Enter in the text area); waits for the run to finish. */
async function translateTo(page: Page, lang: string, runs: number): Promise<PageState> {
  await page.selectOption('#target', lang);
  await page.focus('#source');
  await page.keyboard.press('Control+Enter');
  return waitReady(page, runs);
}

function differs(a: number[] | undefined, b: number[] | undefined): boolean {
  if (!a || !b || a.length !== b.length) return true;
  return a.some((x, i) => Math.abs(x - (b[i] as number)) > 1e-3);
}

describe('translation demo in real headless Chromium (WebGPU)', () => {
  const h = new BrowserHarness();
  pageLog = h.consoleLines;
  beforeAll(async () => {
    const list = await prepareDemoModels({ out: OUT, fixturesOnly: true });
    expect(list.models.map((m) => m.id)).toContain('tiny-token_task');
    // No hot reload: an edit to the sources while the test runs must not reload the page mid-translation.
    await h.start([{ name: 'no-hmr', config: () => ({ server: { hmr: false } }) }]);
  });
  afterAll(async () => {
    await h.stop();
  });

  it('translates into two languages with progress on first use only, and the activation follows the language', async () => {
    const page = await h.open(`/?models=${LIST}&model=tiny-token_task`);
    await page.setViewportSize({ width: 1280, height: 900 });
    let s = await waitReady(page, 0);
    expect(s.state, `${s.backend} ${s.error}\n${h.consoleLines.join('\n')}`).toBe('ready');
    expect(s.backend).toMatch(/WebGPU on /);
    const langs = await page.$$eval('#target option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(langs).toEqual(['de', 'fr', 'es', 'it', 'pt-br', 'cs', 'ru', 'zh-cn']);
    await page.fill('#source', TEXT);

    // Record what the output shows while the translation streams.
    await page.evaluate(() => {
      const out = document.getElementById('output') as HTMLOutputElement;
      const seen: Array<{ text: string; done: string }> = [];
      (window as unknown as { __outputs: typeof seen }).__outputs = seen;
      new MutationObserver(() => seen.push({ text: out.textContent ?? '', done: out.dataset.done ?? '' })).observe(
        out,
        {
          childList: true,
          characterData: true,
          subtree: true,
          attributes: true,
        },
      );
    });

    // First language: the trunk and the language's shard download, each with its bar.
    s = await translateTo(page, 'es', 1);
    expect(s.error, h.consoleLines.join('\n')).toBe('');
    expect(s.outputDone).toBe('true');
    expect(s.progressHidden).toBe(false);
    expect(s.progressShards).toContain('task-es.safetensors');
    expect(s.progressShards.some((f) => f.startsWith('trunk-'))).toBe(true);
    expect(s.progressFull).toBe(true);
    // one overall bar for the language (its total from the manifest), full like the file bars
    expect(s.progressOverallTotal).toBeGreaterThan(0);
    expect(s.activationLang).toBe('es');
    const es = s;
    const esOutput = s.output;
    expect(esOutput.length).toBeGreaterThan(0);
    // Streamed: growing partial outputs were shown before the final one.
    const seen = await page.evaluate(
      () => (window as unknown as { __outputs: Array<{ text: string; done: string }> }).__outputs,
    );
    const partials = new Set(seen.filter((o) => o.done === 'false' && o.text !== '').map((o) => o.text));
    expect(partials.size, JSON.stringify(seen.slice(0, 5))).toBeGreaterThan(1);
    for (const p of partials) expect(esOutput.startsWith(p), `partial "${p}" of "${esOutput}"`).toBe(true);
    expect([...partials].some((p) => p.length < esOutput.length)).toBe(true);
    await h.screenshot(page, 'demo-desktop-es');

    // The hybrid model: a token-routed encoder layer (heatmap: one row per source piece, top-2 weights summing to 1)
    // and a task-routed decoder layer (two experts, weights summing to 1).
    const tokenKey = Object.keys(s.heatmaps).find((k) => k.startsWith('encoder:'));
    expect(tokenKey, JSON.stringify(Object.keys(s.layers))).toBeDefined();
    const rows = s.heatmaps[tokenKey as string] as number[][];
    expect(rows.length).toBeGreaterThan(3);
    for (const r of rows) {
      expect(r.length).toBe(4);
      expect(r.filter((w) => w > 0).length).toBeLessThanOrEqual(2);
      expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
    }
    const taskKey = Object.keys(s.layers).find((k) => k.endsWith(':task')) as string;
    expect(taskKey).toBeDefined();
    const esTask = s.layers[taskKey] as number[];
    expect(esTask.filter((w) => w > 0).length).toBe(2);
    expect(esTask.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);

    // Second language: only its own shard downloads; the task layer's experts change.
    s = await translateTo(page, 'de', 2);
    expect(s.error).toBe('');
    expect(s.outputDone).toBe('true');
    expect(s.progressHidden).toBe(false);
    expect(s.progressShards).toEqual(['task-de.safetensors']);
    expect(s.activationLang).toBe('de');
    expect(differs(s.layers[taskKey], esTask), `es ${esTask} vs de ${s.layers[taskKey]}`).toBe(true);
    expect(await page.textContent('#activation .was')).toMatch(/^Spanish \(es\) uses E\d \d+%, E\d \d+%/);
    expect(s.bytesRows.map((r) => r.lang)).toEqual(['es', 'de']);
    const [first, second] = s.bytesRows as [PageState['bytesRows'][0], PageState['bytesRows'][0]];
    expect(first.downloaded).toBeGreaterThan(second.downloaded);
    expect(second.downloaded).toBeGreaterThan(0);
    await h.screenshot(page, 'demo-desktop-de');

    // Back to the first language: already on the GPU, so no download and no bars; the same routing as before.
    s = await translateTo(page, 'es', 3);
    expect(s.error).toBe('');
    expect(s.progressHidden).toBe(true);
    expect(s.progressShards).toEqual([]);
    expect(s.output).toBe(esOutput);
    expect(differs(s.layers[taskKey], es.layers[taskKey])).toBe(false);
    expect(s.bytesRows.length).toBe(2);
    expect(s.stats['tokens-per-second']).toMatch(/tokens\/s/);
    expect(s.stats['bytes-resident']).toMatch(/KiB|MiB/);

    // The page shows what the engine itself gives for the same input (a fresh in-thread translator on this page).
    // (A string, so that vitest does not rewrite the page's dynamic import.)
    const engine = (await page.evaluate(`(async () => {
      const { createTranslator } = await import('/src/index.ts');
      const t = await createTranslator({ model: '/demo-models-test/tiny-token_task/manifest.json' });
      const out = await t.translate([${JSON.stringify(TEXT)}], { to: 'es' });
      const act = await t.activation();
      await t.dispose();
      return { out: out[0], act };
    })()`)) as { out: string; act: Activation | null };
    expect(s.output).toBe(engine.out);
    const engineTask = engine.act?.layers.find((l) => l.routing === 'task');
    expect(engineTask?.task?.experts.length).toBe(2);
    for (const [i, e] of (engineTask?.task?.experts ?? []).entries()) {
      expect(es.layers[taskKey]?.[e]).toBeCloseTo(engineTask?.task?.weights[i] as number, 3);
    }

    // Phone width: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await h.screenshot(page, 'demo-phone-390');
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('body *')]
        .filter((el) => el.getBoundingClientRect().right > 390.5)
        .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`),
    );
    expect(wide, 'elements wider than the screen').toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 900 });

    // Another model from the picker: a token-MoE model served whole; the first language pays for all of it.
    await page.selectOption('#model', 'tiny-token_token');
    s = await waitReady(page, 0);
    expect(s.bytesRows).toEqual([]);
    s = await translateTo(page, 'fr', 4);
    expect(s.error).toBe('');
    expect(s.outputDone).toBe('true');
    expect(s.progressShards).toContain('weights-000.safetensors');
    expect(s.bytesRows.map((r) => r.lang)).toEqual(['fr']);
    expect(Object.keys(s.layers).filter((k) => k.endsWith(':token')).length).toBe(2);
    const encRows = s.heatmaps['encoder:1:token'] as number[][];
    expect(encRows.length).toBeGreaterThan(3);
    // Decoder token routing, one row per decoding step (greedy): each step picks two experts.
    const decRows = s.heatmaps['decoder:1:token'] as number[][];
    expect(decRows.length).toBeGreaterThan(1);
    for (const r of decRows) {
      expect(r.filter((w) => w > 0).length).toBeLessThanOrEqual(2);
      expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
    }
    await h.screenshot(page, 'demo-desktop-token_token');

    // A second visit reads the files from the browser's cache: bars again (marked as cache reads), nothing downloaded.
    await page.reload();
    s = await waitReady(page, 0);
    s = await translateTo(page, 'es', 1);
    expect(s.error).toBe('');
    expect(s.progressShards).toContain('task-es.safetensors');
    expect(s.progressCached).toBe(true);
    expect(s.bytesRows.length).toBe(1);
    expect(s.bytesRows[0]?.downloaded).toBe(0);
    expect(s.bytesRows[0]?.cached).toBe(first.downloaded);

    console.log(`[taskmoe] demo: es "${esOutput}", ${s.stats['tokens-per-second']}, ${s.stats.backend}`);
  }, 400_000);

  it('stops a translation (Stop button), translates again afterwards, and runs beam search', async () => {
    const page = await h.open(`/?models=${LIST}&model=tiny-task_task`);
    let s = await waitReady(page, 0);
    expect(s.state).toBe('ready');
    await page.fill('#source', Array(6).fill(TEXT).join(' '));
    await page.selectOption('#target', 'fr');
    await page.click('#translate');
    await page.waitForFunction(() => document.getElementById('demo')?.dataset.state === 'translating');
    expect(await page.isVisible('#stop')).toBe(true);
    await page.click('#stop');
    s = await waitReady(page, 0);
    expect(s.error).toBe('Stopped.');
    expect(s.runs).toBe(0);
    expect(s.outputDone).toBe('false');
    expect(await page.isVisible('#stop')).toBe(false);
    await page.fill('#source', TEXT);
    s = await translateTo(page, 'fr', 1);
    expect(s.error).toBe('');
    expect(s.outputDone).toBe('true');
    expect(s.progressHidden).toBe(true);
    expect(s.activationLang).toBe('fr');

    // Beam search from the Search picker gives what the engine gives with the same beam.
    await page.selectOption('#beam', '4');
    s = await translateTo(page, 'fr', 2);
    expect(s.error).toBe('');
    expect(s.outputDone).toBe('true');
    const engine = (await page.evaluate(`(async () => {
      const { createTranslator } = await import('/src/index.ts');
      const t = await createTranslator({ model: '/demo-models-test/tiny-task_task/manifest.json' });
      const out = await t.translate([${JSON.stringify(TEXT)}], { to: 'fr', beam: 4 });
      await t.dispose();
      return out[0];
    })()`)) as string;
    expect(s.output).toBe(engine);
  }, 200_000);

  it('says so when WebGPU is missing', async () => {
    const page = await h.browser.newPage();
    await page.addInitScript(() => {
      delete (Navigator.prototype as { gpu?: unknown }).gpu;
    });
    // In-thread engine: an init script cannot reach into a worker's navigator.
    await page.goto(`${h.baseUrl}/?models=${LIST}&worker=0`);
    const s = await waitReady(page, 0);
    expect(s.backend).toMatch(/WebGPU is missing/);
    expect(['unavailable', 'ready']).toContain(s.state);
    if (s.state === 'ready') expect(s.stats.backend).toMatch(/WASM/);
    else expect(await page.isDisabled('#translate')).toBe(true);
    await h.screenshot(page, 'demo-no-webgpu');
  });
});
