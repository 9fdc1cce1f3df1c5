// The shard loader's cache management: isCached from the keys alone, the cache's size, clearCache, and eviction of
// the files of this model's folder that the current manifest no longer lists (older versions of the model).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ManifestFile } from '../../src/runtime/manifest';
import { memoryCache, ShardLoader } from '../../src/runtime/shard-loader';

const BASE = 'http://models.test/m/';

function entry(file: string, bytes: Uint8Array): ManifestFile {
  return { file, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** A fetch serving `files` below BASE in one piece. */
function serve(files: Record<string, Uint8Array>): typeof fetch {
  return async (input) => {
    const body = files[String(input).slice(BASE.length)];
    return body ? new Response(body.slice()) : new Response('not found', { status: 404 });
  };
}

describe('ShardLoader cache management', () => {
  const v1 = { 'a.bin': new Uint8Array(100).fill(1), 'b.bin': new Uint8Array(50).fill(2) };
  const v2 = { 'a.bin': new Uint8Array(120).fill(3), 'b.bin': v1['b.bin'] };

  it('isCached is true only when every file of the list has an entry with its sha256', async () => {
    const cache = memoryCache();
    const loader = new ShardLoader({ baseUrl: BASE, fetch: serve(v1), cache, warn: () => {} });
    const a = entry('a.bin', v1['a.bin']);
    const b = entry('b.bin', v1['b.bin']);
    expect(await loader.isCached([a, b])).toBe(false);
    await loader.load(a);
    expect(await loader.isCached([a])).toBe(true);
    expect(await loader.isCached([a, b])).toBe(false);
    await loader.load(b);
    expect(await loader.isCached([a, b])).toBe(true);
    // Another version of a.bin is not cached although a file of that name is.
    expect(await loader.isCached([entry('a.bin', v2['a.bin'])])).toBe(false);
    expect(await loader.isCached([])).toBe(true);
  });

  it('reports the bytes and entries in the cache and clears it', async () => {
    const cache = memoryCache();
    const loader = new ShardLoader({ baseUrl: BASE, fetch: serve(v1), cache, warn: () => {} });
    expect(await loader.cacheUsage()).toEqual({ bytes: 0, entries: 0 });
    await loader.load(entry('a.bin', v1['a.bin']));
    await loader.load(entry('b.bin', v1['b.bin']));
    expect(await loader.cacheUsage()).toEqual({ bytes: 150, entries: 2 });
    expect(await loader.clearCache()).toBe(2);
    expect(await loader.cacheUsage()).toEqual({ bytes: 0, entries: 0 });
    expect(cache.entries.size).toBe(0);
  });

  it("evicts this folder's files that the current manifest does not list; other folders and manifests stay", async () => {
    const cache = memoryCache();
    const old = new ShardLoader({ baseUrl: BASE, fetch: serve(v1), cache, warn: () => {} });
    const oldA = entry('a.bin', v1['a.bin']);
    const b = entry('b.bin', v1['b.bin']);
    await old.load(oldA);
    await old.load(b);
    // Entries of another model's folder (a sibling and a subfolder) and a cached manifest.
    const other = 'http://models.test/other/a.bin?sha256=00';
    const sub = `${BASE}sub/a.bin?sha256=00`;
    const manifest = `${BASE}manifest.json?latest`;
    for (const k of [other, sub, manifest]) await cache.put(k, new Uint8Array(3));
    const loader = new ShardLoader({ baseUrl: BASE, fetch: serve(v2), cache, warn: () => {} });
    const newA = entry('a.bin', v2['a.bin']);
    await loader.load(newA);
    expect(await loader.evictStale([newA, b])).toEqual([`${BASE}a.bin?sha256=${oldA.sha256}`]);
    expect([...cache.entries.keys()].sort()).toEqual(
      [`${BASE}a.bin?sha256=${newA.sha256}`, `${BASE}b.bin?sha256=${b.sha256}`, other, sub, manifest].sort(),
    );
    expect(await loader.evictStale([newA, b])).toEqual([]);
  });
});
