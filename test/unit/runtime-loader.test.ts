// The shard loader: streamed progress, abort, sha256 verification with one refetch, caching (hits, corrupt entries,
// quota fallback), with an injected fetch that counts requests.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DownloadAbortedError, IntegrityError, ModelNotFoundError } from '../../src/errors';
import type { ManifestFile } from '../../src/runtime/manifest';
import { memoryCache, type ShardCache, ShardLoader, sha256Hex } from '../../src/runtime/shard-loader';

const BASE = 'http://models.test/m/';

function bytesOf(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 255);
}

function entry(file: string, bytes: Uint8Array): ManifestFile {
  return { file, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}

interface FakeServer {
  fetch: typeof fetch;
  requests: string[];
  /** Responses to serve instead of the file, in order, for the next requests of a file. */
  overrides: Map<string, Array<Uint8Array | 'error-mid-stream'>>;
}

/** A fetch serving `files` below BASE in 1000-byte chunks, with Content-Length. */
function fakeServer(files: Record<string, Uint8Array>, chunk = 1000): FakeServer {
  const requests: string[] = [];
  const overrides = new Map<string, Array<Uint8Array | 'error-mid-stream'>>();
  const server: FakeServer = {
    requests,
    overrides,
    fetch: async (input, init) => {
      const url = String(input);
      requests.push(url);
      const name = url.slice(BASE.length);
      const signal = init?.signal ?? undefined;
      if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
      const real = files[name];
      if (!real) return new Response('not found', { status: 404 });
      const over = overrides.get(name)?.shift();
      const body = over instanceof Uint8Array ? over : real;
      let off = 0;
      const stream = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          await new Promise((r) => setTimeout(r, 1));
          if (signal?.aborted) {
            ctl.error(new DOMException('aborted', 'AbortError'));
            return;
          }
          if (over === 'error-mid-stream' && off >= body.byteLength / 2) {
            ctl.error(new TypeError('connection reset'));
            return;
          }
          if (off >= body.byteLength) {
            ctl.close();
            return;
          }
          ctl.enqueue(body.slice(off, off + chunk));
          off += chunk;
        },
      });
      return new Response(stream, { headers: { 'content-length': String(real.byteLength) } });
    },
  };
  return server;
}

