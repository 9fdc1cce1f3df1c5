// The in-thread Translator and its worker proxy on extracted fixture models served by a counting fake fetch:
// on-demand shards, LRU residency, queueing, abort, device loss, streaming, activation, typed errors.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import nodeEndpoint from 'comlink/dist/esm/node-adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InThreadTranslator } from '../../src/engine/inthread-translator';
import { LocalModel } from '../../src/engine/local-model';
import type { PartialTranslation, Progress } from '../../src/engine/translator';
import { exposeTranslatorHost } from '../../src/engine/worker-host';
import { WorkerTranslator } from '../../src/engine/worker-translator';
import { IntegrityError, TranslatorDisposedError, UnknownLanguageError, WorkerFailedError } from '../../src/errors';
import type { GpuContext } from '../../src/gpu';
import { extractModel, writeManifest } from '../../src/runtime/extract-node';
import { type Manifest, parseManifest } from '../../src/runtime/manifest';
import { nodeFiles } from '../../src/runtime/node-files';
import { memoryCache } from '../../src/runtime/shard-loader';
import { fileServer } from '../setup/file-server';
import { testContext } from '../setup/gpu';

const BASE = 'http://models.test/task/';
const SRC = readFileSync('training/fixtures/de/dev.src', 'utf8').split('\n').filter(Boolean).slice(0, 6);

/** The files of `dir` below BASE, streamed in 4 KiB chunks; `requests` lists the file names. */
function server(dir: string): { fetch: typeof fetch; requests: string[] } {
  return fileServer(BASE, dir, 4096);
}

