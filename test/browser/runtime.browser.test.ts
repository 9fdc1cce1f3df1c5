// The worker runtime in real headless Chromium (WebGPU on SwiftShader): an extracted model served by the Vite dev
// server, whose requests a middleware counts. Load de and translate; switch to fr and fetch only fr's shard; reload
// and take everything from the Cache API; corrupt a cached shard and recover; abort mid-translation and translate
// again.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractModel } from '../../src/runtime/extract-node';
import { nodeFiles } from '../../src/runtime/node-files';
import { BrowserHarness } from './chromium';

const DIR = 'test-results/runtime-model';
const MODEL = `/${DIR}/manifest.json`;
// token_task extracted: a token-routed encoder MoE layer, task-routed decoder folded into each language's shard.
const TOKEN_DIR = 'test-results/runtime-model-token';
const TOKEN_MODEL = `/${TOKEN_DIR}/manifest.json`;
const SRC = ['Open the file.', 'Save the document before closing it.', 'The army moves north.'];

interface StepResult {
  ok: boolean;
  value?: unknown;
  error?: { name: string; code?: string; message: string };
}

describe('worker runtime in real headless Chromium (WebGPU)', () => {
  const h = new BrowserHarness();
  const requests: string[] = [];
  let page: Page;
  let firstDe: string[] = [];

  /** Model files requested from the server since the last call. */
  const taken = (): string[] => requests.splice(0).map((u) => u.slice(DIR.length + 1));

  async function call(name: string, ...args: unknown[]): Promise<StepResult> {
    const r = await page.evaluate(
      ([n, a]) =>
        (window.__runtime as unknown as Record<string, (...x: unknown[]) => Promise<unknown>>)[n as string]?.(
          ...(a as unknown[]),
        ),
      [name, args] as const,
    );
    return r as StepResult;
  }

  async function ok(name: string, ...args: unknown[]): Promise<unknown> {
    const r = await call(name, ...args);
    expect(r.error, `${name}: ${JSON.stringify(r.error)}\n${h.consoleLines.join('\n')}`).toBeUndefined();
    return r.value;
  }

  async function openPage(): Promise<void> {
    page = await h.open('/test/browser/runtime.html');
    await page.waitForFunction(() => window.__runtime?.ready === true, undefined, { timeout: 60_000 });
  }

  /** Reloads the page in the same browser context (same Cache Storage), as a user would. */
  async function reload(): Promise<void> {
    await ok('dispose');
    await page.reload();
    await page.waitForFunction(() => window.__runtime?.ready === true, undefined, { timeout: 60_000 });
  }

  beforeAll(async () => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    await extractModel(nodeFiles('test/fixtures/models/task_task'), DIR);
    rmSync(TOKEN_DIR, { recursive: true, force: true });
    await extractModel(nodeFiles('test/fixtures/models/token_task'), TOKEN_DIR);
    await h.start([
      {
        name: 'count-model-requests',
        // comlink is first imported by the worker: pre-bundle it and discover nothing late, or Vite reloads the page.
        config: () => ({
          optimizeDeps: { noDiscovery: true, include: ['comlink'] },
          server: { watch: { ignored: ['**/test-results/**'] } },
        }),
        configureServer(server) {
          server.middlewares.use((req, _res, next) => {
            const path = (req.url ?? '').split('?')[0] as string;
            if (path.startsWith(`/${DIR}/`)) requests.push(path.slice(1));
            next();
          });
        },
      },
    ]);
    await openPage();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('loads de (trunk + de shard, with progress) and translates in the worker', async () => {
    expect(await ok('create', MODEL)).toContain('de');
    expect(taken()).toEqual(['manifest.json']);
    const progress = (await ok('load', 'de')) as Array<{ shard: string; loaded: number; total: number }>;
    expect(taken().sort()).toEqual(['config.json', 'spm.model', 'task-de.safetensors', 'trunk-000.safetensors'].sort());
    const last = progress.filter((p) => p.shard === 'task-de.safetensors').at(-1);
    expect(last && last.loaded === last.total && last.total > 0).toBe(true);
    firstDe = (await ok('translate', SRC, 'de')) as string[];
    expect(firstDe.length).toBe(SRC.length);
    console.log(`[taskmoe] de (untrained fixture model): ${JSON.stringify(firstDe)}`);
    const stats = (await ok('stats')) as { adapter: string; resident: string[] };
    console.log(`[taskmoe] Chromium WebGPU adapter (worker): ${stats.adapter}`);
    expect(stats.resident).toEqual(['de']);
    const act = (await ok('activation')) as { layers: Array<{ routing: string; task?: { experts: number[] } }> };
    expect(act.layers.length).toBeGreaterThan(0);
    expect(act.layers.every((l) => l.routing === 'task' && l.task?.experts.length === 2)).toBe(true);
  });

  it('switching to fr fetches only fr’s expert shard', async () => {
    const fr = (await ok('translate', SRC, 'fr')) as string[];
    expect(fr.length).toBe(SRC.length);
    expect(taken()).toEqual(['task-fr.safetensors']);
  });

  it('after a reload everything comes from the cache: no model file but the manifest is requested', async () => {
    const keys = (await ok('cacheKeys')) as string[];
    expect(keys.some((k) => k.includes('task-fr.safetensors'))).toBe(true);
    await reload();
    await ok('create', MODEL);
    expect(await ok('translate', SRC, 'de')).toEqual(firstDe);
    await ok('translate', SRC, 'fr');
    expect(taken()).toEqual(['manifest.json']);
    const stats = (await ok('stats')) as { bytesFromCache: number; bytesDownloaded: number };
    expect(stats.bytesFromCache).toBeGreaterThan(0);
    expect(stats.bytesDownloaded).toBeLessThan(10_000); // the manifest only
  });

  it('a corrupted cached shard is detected, refetched once, and the translation is unchanged', async () => {
    await ok('corruptCached', 'task-de.safetensors');
    await reload();
    await ok('create', MODEL);
    expect(await ok('translate', SRC, 'de')).toEqual(firstDe);
    expect(taken()).toEqual(['manifest.json', 'task-de.safetensors']);
    expect(h.consoleLines.some((l) => l.includes('cached copy is corrupt'))).toBe(true);
  });

  it('caches in IndexedDB where the Cache API is missing', async () => {
    const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8'));
    const shard = manifest.tasks.es.shards[0];
    const r = (await ok('indexedDbLoads', `/${DIR}/`, shard)) as {
      first: { fetches: number };
      second: { fetches: number; bytesFromCache: number };
      bytes: number;
      keys: string[];
      sizes: Array<{ key: string; bytes: number }>;
      cached: boolean;
      evicted: string[];
      cleared: number;
      after: { bytes: number; entries: number };
    };
    expect(r.first.fetches).toBe(1);
    expect(r.second).toEqual({ fetches: 0, bytesDownloaded: 0, bytesFromCache: shard.bytes });
    expect(r.bytes).toBe(shard.bytes);
    const key = r.keys.find((k) => k.includes(shard.sha256)) as string;
    expect(key).toMatch(/task-es\.safetensors\?sha256=/);
    expect(r.keys.length).toBe(2);
    expect(r.sizes.find((e) => e.key === key)?.bytes).toBe(shard.bytes);
    expect(r.cached).toBe(true);
    expect(r.evicted).toEqual(r.keys.filter((k) => k !== key));
    expect(r.cleared).toBe(1);
    expect(r.after).toEqual({ bytes: 0, entries: 0 });
    expect(taken()).toEqual(['task-es.safetensors']);
  });

  it("aborts mid-translation with the signal's reason (an AbortError DOMException), then translates again", async () => {
    const r = await call('translateAbortingAfter', SRC, 'de', 2);
    expect(r.ok).toBe(false);
    expect(r.error?.name).toBe('AbortError');
    expect(await ok('translate', SRC, 'de')).toEqual(firstDe);
    const bad = await call('translate', SRC, 'xx');
    expect(bad.error?.name).toBe('UnknownLanguageError');
    await h.screenshot(page, 'browser-runtime');
    await ok('dispose');
  });

  it('the WASM fallback (onnxruntime-web in the worker) translates like WebGPU, one sentence per batch', async () => {
    await ok('create', MODEL);
    const gpu = await ok('translate', SRC, 'de', 1);
    await ok('dispose');
    await ok('create', MODEL, 'wasm');
    expect(await ok('translate', SRC, 'de')).toEqual(gpu);
    expect(((await ok('stats')) as { backend: string }).backend).toBe('wasm');
    await ok('dispose');
  });

  it('beam 4 on a token-routed model (extracted token_task) on the WASM backend equals WebGPU’s', async () => {
    await ok('create', TOKEN_MODEL);
    const gpu = await ok('translate', SRC, 'de', undefined, 4);
    await ok('dispose');
    await ok('create', TOKEN_MODEL, 'wasm');
    expect(await ok('translate', SRC, 'de', undefined, 4)).toEqual(gpu);
    expect(((await ok('stats')) as { backend: string }).backend).toBe('wasm');
    await ok('dispose');
  });

  it('onnxruntime-web on WebGPU with GPU-resident KV cache and cross K/V gives the WASM ids (greedy, beam 2)', async () => {
    const r = (await ok('ortBackends', `/${DIR}/`, 'de', SRC)) as Record<
      'wasm' | 'webgpu',
      { greedy: number[][]; beam: number[][] }
    >;
    expect(r.wasm.greedy.length).toBe(SRC.length);
    expect(r.wasm.greedy.every((ids) => ids.length > 0)).toBe(true);
    expect(r.webgpu.greedy).toEqual(r.wasm.greedy);
    expect(r.webgpu.beam).toEqual(r.wasm.beam);
  });

  it('an in-thread translator recovers from a lost device (device.destroy()) with the same output', async () => {
    await ok('create', MODEL, 'webgpu', true);
    const before = await ok('translate', SRC, 'de');
    expect(before).toEqual(firstDe);
    const reason = await ok('loseDevice');
    expect(reason).toBe('destroyed');
    expect(await ok('translate', SRC, 'de')).toEqual(before);
    const stats = (await ok('stats')) as { deviceLosses: number; backend: string; resident: string[] };
    expect(stats.backend).toBe('webgpu');
    expect(stats.deviceLosses).toBe(1);
    expect(stats.resident).toEqual(['de']);
    await ok('dispose');
  });

  it('the Chrome-style facade over the worker: availability, a monitor up to 1, a string translated and streamed, the Cache API managed', async () => {
    await ok('dispose');
    const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8'));
    const r = (await ok('facade', MODEL, 'it', 'Open the file.')) as {
      before: string;
      staleKept: boolean;
      staleAfter: boolean;
      events: Array<{ loaded: number; total: number; bytesLoaded: number; bytesTotal: number }>;
      after: string;
      out: string;
      chunks: string[];
      cached: boolean;
      usage: { bytes: number; entries: number };
      destroyed: string;
      cleared: { bytes: number; entries: number };
      afterClear: string;
      stats: { backend: string };
    };
    // Earlier tests cached the trunk; the it shard is still to fetch.
    expect(r.before).toBe('downloadable');
    // The worker's translator evicted the entry of an older version of this model when it was created.
    expect(r.staleKept).toBe(false);
    expect(r.staleAfter).toBe(false);
    const fractions = r.events.map((e) => e.loaded);
    expect(fractions[0]).toBe(0);
    expect(fractions.at(-1)).toBe(1);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThan(fractions[i - 1] as number);
    // A new worker: the load needs the trunk too (from the cache) and the it shard (from the network).
    const files = [manifest.config, manifest.tokenizer, ...manifest.trunk, ...manifest.tasks.it.shards];
    const bytes = files.reduce((n: number, f: { bytes: number }) => n + f.bytes, 0);
    expect(r.events.every((e) => e.total === 1 && e.bytesTotal === bytes)).toBe(true);
    const shard = manifest.tasks.it.shards[0];
    expect(r.after).toBe('available');
    expect(typeof r.out).toBe('string');
    expect(r.chunks.join('')).toBe(r.out);
    expect(r.cached).toBe(true);
    expect(r.usage.bytes).toBeGreaterThanOrEqual(shard.bytes);
    expect(r.usage.entries).toBeGreaterThan(4);
    expect(r.destroyed).toBe('AbortError');
    expect(r.cleared).toEqual({ bytes: 0, entries: 0 });
    expect(r.afterClear).toBe('downloadable');
    expect(r.stats.backend).toBe('webgpu');
  });
});