describe('ShardLoader', () => {
  const a = bytesOf(4500, 1);
  const b = bytesOf(2000, 2);
  const files = { 'a.bin': a, 'b.bin': b };
  const warn = (): void => {};

  it('computes sha256 like node:crypto', async () => {
    expect(await sha256Hex(a)).toBe(entry('a.bin', a).sha256);
  });

  it('streams with progress per chunk and the total from Content-Length', async () => {
    const s = fakeServer(files);
    const loader = new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache: memoryCache(), warn });
    const seen: Array<[number, number]> = [];
    const got = await loader.load(entry('a.bin', a), {
      onProgress: (p) => {
        expect(p.shard).toBe('a.bin');
        expect(p.cached).toBe(false);
        seen.push([p.loaded, p.total]);
      },
    });
    expect(got).toEqual(a);
    expect(seen).toEqual([
      [0, 4500],
      [1000, 4500],
      [2000, 4500],
      [3000, 4500],
      [4000, 4500],
      [4500, 4500],
    ]);
    expect(loader.stats).toEqual({ fetches: 1, bytesDownloaded: 4500, bytesFromCache: 0 });
  });

  it('serves a cache hit without any request, and reports it as cached', async () => {
    const s = fakeServer(files);
    const cache = memoryCache();
    await new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache, warn }).load(entry('a.bin', a));
    expect(s.requests.length).toBe(1);
    const again = new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache, warn });
    const progress: boolean[] = [];
    expect(await again.load(entry('a.bin', a), { onProgress: (p) => progress.push(p.cached) })).toEqual(a);
    expect(s.requests.length).toBe(1);
    expect(progress).toEqual([true]);
    expect(again.stats).toEqual({ fetches: 0, bytesDownloaded: 0, bytesFromCache: 4500 });
    expect(await again.has(entry('b.bin', b))).toBe(false);
    expect(await again.has(entry('a.bin', a))).toBe(true);
  });

  it('aborts mid-download with a typed error and caches nothing', async () => {
    const s = fakeServer(files, 100);
    const cache = memoryCache();
    const loader = new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache, warn });
    const ac = new AbortController();
    const p = loader.load(entry('a.bin', a), {
      signal: ac.signal,
      onProgress: (q) => {
        if (q.loaded >= 1000) ac.abort();
      },
    });
    await expect(p).rejects.toBeInstanceOf(DownloadAbortedError);
    await expect(p).rejects.toMatchObject({ code: 'aborted' });
    expect(cache.entries.size).toBe(0);
    expect(s.requests.length).toBe(1);
  });

  it('refetches a mismatching download once and then succeeds; the bad bytes never enter the cache', async () => {
    const s = fakeServer(files);
    const bad = a.slice();
    bad[17] = (bad[17] as number) ^ 1;
    s.overrides.set('a.bin', [bad]);
    const cache = memoryCache();
    const puts: Uint8Array[] = [];
    const spy: ShardCache = {
      ...cache,
      put: (k, v) => {
        puts.push(v);
        return cache.put(k, v);
      },
    };
    const loader = new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache: spy, warn });
    expect(await loader.load(entry('a.bin', a))).toEqual(a);
    expect(s.requests.length).toBe(2);
    expect(puts).toEqual([a]);
  });

  it('refetches a truncated download and a broken stream once', async () => {
    const s = fakeServer(files);
    s.overrides.set('a.bin', [a.slice(0, 3000)]);
    s.overrides.set('b.bin', ['error-mid-stream']);
    const loader = new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache: memoryCache(), warn });
    expect(await loader.load(entry('a.bin', a))).toEqual(a);
    expect(await loader.load(entry('b.bin', b))).toEqual(b);
    expect(s.requests.length).toBe(4);
  });

  it('fails with IntegrityError after the refetch also mismatches, caching nothing', async () => {
    const s = fakeServer(files);
    const cache = memoryCache();
    const loader = new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache, warn });
    const wrong = { ...entry('a.bin', a), sha256: '0'.repeat(64) };
    const p = loader.load(wrong);
    await expect(p).rejects.toBeInstanceOf(IntegrityError);
    await expect(p).rejects.toMatchObject({ code: 'integrity', file: 'a.bin' });
    expect(s.requests.length).toBe(2);
    expect(cache.entries.size).toBe(0);
  });

  it('a missing file is a ModelNotFoundError, without retry', async () => {
    const s = fakeServer(files);
    const loader = new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache: memoryCache(), warn });
    await expect(loader.load(entry('c.bin', a))).rejects.toBeInstanceOf(ModelNotFoundError);
    expect(s.requests.length).toBe(1);
  });

  it('deletes a corrupt cache entry and refetches it', async () => {
    const s = fakeServer(files);
    const cache = memoryCache();
    const e = entry('a.bin', a);
    await new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache, warn }).load(e);
    const [key, stored] = [...cache.entries][0] as [string, Uint8Array];
    const corrupt = stored.slice();
    corrupt[100] = (corrupt[100] as number) ^ 0xff;
    cache.entries.set(key, corrupt);
    const warnings: string[] = [];
    const loader = new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache, warn: (m) => warnings.push(m) });
    expect(await loader.has(e)).toBe(false);
    expect(await loader.load(e)).toEqual(a);
    expect(s.requests.length).toBe(2);
    expect(cache.entries.get(key)).toEqual(a);
    // A truncated cached copy is treated the same way.
    cache.entries.set(key, a.slice(0, 10));
    expect(await loader.load(e)).toEqual(a);
    expect(s.requests.length).toBe(3);
    expect(warnings.some((w) => w.includes('corrupt'))).toBe(true);
  });

  it('falls back to memory only, with a warning, on a storage quota error', async () => {
    const s = fakeServer(files);
    const full: ShardCache = {
      kind: 'cache-api',
      get: async () => undefined,
      put: async () => {
        throw new DOMException('quota', 'QuotaExceededError');
      },
      delete: async () => {},
      keys: async () => [],
      sizes: async () => [],
    };
    const warnings: string[] = [];
    const loader = new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache: full, warn: (m) => warnings.push(m) });
    expect(await loader.load(entry('a.bin', a))).toEqual(a);
    expect(loader.cacheKind).toBe('memory');
    expect(warnings.join('\n')).toMatch(/quota/);
    expect(await loader.load(entry('a.bin', a))).toEqual(a);
    expect(s.requests.length).toBe(1);
  });

  it('reads JSON from the network, and from the cache when the network fails', async () => {
    const json = new TextEncoder().encode('{"x":1}');
    const s = fakeServer({ 'manifest.json': json });
    const cache = memoryCache();
    const loader = new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache, warn });
    expect(await loader.json(`${BASE}manifest.json`)).toEqual({ x: 1 });
    const offline = new ShardLoader({
      baseUrl: BASE,
      fetch: async () => {
        throw new TypeError('offline');
      },
      cache,
      warn,
    });
    expect(await offline.json(`${BASE}manifest.json`)).toEqual({ x: 1 });
    await expect(
      new ShardLoader({ baseUrl: BASE, fetch: s.fetch, cache: memoryCache(), warn }).json(`${BASE}nothing.json`),
    ).rejects.toBeInstanceOf(ModelNotFoundError);
  });
});
