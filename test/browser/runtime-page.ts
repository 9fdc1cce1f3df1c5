// The page of runtime.browser.test.ts: a translator in a Web Worker, driven step by step from the Node side through
// window.__runtime. Uses the public API (src/index.ts) and the worker entry; ortBackends also OrtModel directly.

import { OrtModel } from '../../src/engine/ort-model';
import {
  createTranslator,
  createTranslatorApi,
  InThreadTranslator,
  indexedDbCache,
  type Progress,
  type Translator,
} from '../../src/index';
import { readConfig } from '../../src/runtime/load-model';
import { fetchFiles } from '../../src/runtime/model-files';
import { shardReader } from '../../src/runtime/onnx-export';
import { readShards } from '../../src/runtime/safetensors';
import { ShardLoader } from '../../src/runtime/shard-loader';
import { SentencePieceTokenizer } from '../../src/tokenizer';

/** What one step returns to the Node side. */
interface StepResult {
  ok: boolean;
  value?: unknown;
  error?: { name: string; code?: string; message: string };
}

declare global {
  interface Window {
    __runtime?: {
      ready: boolean;
      create(model: string, backend?: 'webgpu' | 'wasm' | 'auto', inThread?: boolean): Promise<StepResult>;
      load(lang: string): Promise<StepResult>;
      translate(texts: string[], to: string, batchSize?: number, beam?: number): Promise<StepResult>;
      loseDevice(): Promise<StepResult>;
      translateAbortingAfter(texts: string[], to: string, partials: number): Promise<StepResult>;
      stats(): Promise<StepResult>;
      activation(): Promise<StepResult>;
      cacheKeys(): Promise<StepResult>;
      corruptCached(file: string): Promise<StepResult>;
      indexedDbLoads(base: string, file: { file: string; bytes: number; sha256: string }): Promise<StepResult>;
      dispose(): Promise<StepResult>;
      ortBackends(base: string, lang: string, texts: string[]): Promise<StepResult>;
      facade(model: string, lang: string, text: string): Promise<StepResult>;
    };
  }
}

let translator: Translator | null = null;
let worker: Worker | null = null;
let progress: Progress[] = [];
const CACHE = 'taskmoe-models';

function log(line: string): void {
  (document.getElementById('log') as HTMLElement).textContent += `${line}\n`;
}

async function step(name: string, fn: () => Promise<unknown>): Promise<StepResult> {
  try {
    const value = await fn();
    log(`${name}: ok`);
    return { ok: true, value };
  } catch (e) {
    const err = e as Error & { code?: string };
    log(`${name}: ${err.name} ${err.message}`);
    return { ok: false, error: { name: err.name, ...(err.code ? { code: err.code } : {}), message: err.message } };
  }
}

function live(): Translator {
  if (!translator) throw new Error('create() first');
  return translator;
}

/**
 * One language's sub-network of the extracted model at `base` on onnxruntime-web: greedy and beam 2 ids on the WASM
 * EP, and on the WebGPU EP with the KV cache and cross K/V kept in GPU buffers (`stateOnGpu`).
 */
async function ortBackends(base: string, lang: string, texts: string[]) {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const files = fetchFiles(base);
  const cfg = await readConfig(files);
  const tok = SentencePieceTokenizer.fromBytes(await files.read(cfg.tokenizer));
  const src = texts.map((t) => [cfg.langTagIds[lang] as number, ...tok.encode(t), cfg.eosId]);
  const shards = await readShards(files, [cfg.taskShards?.[lang] as string, ...cfg.shards]);
  const out: Record<string, { greedy: number[][]; beam: number[][] }> = {};
  for (const ep of ['wasm', 'webgpu'] as const) {
    const m = await OrtModel.create(ort, cfg, shardReader(shards), {
      lang,
      executionProviders: [ep],
      stateOnGpu: ep === 'webgpu',
    });
    out[ep] = {
      greedy: (await m.translateIds(src, { maxSteps: 12 })).ids,
      beam: (await m.translateIds(src, { maxSteps: 12, beam: 2 })).ids,
    };
    await m.release();
  }
  return out;
}

/**
 * The Chrome-style facade over a translator in a worker: availability before and after, create with a monitor, a
 * string translated whole and streamed, the Cache API's view (a stale entry of an older model version evicted,
 * isCached, cacheUsage), destroy, clearCache.
 */