for (const variant of ['task_task', 'token_task'] as const) {
  describe(`InThreadTranslator on extracted ${variant}`, () => {
    let dir: string;
    let manifest: Manifest;
    let ctx: GpuContext;
    let ref: LocalModel;
    const expected: Record<string, string[]> = {};
    /** The reference engine's output for exactly these inputs (outputs of these untrained models depend on the batch). */
    const refOut = (texts: string[], to: string, batchSize?: number): Promise<string[]> =>
      ref.translate(texts, { to, ...(batchSize ? { batchSize } : {}) });
    const contexts: GpuContext[] = [];
    const createContext = async (): Promise<GpuContext> => {
      const c = await testContext();
      contexts.push(c);
      return c;
    };
    const make = (
      s: ReturnType<typeof server>,
      extra: Partial<Parameters<typeof InThreadTranslator.create>[0]> = {},
    ): Promise<InThreadTranslator> =>
      InThreadTranslator.create({
        model: `${BASE}manifest.json`,
        fetch: s.fetch,
        cache: memoryCache(),
        createContext,
        warn: () => {},
        ...extra,
      });

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), `taskmoe-runtime-${variant}-`));
      await extractModel(nodeFiles(join('test/fixtures/models', variant)), dir);
      manifest = parseManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
      ctx = await testContext();
      ref = await LocalModel.create(ctx, nodeFiles(dir));
      for (const to of ['de', 'fr', 'es']) expected[to] = await ref.translate(SRC, { to });
    });
    afterAll(() => {
      ref?.dispose();
      ctx?.dispose();
      for (const c of contexts) c.dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    it('fetches the trunk with the first language and only its own shard for the next, with progress', async () => {
      const s = server(dir);
      const t = await make(s);
      expect(s.requests).toEqual(['manifest.json']);
      expect(await t.languages()).toEqual(Object.keys(manifest.tasks));
      const progress: Progress[] = [];
      await t.load('de', { onProgress: (p) => progress.push(p) });
      const trunkFiles = [manifest.config, manifest.tokenizer, ...manifest.trunk].map((f) => f.file);
      const de = (manifest.tasks.de?.shards ?? []).map((f) => f.file);
      const fr = (manifest.tasks.fr?.shards ?? []).map((f) => f.file);
      expect(de).toEqual(['task-de.safetensors']);
      expect(s.requests.slice(1).sort()).toEqual([...trunkFiles, ...de].sort());
      for (const f of [...trunkFiles, ...de]) {
        const last = progress.filter((p) => p.shard === f).at(-1);
        const size = [
          manifest.config,
          manifest.tokenizer,
          ...manifest.trunk,
          ...(manifest.tasks.de?.shards ?? []),
        ].find((x) => x.file === f)?.bytes;
        expect(last).toEqual({ shard: f, loaded: size, total: size, cached: false });
      }
      const before = s.requests.length;
      expect(await t.translate(SRC, { to: 'fr' })).toEqual(expected.fr);
      expect(s.requests.slice(before)).toEqual(fr);
      expect(await t.translate(SRC, { to: 'de' })).toEqual(expected.de);
      expect(s.requests.length).toBe(before + 1);
      const st = await t.stats();
      expect(st.resident).toEqual(['fr', 'de']);
      expect(st.bytesDownloaded).toBe(
        [manifest.config, manifest.tokenizer, ...manifest.trunk, ...(manifest.tasks.de?.shards ?? [])]
          .concat(manifest.tasks.fr?.shards ?? [])
          .reduce((n, f) => n + f.bytes, 0) + readFileSync(join(dir, 'manifest.json')).byteLength,
      );
      expect(st.bytesResident).toBeGreaterThan(0);
      expect(st.tokens).toBeGreaterThan(0);
      expect(st.tokensPerSecond).toBeGreaterThan(0);
      expect(st.backend).toBe('webgpu');
      await t.dispose();
      await expect(t.translate(SRC, { to: 'de' })).rejects.toBeInstanceOf(TranslatorDisposedError);
    });

    it('evicts the least recently used task under a tiny memory budget and reloads it from the cache', async () => {
      const s = server(dir);
      const cache = memoryCache();
      const t = await make(s, { cache, memoryBudget: 1 });
      await t.load('de');
      await t.load('fr');
      let st = await t.stats();
      expect(st.resident).toEqual(['fr']);
      expect(st.evictions).toBe(1);
      expect(await t.loaded()).toEqual(['fr']);
      const fetched = s.requests.length;
      expect(await t.translate(SRC, { to: 'de' })).toEqual(expected.de);
      st = await t.stats();
      expect(st.resident).toEqual(['de']);
      expect(st.evictions).toBe(2);
      expect(s.requests.length).toBe(fetched);
      expect(st.bytesFromCache).toBeGreaterThan(0);
      await t.dispose();
    });

    it('prefetches a language into the cache without loading it; loading it later needs no network', async () => {
      const s = server(dir);
      const t = await make(s);
      const seen = new Set<string>();
      await t.prefetch('it', { onProgress: (p) => seen.add(p.shard) });
      expect(s.requests.slice(1).sort()).toEqual(
        [manifest.config, manifest.tokenizer, ...manifest.trunk, ...(manifest.tasks.it?.shards ?? [])]
          .map((f) => f.file)
          .sort(),
      );
      expect([...seen].sort()).toEqual(s.requests.slice(1).sort());
      expect(await t.loaded()).toEqual([]);
      expect((await t.stats()).bytesResident).toBe(0);
      const fetched = s.requests.length;
      await t.prefetch('it');
      await t.load('it');
      expect(s.requests.length).toBe(fetched);
      expect(await t.loaded()).toEqual(['it']);
      await t.dispose();
    });

    it('splits an oversize text instead of truncating it', async () => {
      const t = await make(server(dir));
      const long = Array.from({ length: 12 }, () => SRC.join(' ')).join(' ');
      const [out] = await t.translate([long], { to: 'de' });
      expect(out).toEqual((await refOut([long], 'de'))[0]);
      // Each piece is at most max_len tokens, so a text past it took several pieces.
      expect(ref.sourceIds(long, 'de').length).toBeGreaterThan(ref.loaded.cfg.maxLen);
      await t.dispose();
    });

    it('queues concurrent translations: results equal the sequential ones', async () => {
      const t = await make(server(dir));
      const calls = [
        t.translate(SRC, { to: 'de' }),
        t.translate(SRC.slice(2), { to: 'fr', batchSize: 2 }),
        t.translate(SRC, { to: 'es' }),
        t.translate(SRC.slice(0, 1), { to: 'de' }),
      ];
      expect(await Promise.all(calls)).toEqual([
        expected.de,
        await refOut(SRC.slice(2), 'fr', 2),
        expected.es,
        await refOut(SRC.slice(0, 1), 'de'),
      ]);
      await t.dispose();
    });

    it('aborts mid-decoding, frees the buffers, and translates again', async () => {
      const t = await make(server(dir));
      await t.load('de');
      const pool = (): number => t.gpu.pool.stats().bytesInUse;
      const ac = new AbortController();
      let steps = 0;
      const p = t.translate(SRC, {
        to: 'de',
        signal: ac.signal,
        onPartial: () => {
          steps++;
          if (steps === 2) ac.abort();
        },
      });
      // Like fetch: the signal's reason, an AbortError DOMException by default.
      const err = await p.catch((x: unknown) => x);
      expect(err).toBe(ac.signal.reason);
      expect(err).toBeInstanceOf(DOMException);
      expect(err).toMatchObject({ name: 'AbortError' });
      expect(steps).toBe(2);
      await t.gpu.sync();
      const inUse = pool();
      expect(await t.translate(SRC, { to: 'de' })).toEqual(expected.de);
      await t.gpu.sync();
      expect(pool()).toBe(inUse);
      // An already aborted signal rejects at once, with its reason.
      const reason = new Error('stop');
      await expect(t.translate(SRC, { to: 'de', signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      await t.dispose();
    });

    it('aborts a load mid-download; a later load works', async () => {
      const s = server(dir);
      const t = await make(s);
      const ac = new AbortController();
      const p = t.load('de', {
        signal: ac.signal,
        onProgress: (q) => {
          if (q.shard.startsWith('trunk') && q.loaded > 0) ac.abort();
        },
      });
      const err = await p.catch((x: unknown) => x);
      expect(err).toBe(ac.signal.reason);
      expect(err).toBeInstanceOf(DOMException);
      expect(await t.loaded()).toEqual([]);
      expect(await t.translate(SRC, { to: 'de' })).toEqual(expected.de);
      await t.dispose();
    });

    it('gives empty output for empty input and a typed error for an unknown language', async () => {
      const s = server(dir);
      const t = await make(s);
      expect(await t.translate([], { to: 'de' })).toEqual([]);
      expect(await t.translate(['', '  '], { to: 'de' })).toEqual(['', '']);
      expect(s.requests).toEqual(['manifest.json']);
      const e = await t.translate(['x'], { to: 'xx' }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(UnknownLanguageError);
      expect((e as UnknownLanguageError).available).toEqual(Object.keys(manifest.tasks));
      await expect(t.load('xx')).rejects.toBeInstanceOf(UnknownLanguageError);
      await t.dispose();
    });

    it('streams partial output, ending with the translation', async () => {
      const t = await make(server(dir));
      const items: PartialTranslation[] = [];
      for await (const p of t.translateStream(SRC.slice(0, 3), { to: 'de' })) items.push(p);
      expect(items.length).toBeGreaterThan(1);
      const final = await refOut(SRC.slice(0, 3), 'de');
      expect(items.at(-1)).toEqual({ texts: final, done: true, stable: final });
      // Greedy decoding: the stable part of every partial output is a prefix of the final translation.
      for (const p of items) {
        expect(p.stable?.length).toBe(3);
        p.stable?.forEach((s, i) => {
          expect(final[i]?.startsWith(s)).toBe(true);
        });
      }
      expect(items.slice(0, -1).every((p) => !p.done && p.texts.length === 3)).toBe(true);
      await t.dispose();
    });

    it('reports the experts of the last translation', async () => {
      const t = await make(server(dir));
      expect(await t.activation()).toBeNull();
      await t.translate([SRC[0] as string], { to: 'fr' });
      const a = await t.activation();
      expect(a?.to).toBe('fr');
      expect(a?.text).toBe(0);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      const gates = cfg.task_gates.fr as Array<{ stack: string; layer: number; experts: number[]; weights: number[] }>;
      for (const l of a?.layers ?? []) {
        expect(l.experts).toBe(cfg.n_experts);
        if (l.routing === 'task') {
          const g = gates.find((x) => x.stack === l.stack && x.layer === l.layer);
          expect(l.task).toEqual({ experts: g?.experts, weights: g?.weights });
        } else if (l.stack === 'encoder') {
          const ids = ref.sourceIds(SRC[0] as string, 'fr');
          expect(l.perToken?.tokens.length).toBe(ids.length);
          expect(l.perToken?.tokens[0]).toBe('<2fr>');
          for (const [i, e] of (l.perToken?.experts ?? []).entries()) {
            expect(e.length).toBe(cfg.top_k);
            expect(new Set(e).size).toBe(e.length);
            const w = l.perToken?.weights[i] ?? [];
            expect(w.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
          }
        }
      }
      const routings = (a?.layers ?? []).map((l) => l.routing);
      expect(routings.includes('task')).toBe(true);
      if (variant === 'token_task') expect(routings.includes('token')).toBe(true);
      await t.dispose();
    });

    it('re-creates a lost device, reloads resident tasks from the cache and retries once', async () => {
      const s = server(dir);
      const t = await make(s);
      await t.load('de');
      await t.load('fr');
      const fetched = s.requests.length;
      const old = t.gpu;
      old.device.destroy();
      await old.device.lost;
      expect(await t.translate(SRC, { to: 'de' })).toEqual(expected.de);
      expect(t.gpu).not.toBe(old);
      const st = await t.stats();
      expect(st.deviceLosses).toBe(1);
      expect(st.resident.sort()).toEqual(['de', 'fr']);
      expect(s.requests.length).toBe(fetched);
      // A load after a loss recovers the same way.
      t.gpu.device.destroy();
      await t.gpu.device.lost;
      await t.load('es');
      expect((await t.stats()).deviceLosses).toBe(2);
      expect(await t.translate(SRC, { to: 'es' })).toEqual(expected.es);
      await t.dispose();
    });

    it('fails with IntegrityError when a shard on the server does not match, after one refetch', async () => {
      const bad = mkdtempSync(join(tmpdir(), 'taskmoe-runtime-bad-'));
      for (const f of ['manifest.json', 'config.json', manifest.tokenizer.file, ...manifest.trunk.map((x) => x.file)])
        writeFileSync(join(bad, f), readFileSync(join(dir, f)));
      const shard = readFileSync(join(dir, 'task-de.safetensors'));
      shard[shard.byteLength - 1] = (shard[shard.byteLength - 1] as number) ^ 1;
      writeFileSync(join(bad, 'task-de.safetensors'), shard);
      const s = server(bad);
      const t = await make(s);
      const e = await t.load('de').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(IntegrityError);
      expect(s.requests.filter((r) => r === 'task-de.safetensors').length).toBe(2);
      expect(await t.loaded()).toEqual([]);
      await t.dispose();
      rmSync(bad, { recursive: true, force: true });
    });

    it('works the same through the worker proxy (comlink over a MessageChannel)', async () => {
      const s = server(dir);
      const { port1, port2 } = new MessageChannel();
      exposeTranslatorHost(nodeEndpoint(port1), {
        fetch: s.fetch,
        cache: memoryCache(),
        createContext,
        warn: () => {},
      });
      // comlink's Node adapter subscribes every event type to 'message'; a Worker only sends messages there.
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
      expect(await t.languages()).toEqual(Object.keys(manifest.tasks));
      const progress: Progress[] = [];
      await t.load('de', { onProgress: (p) => progress.push(p) });
      expect(progress.some((p) => p.shard === 'task-de.safetensors' && p.loaded === p.total)).toBe(true);
      const partials: PartialTranslation[] = [];
      expect(await t.translate(SRC, { to: 'de', onPartial: (p) => partials.push(p) })).toEqual(expected.de);
      expect(partials.length).toBeGreaterThan(0);
      const streamed: PartialTranslation[] = [];
      for await (const p of t.translateStream(SRC.slice(0, 2), { to: 'fr' })) streamed.push(p);
      const final = await refOut(SRC.slice(0, 2), 'fr');
      expect(streamed.at(-1)).toEqual({ texts: final, done: true, stable: final });
      const e = await t.translate(['x'], { to: 'xx' }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(UnknownLanguageError);
      expect((e as UnknownLanguageError).available).toEqual(Object.keys(manifest.tasks));
      const ac = new AbortController();
      const aborted = t.translate(SRC, {
        to: 'de',
        signal: ac.signal,
        onPartial: () => ac.abort(),
      });
      const err = await aborted.catch((x: unknown) => x);
      expect(err).toBe(ac.signal.reason);
      expect(err).toMatchObject({ name: 'AbortError' });
      expect(await t.translate(SRC, { to: 'de' })).toEqual(expected.de);
      expect((await t.activation())?.to).toBe('de');
      expect((await t.stats()).resident).toEqual(['fr', 'de']);
      await t.dispose();
      port1.close();
      port2.close();
    });
  });
}

describe('WorkerTranslator.create', () => {
  it('rejects with WorkerFailedError when the worker script fails instead of waiting forever', async () => {
    const listeners = new Map<string, Array<(e: Event) => void>>();
    const broken = {
      postMessage: () => {
        for (const l of listeners.get('error') ?? []) l(Object.assign(new Event('error'), { message: 'SyntaxError' }));
      },
      addEventListener: (type: string, l: (e: Event) => void) => {
        listeners.set(type, [...(listeners.get(type) ?? []), l]);
      },
      removeEventListener: (type: string, l: (e: Event) => void) => {
        listeners.set(
          type,
          (listeners.get(type) ?? []).filter((x) => x !== l),
        );
      },
    };
    const e = await WorkerTranslator.create(broken, { model: `${BASE}manifest.json` }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WorkerFailedError);
    expect((e as WorkerFailedError).message).toMatch(/SyntaxError/);
    expect(listeners.get('error')).toEqual([]);
  });
});

describe('InThreadTranslator on the unextracted token_token model', () => {
  it('translates and reports per-token experts of the encoder and (greedy) decoder layers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskmoe-runtime-token_token-'));
    cpSync('test/fixtures/models/token_token', dir, { recursive: true });
    await writeManifest(dir);
    const contexts: GpuContext[] = [];
    const t = await InThreadTranslator.create({
      model: `${BASE}manifest.json`,
      fetch: server(dir).fetch,
      cache: memoryCache(),
      createContext: async () => {
        const c = await testContext();
        contexts.push(c);
        return c;
      },
      warn: () => {},
    });
    try {
      const [out] = await t.translate([SRC[0] as string], { to: 'de' });
      const a = await t.activation();
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      const dec = (a?.layers ?? []).filter((l) => l.stack === 'decoder');
      const enc = (a?.layers ?? []).filter((l) => l.stack === 'encoder');
      expect(dec.length).toBe(cfg.moe_layers.decoder.length);
      expect(enc.length).toBe(cfg.moe_layers.encoder.length);
      for (const l of [...dec, ...enc]) {
        expect(l.routing).toBe('token');
        const p = l.perToken;
        expect(p && p.tokens.length > 0 && p.experts.length === p.tokens.length).toBe(true);
        for (const e of p?.experts ?? []) expect(e.length).toBe(cfg.top_k);
      }
      expect(dec[0]?.perToken?.tokens[0]).toBe('<s>');
      expect(enc[0]?.perToken?.tokens[0]).toBe('<2de>');
      expect(typeof out).toBe('string');
      // Beam search reorders rows between steps: no decoder rows, the encoder still reported.
      await t.translate([SRC[0] as string], { to: 'de', beam: 2 });
      const b = await t.activation();
      expect(b?.layers.filter((l) => l.stack === 'decoder').every((l) => l.perToken === undefined)).toBe(true);
      expect(b?.layers.filter((l) => l.stack === 'encoder').every((l) => l.perToken !== undefined)).toBe(true);
    } finally {
      await t.dispose();
      for (const c of contexts) c.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
