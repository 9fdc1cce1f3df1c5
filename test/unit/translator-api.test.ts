// The platform's conventions on the real engine (Dawn on lavapipe; onnxruntime-web's WASM backend): a string is one
// text, BCP 47 tags match case-insensitively, aborts reject with the signal's reason in every backend (in-thread
// WebGPU, WASM, worker proxy), per-language progress, isCached / cacheUsage / clearCache, eviction of older model
// versions, and the Chrome-style facade (availability, create with a monitor, translate, translateStreaming,
// measureInputUsage, inputQuota, destroy) on the shipped task_task model.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import nodeEndpoint from 'comlink/dist/esm/node-adapter';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InThreadTranslator, type InThreadTranslatorOptions } from '../../src/engine/inthread-translator';
import { resolveLanguage } from '../../src/engine/languages';
import { openTranslator } from '../../src/engine/open-translator';
import { TRANSLATE_LIMITS } from '../../src/engine/options';
import type { LanguageProgress, Translator } from '../../src/engine/translator';
import { createTranslatorApi, type DownloadProgressEvent } from '../../src/engine/translator-api';
import { exposeTranslatorHost } from '../../src/engine/worker-host';
import { WorkerTranslator } from '../../src/engine/worker-translator';
import { UnknownLanguageError } from '../../src/errors';
import type { GpuContext } from '../../src/gpu';
import { WebGPUUnavailableError } from '../../src/gpu';
import { extractModel } from '../../src/runtime/extract-node';
import { filesForTask, type Manifest, parseManifest } from '../../src/runtime/manifest';
import { nodeFiles } from '../../src/runtime/node-files';
import { memoryCache } from '../../src/runtime/shard-loader';
import { fileServer } from '../setup/file-server';
import { testContext } from '../setup/gpu';

ort.env.wasm.numThreads = 1;

const BASE = 'http://models.test/m/';
const SRC = readFileSync('training/fixtures/de/dev.src', 'utf8').split('\n').filter(Boolean).slice(0, 4);

/** The files of `dir` below BASE, streamed in 64 KiB chunks; `requests` lists the file names. */
function server(dir: string): { fetch: typeof fetch; requests: string[] } {
  return fileServer(BASE, dir, 65536);
}

/** An extracted copy of `model` with its manifest (the folder itself when it already is one). */
async function extracted(model: string, temp: string[]): Promise<string> {
  if (existsSync(join(model, 'manifest.json'))) return model;
  const dir = mkdtempSync(join(tmpdir(), 'taskmoe-api-'));
  temp.push(dir);
  await extractModel(nodeFiles(model), dir);
  return dir;
}

const bytesOf = (files: ReadonlyArray<{ bytes: number }>): number => files.reduce((n, f) => n + f.bytes, 0);

describe('resolveLanguage', () => {
  const langs = ['de', 'fr', 'es', 'it', 'pt-br', 'cs', 'ru', 'zh-cn'];
  it.each([
    ['de', 'de'],
    ['DE', 'de'],
    ['De', 'de'],
    ['de-AT', 'de'],
    ['de-CH', 'de'],
    ['es-MX', 'es'],
    ['pt-BR', 'pt-br'],
    ['PT-br', 'pt-br'],
    ['pt', 'pt-br'],
    ['zh-CN', 'zh-cn'],
    ['zh', 'zh-cn'],
    ['zh-Hans', 'zh-cn'],
    ['zh-hans-cn', 'zh-cn'],
  ])('%s -> %s', (tag, want) => {
    expect(resolveLanguage(tag, langs)).toBe(want);
  });
  it.each(['zh-TW', 'zh-Hant', 'pt-PT', 'en', 'xx', '', 'not a tag', 'de_DE'])('%s -> none', (tag) => {
    expect(resolveLanguage(tag, langs)).toBeUndefined();
  });
});