async function facade(model: string, lang: string, text: string) {
  const cache = await caches.open(CACHE);
  const manifestUrl = new URL(model, location.href).href;
  const stale = `${manifestUrl.slice(0, manifestUrl.lastIndexOf('/') + 1)}task-${lang}.safetensors?sha256=${'0'.repeat(64)}`;
  await cache.put(stale, new Response(new Uint8Array(7)));
  const w = new Worker(new URL('../../src/engine/worker.ts', import.meta.url), { type: 'module' });
  const api = createTranslatorApi({ model, worker: w });
  try {
    const before = await api.availability({ sourceLanguage: 'en', targetLanguage: lang.toUpperCase() });
    const staleKept = (await cache.keys()).some((r) => r.url === stale);
    const events: Array<{ loaded: number; total: number; bytesLoaded: number; bytesTotal: number }> = [];
    const t = await api.create({
      sourceLanguage: 'en',
      targetLanguage: lang.toUpperCase(),
      monitor(m) {
        m.addEventListener('downloadprogress', (e) => {
          events.push({ loaded: e.loaded, total: e.total, bytesLoaded: e.bytesLoaded, bytesTotal: e.bytesTotal });
        });
      },
    });
    const after = await api.availability({ targetLanguage: lang });
    const out = await t.translate(text);
    const chunks: string[] = [];
    const reader = t.translateStreaming(text).getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    const engine = await api.engine();
    const cached = await engine.isCached(lang);
    const usage = await engine.cacheUsage();
    t.destroy();
    const destroyed = await t.translate(text).then(
      () => 'resolved',
      (e: DOMException) => e.name,
    );
    await engine.clearCache();
    return {
      before,
      staleKept,
      staleAfter: (await cache.keys()).some((r) => r.url === stale),
      events,
      after,
      out,
      chunks,
      cached,
      usage,
      destroyed,
      cleared: await engine.cacheUsage(),
      afterClear: await api.availability({ targetLanguage: lang }),
      stats: await engine.stats(),
    };
  } finally {
    await api.destroy();
    w.terminate();
  }
}

window.__runtime = {
  ready: true,
  facade: (model, lang, text) => step(`facade ${lang}`, () => facade(model, lang, text)),
  ortBackends: (base, lang, texts) => step(`ort backends ${lang}`, () => ortBackends(base, lang, texts)),
  create: (model, backend, inThread) =>
    step('create', async () => {
      worker = inThread ? null : new Worker(new URL('../../src/engine/worker.ts', import.meta.url), { type: 'module' });
      translator = await createTranslator({ model, ...(worker ? { worker } : {}), ...(backend ? { backend } : {}) });
      return await translator.languages();
    }),
  load: (lang) =>
    step(`load ${lang}`, async () => {
      progress = [];
      await live().load(lang, { onProgress: (p) => progress.push(p) });
      return progress;
    }),
  translate: (texts, to, batchSize, beam) =>
    step(`translate ${to}`, () =>
      live().translate(texts, { to, ...(batchSize ? { batchSize } : {}), ...(beam ? { beam } : {}) }),
    ),
  loseDevice: () =>
    step('loseDevice', async () => {
      // Only an in-thread WebGPU translator owns a device on this page.
      const t = live();
      if (!(t instanceof InThreadTranslator)) throw new Error('loseDevice needs an in-thread WebGPU translator');
      const device = t.gpu.device;
      device.destroy();
      return (await device.lost).reason;
    }),
  translateAbortingAfter: (texts, to, partials) =>
    step(`translate ${to} (abort)`, async () => {
      const ac = new AbortController();
      let seen = 0;
      await live().translate(texts, {
        to,
        signal: ac.signal,
        onPartial: () => {
          seen++;
          if (seen === partials) ac.abort();
        },
      });
      return seen;
    }),
  stats: () => step('stats', () => live().stats()),
  activation: () => step('activation', () => live().activation()),
  cacheKeys: () => step('cacheKeys', async () => (await (await caches.open(CACHE)).keys()).map((r) => r.url)),
  corruptCached: (file) =>
    step(`corrupt ${file}`, async () => {
      const cache = await caches.open(CACHE);
      const req = (await cache.keys()).find((r) => new URL(r.url).pathname.endsWith(`/${file}`));
      if (!req) throw new Error(`${file} is not cached`);
      const bytes = new Uint8Array(await ((await cache.match(req)) as Response).arrayBuffer());
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0xff;
      await cache.put(req, new Response(bytes));
      return req.url;
    }),
  indexedDbLoads: (base, file) =>
    step('indexedDbLoads', async () => {
      // The fallback cache where the Cache API is missing: a first load fetches, a second comes from IndexedDB.
      const cache = indexedDbCache('taskmoe-idb-test');
      const first = new ShardLoader({ baseUrl: base, cache });
      await first.load(file);
      const second = new ShardLoader({ baseUrl: base, cache });
      const bytes = await second.load(file);
      // What cache management sees there: keys, sizes, isCached, eviction of another version, clearing.
      const stale = `${second.url(file.file)}?sha256=${'0'.repeat(64)}`;
      await cache.put(stale, new Uint8Array(3));
      const keys = await cache.keys();
      const sizes = await cache.sizes();
      const cached = await second.isCached([file]);
      const evicted = await second.evictStale([file]);
      const cleared = await second.clearCache();
      return {
        first: first.stats,
        second: second.stats,
        bytes: bytes.byteLength,
        keys,
        sizes,
        cached,
        evicted,
        cleared,
        after: await second.cacheUsage(),
      };
    }),
  dispose: () =>
    step('dispose', async () => {
      await translator?.dispose();
      worker?.terminate();
      translator = null;
      worker = null;
    }),
};