describe('the platform conventions on the fixture models', () => {
  const temp: string[] = [];
  const contexts: GpuContext[] = [];
  let dir: string;
  let manifest: Manifest;
  const createContext = async (): Promise<GpuContext> => {
    const c = await testContext();
    contexts.push(c);
    return c;
  };
  const opts = (s: ReturnType<typeof server>, extra: Partial<InThreadTranslatorOptions> = {}) => ({
    model: `${BASE}manifest.json`,
    fetch: s.fetch,
    cache: memoryCache(),
    createContext,
    warn: () => {},
    ...extra,
  });

  beforeAll(async () => {
    dir = await extracted('test/fixtures/models/task_task', temp);
    manifest = parseManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  });
  afterAll(() => {
    for (const c of contexts) c.dispose();
    for (const d of temp) rmSync(d, { recursive: true, force: true });
  });

  /** A translation that aborts through `ac` after its second decoding step. */
  const abortMidDecoding = (t: Translator, ac: AbortController, reason?: unknown): Promise<unknown> => {
    let steps = 0;
    return t
      .translate(SRC, {
        to: 'de',
        signal: ac.signal,
        onPartial: () => {
          if (++steps === 2) ac.abort(reason);
        },
      })
      .then(
        () => 'resolved',
        (e: unknown) => e,
      );
  };

  it('in-thread WebGPU: aborts reject with signal.reason (an AbortError DOMException by default, or the given one)', async () => {
    const t = await InThreadTranslator.create(opts(server(dir)));
    const expected = await t.translate(SRC, { to: 'de' });
    const ac = new AbortController();
    const e = await abortMidDecoding(t, ac);
    expect(e).toBeInstanceOf(DOMException);
    expect((e as DOMException).name).toBe('AbortError');
    expect(e).toBe(ac.signal.reason);
    const reason = new Error('the user left the page');
    expect(await abortMidDecoding(t, new AbortController(), reason)).toBe(reason);
    expect(await t.translate(SRC[0] as string, { to: 'de', signal: AbortSignal.abort('why') }).catch((x) => x)).toBe(
      'why',
    );
    // A load aborted mid-download rejects with the reason too, and leaves nothing half-loaded.
    const lac = new AbortController();
    const loadReason = new Error('cancelled download');
    const load = t.load('fr', {
      signal: lac.signal,
      onProgress: (p) => {
        if (p.loaded > 0 && !p.cached) lac.abort(loadReason);
      },
    });
    expect(await load.catch((x: unknown) => x)).toBe(loadReason);
    expect(await t.loaded()).toEqual(['de']);
    expect(await t.translate(SRC, { to: 'de' })).toEqual(expected);
    await t.dispose();
  });

  it('WASM: aborts reject with signal.reason too', async () => {
    const t = await openTranslator({
      ...opts(server(dir)),
      backend: 'wasm',
      createContext: async () => {
        throw new WebGPUUnavailableError('not used');
      },
    });
    expect((await t.stats()).backend).toBe('wasm');
    await t.load('de');
    // A loaded language needs nothing: one report, 0 of 0.
    const again: LanguageProgress[] = [];
    await t.load('DE', { onLanguageProgress: (p) => again.push(p) });
    expect(again).toEqual([{ language: 'de', loaded: 0, total: 0, files: 0 }]);
    const ac = new AbortController();
    const e = await abortMidDecoding(t, ac);
    expect(e).toBeInstanceOf(DOMException);
    expect((e as DOMException).name).toBe('AbortError');
    expect(e).toBe(ac.signal.reason);
    const reason = { why: 'custom' };
    expect(await abortMidDecoding(t, new AbortController(), reason)).toBe(reason);
    expect(await t.translate(SRC, { to: 'DE', signal: AbortSignal.abort(reason) }).catch((x) => x)).toBe(reason);
    // A string is one text there too.
    expect(await t.translate(SRC[0] as string, { to: 'de' })).toBe(
      (await t.translate([SRC[0] as string], { to: 'de' }))[0],
    );
    await t.dispose();
  });

  it('worker proxy: aborts reject with this thread’s signal.reason; the host takes the in-thread cache/fetch options', async () => {
    const s = server(dir);
    const cache = memoryCache();
    const { port1, port2 } = new MessageChannel();
    exposeTranslatorHost(nodeEndpoint(port1), { fetch: s.fetch, cache, createContext, warn: () => {} });
    const ep = nodeEndpoint(port2);
    const messagesOnly = {
      ...ep,
      addEventListener: (type: string, l: EventListenerOrEventListenerObject) => {
        if (type === 'message') ep.addEventListener(type, l);
      },
      removeEventListener: (type: string, l: EventListenerOrEventListenerObject) => {
        if (type === 'message') ep.removeEventListener(type, l);
      },
    };
    const t = await WorkerTranslator.create(messagesOnly, { model: `${BASE}manifest.json` });
    expect(await t.isCached('de')).toBe(false);
    const reports: LanguageProgress[] = [];
    await t.load('DE', { onLanguageProgress: (p) => reports.push(p) });
    const de = filesForTask(manifest, 'de');
    expect(reports[0]).toEqual({ language: 'de', loaded: 0, total: bytesOf(de), files: de.length });
    expect(reports.at(-1)?.loaded).toBe(reports[0]?.total);
    // The host's cache holds what was fetched through the host's fetch.
    expect(await t.isCached('de')).toBe(true);
    expect((await t.cacheUsage()).bytes).toBe(
      bytesOf(filesForTask(manifest, 'de')) + readFileSync(join(dir, 'manifest.json')).byteLength,
    );
    expect(cache.entries.size).toBe((await t.cacheUsage()).entries);
    const ac = new AbortController();
    const e = await abortMidDecoding(t, ac);
    expect(e).toBeInstanceOf(DOMException);
    expect(e).toBe(ac.signal.reason);
    const reason = new Error('custom');
    expect(await abortMidDecoding(t, new AbortController(), reason)).toBe(reason);
    expect(typeof (await t.translate(SRC[0] as string, { to: 'de' }))).toBe('string');
    await t.clearCache();
    expect(cache.entries.size).toBe(0);
    expect(await t.isCached('de')).toBe(false);
    await t.dispose();
    port1.close();
    port2.close();
  });

  it('reports one progress figure per language, total from the manifest before the first byte', async () => {
    const s = server(dir);
    const t = await InThreadTranslator.create(opts(s));
    const reports: LanguageProgress[] = [];
    let requestsAtFirst = -1;
    await t.load('it', {
      onLanguageProgress: (p) => {
        if (reports.length === 0) requestsAtFirst = s.requests.length;
        reports.push(p);
      },
    });
    const all = filesForTask(manifest, 'it');
    expect(requestsAtFirst).toBe(1); // the manifest only
    expect(reports[0]).toEqual({ language: 'it', loaded: 0, total: bytesOf(all), files: all.length });
    for (let i = 1; i < reports.length; i++) {
      expect(reports[i]?.loaded).toBeGreaterThan(reports[i - 1]?.loaded as number);
      expect(reports[i]?.total).toBe(bytesOf(all));
    }
    expect(reports.length).toBeGreaterThan(2);
    expect(reports.at(-1)?.loaded).toBe(bytesOf(all));
    const again: LanguageProgress[] = [];
    await t.load('IT', { onLanguageProgress: (p) => again.push(p) });
    expect(again).toEqual([{ language: 'it', loaded: 0, total: 0, files: 0 }]);
    // The next language needs only its own shard.
    const next: LanguageProgress[] = [];
    await t.load('pt-BR', { onLanguageProgress: (p) => next.push(p) });
    const own = manifest.tasks['pt-br']?.shards ?? [];
    expect(next[0]).toEqual({ language: 'pt-br', loaded: 0, total: bytesOf(own), files: own.length });
    expect(next.at(-1)?.loaded).toBe(bytesOf(own));
    // A prefetch of a language whose trunk is cached counts the cached files at once.
    const pre: LanguageProgress[] = [];
    await t.prefetch('es', { onLanguageProgress: (p) => pre.push(p) });
    const es = filesForTask(manifest, 'es');
    expect(pre[0]?.loaded).toBe(0);
    expect(pre[1]?.loaded).toBe(bytesOf(es) - bytesOf(manifest.tasks.es?.shards ?? []));
    expect(pre.at(-1)).toEqual({ language: 'es', loaded: bytesOf(es), total: bytesOf(es), files: es.length });
    expect(await t.loaded()).toEqual(['it', 'pt-br']);
    await t.dispose();
  });

  it('isCached, cacheUsage and clearCache; older versions of the model are evicted when a translator is created', async () => {
    const s = server(dir);
    const cache = memoryCache();
    const stale = `${BASE}task-de.safetensors?sha256=${'0'.repeat(64)}`;
    const other = `http://models.test/other/task-de.safetensors?sha256=${'0'.repeat(64)}`;
    await cache.put(stale, new Uint8Array(10));
    await cache.put(other, new Uint8Array(10));
    const kept = await InThreadTranslator.create(opts(s, { cache, evictStale: false }));
    expect(cache.entries.has(stale)).toBe(true);
    await kept.dispose();
    const t = await InThreadTranslator.create(opts(s, { cache }));
    expect(cache.entries.has(stale)).toBe(false);
    expect(cache.entries.has(other)).toBe(true);
    const manifestBytes = readFileSync(join(dir, 'manifest.json')).byteLength;
    expect(await t.cacheUsage()).toEqual({ bytes: 10 + manifestBytes, entries: 2 });
    expect(await t.isCached('de')).toBe(false);
    await t.prefetch('de');
    expect(await t.isCached('de')).toBe(true);
    expect(await t.isCached('DE')).toBe(true);
    expect(await t.isCached('fr')).toBe(false);
    expect(await t.cacheUsage()).toEqual({
      bytes: 10 + manifestBytes + bytesOf(filesForTask(manifest, 'de')),
      entries: 2 + filesForTask(manifest, 'de').length,
    });
    await t.load('de');
    await t.clearCache();
    expect(await t.cacheUsage()).toEqual({ bytes: 0, entries: 0 });
    expect(await t.isCached('de')).toBe(false);
    // What is on the GPU stays usable.
    expect(await t.loaded()).toEqual(['de']);
    expect((await t.translate([SRC[0] as string], { to: 'de' })).length).toBe(1);
    await expect(t.isCached('xx')).rejects.toBeInstanceOf(UnknownLanguageError);
    await t.dispose();
  });
});

describe('the Chrome-style facade on the shipped task_task model', () => {
  const temp: string[] = [];
  const contexts: GpuContext[] = [];
  let dir: string;
  let manifest: Manifest;
  let s: ReturnType<typeof server>;
  let engine: InThreadTranslator;

  beforeAll(async () => {
    dir = await extracted('models/task_task', temp);
    manifest = parseManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
    s = server(dir);
    engine = await InThreadTranslator.create({
      model: `${BASE}manifest.json`,
      fetch: s.fetch,
      cache: memoryCache(),
      createContext: async () => {
        const c = await testContext();
        contexts.push(c);
        return c;
      },
      warn: () => {},
    });
  });
  afterAll(async () => {
    await engine?.dispose();
    for (const c of contexts) c.dispose();
    for (const d of temp) rmSync(d, { recursive: true, force: true });
  });

  it('translate takes one string (not a list of characters) and BCP 47 tags in any case', async () => {
    const text = 'Open the file.';
    const [one] = await engine.translate([text], { to: 'de' });
    const out = await engine.translate(text, { to: 'DE' });
    expect(typeof out).toBe('string');
    expect(out).toBe(one);
    expect(out.length).toBeGreaterThan(3);
    expect(await engine.translate(text, { to: 'de-AT' })).toBe(one);
    const [pt] = await engine.translate([text], { to: 'pt-br' });
    expect(await engine.translate(text, { to: 'pt-BR' })).toBe(pt);
    expect(await engine.translate(text, { to: 'PT-br' })).toBe(pt);
    expect(pt).not.toBe(one);
    const e = await engine.translate(text, { to: 'zh-TW' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnknownLanguageError);
    expect((e as UnknownLanguageError).language).toBe('zh-TW');
    const items = [];
    for await (const p of engine.translateStream(text, { to: 'De' })) items.push(p);
    expect(items.at(-1)?.texts).toEqual([one]);
  });

  it('availability, create with a monitor, translate, translateStreaming, measureInputUsage, inputQuota, destroy', async () => {
    // A fresh engine and cache: the first language brings the trunk.
    const engine = await InThreadTranslator.create({
      model: `${BASE}manifest.json`,
      fetch: s.fetch,
      cache: memoryCache(),
      createContext: async () => {
        const c = await testContext();
        contexts.push(c);
        return c;
      },
      warn: () => {},
    });
    const api = createTranslatorApi(engine);
    expect(await api.availability({ sourceLanguage: 'en', targetLanguage: 'de' })).toBe('downloadable');
    expect(await api.availability({ targetLanguage: 'DE' })).toBe('downloadable');
    expect(await api.availability({ sourceLanguage: 'fr', targetLanguage: 'de' })).toBe('unavailable');
    expect(await api.availability({ sourceLanguage: 'en', targetLanguage: 'xx' })).toBe('unavailable');
    expect(await api.availability({ sourceLanguage: 'en', targetLanguage: 'zh-TW' })).toBe('unavailable');

    const events: DownloadProgressEvent[] = [];
    const during: string[] = [];
    const t = await api.create({
      sourceLanguage: 'en',
      targetLanguage: 'DE',
      monitor(m) {
        m.addEventListener('downloadprogress', (e) => {
          events.push(e);
          if (events.length === 2) void api.availability({ targetLanguage: 'de' }).then((a) => during.push(a));
        });
      },
    });
    expect(during).toEqual(['downloading']);
    const fractions = events.map((e) => e.loaded);
    expect(fractions[0]).toBe(0);
    expect(fractions.at(-1)).toBe(1);
    expect(fractions.length).toBeGreaterThan(3);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThan(fractions[i - 1] as number);
    const total = bytesOf(filesForTask(manifest, 'de'));
    expect(events.every((e) => e.bytesTotal === total && e.total === 1)).toBe(true);
    expect(await api.availability({ sourceLanguage: 'en', targetLanguage: 'de' })).toBe('available');
    expect([t.sourceLanguage, t.targetLanguage, t.modelLanguage]).toEqual(['en', 'DE', 'de']);

    const text = 'Save the document before you close it.';
    const [expected] = await engine.translate([text], { to: 'de' });
    expect(await t.translate(text)).toBe(expected);
    // Streaming: chunks that concatenate to the translation, the first before the end.
    const chunks: string[] = [];
    const reader = t.translateStreaming(text).getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    expect(chunks.join('')).toBe(expected);
    expect(expected).toContain(' ');
    expect(chunks.length).toBeGreaterThan(1);
    // for await reads it too: natively, and where ReadableStream is not async-iterable (Safari) through a reader.
    const native = Object.getOwnPropertyDescriptor(ReadableStream.prototype, Symbol.asyncIterator);
    expect(native).toBeDefined();
    for (const platform of ['native', 'without'] as const) {
      if (platform === 'without')
        delete (ReadableStream.prototype as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator];
      try {
        const looped: string[] = [];
        for await (const c of t.translateStreaming(text)) looped.push(c);
        expect(looped).toEqual(chunks);
        // Leaving the loop early cancels the translation; the translator goes on working.
        for await (const c of t.translateStreaming(text)) {
          expect(c).toBe(chunks[0]);
          break;
        }
      } finally {
        Object.defineProperty(ReadableStream.prototype, Symbol.asyncIterator, native as PropertyDescriptor);
      }
      expect(await t.translate(text)).toBe(expected);
    }

    expect(await t.measureInputUsage(text)).toBe(text.length);
    expect(t.inputQuota).toBe(TRANSLATE_LIMITS.charactersPerText);
    const over = await t.translate('a'.repeat(t.inputQuota + 1)).catch((x: unknown) => x);
    expect(over).toBeInstanceOf(DOMException);
    expect((over as DOMException).name).toBe('QuotaExceededError');

    // A call's own signal: its reason.
    const reason = new Error('stop');
    expect(await t.translate(text, { signal: AbortSignal.abort(reason) }).catch((x: unknown) => x)).toBe(reason);
    const streamErr = await t
      .translateStreaming(text, { signal: AbortSignal.abort(reason) })
      .getReader()
      .read()
      .catch((x: unknown) => x);
    expect(streamErr).toBe(reason);

    // destroy: the call in flight and later calls reject with an AbortError DOMException; the language leaves the GPU.
    const inFlight = t.translate(text).catch((x: unknown) => x);
    t.destroy();
    const e = await inFlight;
    expect(e).toBeInstanceOf(DOMException);
    expect((e as DOMException).name).toBe('AbortError');
    const after = await t.translate(text).catch((x: unknown) => x);
    expect((after as DOMException).name).toBe('AbortError');
    await expect(t.measureInputUsage(text)).rejects.toMatchObject({ name: 'AbortError' });
    await vi.waitFor(async () => expect(await engine.loaded()).toEqual([]));
    expect(await api.availability({ targetLanguage: 'de' })).toBe('available'); // cached
    await engine.clearCache();
    expect(await api.availability({ targetLanguage: 'de' })).toBe('downloadable');
    await engine.dispose();
  });

  it('create rejects with the signal’s reason when aborted, and NotSupportedError for an unavailable pair', async () => {
    const api = createTranslatorApi(engine);
    await engine.clearCache();
    const reason = new Error('no thanks');
    await expect(api.create({ targetLanguage: 'fr', signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const ac = new AbortController();
    const p = api.create({
      targetLanguage: 'fr',
      signal: ac.signal,
      monitor(m) {
        m.addEventListener('downloadprogress', (e) => {
          if (e.loaded > 0) ac.abort();
        });
      },
    });
    const e = await p.catch((x: unknown) => x);
    expect(e).toBe(ac.signal.reason);
    expect((e as DOMException).name).toBe('AbortError');
    expect(await engine.loaded()).not.toContain('fr');
    expect(await api.availability({ targetLanguage: 'fr' })).toBe('downloadable');
    for (const bad of [{ sourceLanguage: 'de', targetLanguage: 'fr' }, { targetLanguage: 'xx' }]) {
      const err = await api.create(bad).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(DOMException);
      expect((err as DOMException).name).toBe('NotSupportedError');
    }
    // A create signal that fires later destroys the translator.
    const life = new AbortController();
    const t = await api.create({ targetLanguage: 'zh-Hans', signal: life.signal });
    expect(t.modelLanguage).toBe('zh-cn');
    expect(typeof (await t.translate('Open the file.'))).toBe('string');
    life.abort(reason);
    expect(await t.translate('Open the file.').catch((x: unknown) => x)).toBe(reason);
    await api.destroy();
    await expect(api.availability({ targetLanguage: 'de' })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
