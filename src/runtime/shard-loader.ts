// Downloads model files listed in a manifest: streamed with progress, cancellable, verified against the manifest's
// sha256 before anyone sees the bytes, and cached (Cache API, else IndexedDB, else memory). Browser-safe; in Node the
// fetch and the cache are injected.
import { DownloadAbortedError, IntegrityError, LimitExceededError, ModelNotFoundError, TaskmoeError } from '../errors';
import { MAX_FILE_BYTES, MAX_MANIFEST_BYTES, type ManifestFile } from './manifest';
import { resolveModelFile } from './paths';

/** One entry of a {@link ShardCache}. */
export interface CacheEntry {
  key: string;
  /** Size of the stored value. */
  bytes: number;
}

/**
 * Where verified files are kept between sessions. Keys are absolute URLs: a model file's URL with its sha256 in the
 * query (`...?sha256=<hex>`), a manifest's URL with `?latest`.
 */
export interface ShardCache {
  /** "cache-api", "indexeddb" or "memory". */
  readonly kind: string;
  get(key: string): Promise<Uint8Array | undefined>;
  /** May reject with a quota error (DOMException "QuotaExceededError"). */
  put(key: string, bytes: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every key stored (cheap: no value is read). */
  keys(): Promise<string[]>;
  /** Every key stored with its size (IndexedDB reads each value to measure it). */
  sizes(): Promise<CacheEntry[]>;
}

/** A cache in this process's memory only. */
export function memoryCache(): ShardCache & { readonly entries: Map<string, Uint8Array> } {
  const entries = new Map<string, Uint8Array>();
  return {
    kind: 'memory',
    entries,
    get: async (key) => entries.get(key),
    put: async (key, bytes) => {
      entries.set(key, bytes);
    },
    delete: async (key) => {
      entries.delete(key);
    },
    keys: async () => [...entries.keys()],
    sizes: async () => [...entries].map(([key, v]) => ({ key, bytes: v.byteLength })),
  };
}

/** The browser's Cache API (`caches`), one named cache. */
export function cacheApiCache(name = 'taskmoe-models'): ShardCache {
  const open = (): Promise<Cache> => caches.open(name);
  return {
    kind: 'cache-api',
    async get(key) {
      const res = await (await open()).match(key);
      return res ? new Uint8Array(await res.arrayBuffer()) : undefined;
    },
    async put(key, bytes) {
      const body = new Uint8Array(bytes); // a copy: Response takes ownership semantics of its source in some engines
      await (await open()).put(
        key,
        new Response(body, {
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) },
        }),
      );
    },
    async delete(key) {
      await (await open()).delete(key);
    },
    async keys() {
      return (await (await open()).keys()).map((r) => r.url);
    },
    async sizes() {
      const cache = await open();
      const out: CacheEntry[] = [];
      for (const req of await cache.keys()) {
        const res = await cache.match(req);
        const n = Number(res?.headers.get('content-length'));
        out.push({
          key: req.url,
          bytes: Number.isSafeInteger(n) && n >= 0 ? n : ((await res?.arrayBuffer())?.byteLength ?? 0),
        });
      }
      return out;
    },
  };
}

function idbRequest<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** IndexedDB, for browsers (or contexts) without the Cache API. */
export function indexedDbCache(name = 'taskmoe-models'): ShardCache {
  let db: Promise<IDBDatabase> | null = null;
  const open = (): Promise<IDBDatabase> => {
    db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('files');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return db;
  };
  const store = async (mode: IDBTransactionMode): Promise<IDBObjectStore> =>
    (await open()).transaction('files', mode).objectStore('files');
  return {
    kind: 'indexeddb',
    async get(key) {
      const v = await idbRequest((await store('readonly')).get(key));
      return v instanceof ArrayBuffer ? new Uint8Array(v) : undefined;
    },
    async put(key, bytes) {
      const copy = bytes.slice().buffer;
      await idbRequest((await store('readwrite')).put(copy, key));
    },
    async delete(key) {
      await idbRequest((await store('readwrite')).delete(key));
    },
    async keys() {
      return (await idbRequest((await store('readonly')).getAllKeys())).map(String);
    },
    async sizes() {
      const s = await store('readonly');
      return new Promise<CacheEntry[]>((resolve, reject) => {
        const out: CacheEntry[] = [];
        const req = s.openCursor();
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const cur = req.result;
          if (!cur) return resolve(out);
          const v = cur.value as unknown;
          out.push({ key: String(cur.key), bytes: v instanceof ArrayBuffer ? v.byteLength : 0 });
          cur.continue();
        };
      });
    },
  };
}

/** The best cache this context has: the Cache API, else IndexedDB, else memory. */
export function defaultCache(): ShardCache {
  if (typeof caches !== 'undefined') return cacheApiCache();
  if (typeof indexedDB !== 'undefined') return indexedDbCache();
  return memoryCache();
}

/** Hex sha256 of `bytes` (WebCrypto: browsers, workers and Node 20). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

/** Progress of one file, as {@link ShardLoader.load} reports it. */
export interface FileProgress {
  shard: string;
  loaded: number;
  total: number;
  cached: boolean;
}

/** Options of {@link ShardLoader}. */
export interface ShardLoaderOptions {
  /** Folder URL the manifest's file names are relative to (the manifest's own folder). */
  baseUrl: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Defaults to {@link defaultCache}. */
  cache?: ShardCache;
  /** Where warnings go (cache fallbacks, corrupt cache entries); default console.warn. */
  warn?: (message: string) => void;
}

/** What a cache holds, from {@link ShardLoader.cacheUsage}. */
export interface CacheUsage {
  /** Bytes stored. */
  bytes: number;
  /** Entries stored (model files of every model and version, and manifests). */
  entries: number;
}

/** Counters of a {@link ShardLoader}. */
export interface LoaderStats {
  /** Network requests started. */
  fetches: number;
  /** Bytes received over the network (including discarded, mismatching downloads). */
  bytesDownloaded: number;
  /** Bytes served from the cache (verified). */
  bytesFromCache: number;
}

/** Downloads, verifies and caches the files of one model. */
export class ShardLoader {
  readonly baseUrl: string;
  readonly stats: LoaderStats = { fetches: 0, bytesDownloaded: 0, bytesFromCache: 0 };
  private readonly fetchImpl: typeof fetch;
  private cache: ShardCache;
  private readonly warn: (message: string) => void;

  constructor(opts: ShardLoaderOptions) {
    const base = opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`;
    this.baseUrl = new URL(base, globalThis.location?.href ?? 'http://localhost/').toString();
    this.fetchImpl = opts.fetch ?? ((input, init) => fetch(input, init));
    this.cache = opts.cache ?? defaultCache();
    this.warn = opts.warn ?? ((m) => console.warn(`[taskmoe] ${m}`));
  }

  /** The cache in use ("memory" after a quota error). */
  get cacheKind(): string {
    return this.cache.kind;
  }

  /** Absolute URL of a file of the model; throws `UnsafePathError` for a name that leaves the model's folder. */
  url(file: string): string {
    return resolveModelFile(new URL(this.baseUrl), file, 'manifest.json', 'file').toString();
  }

  private key(f: ManifestFile): string {
    return `${this.url(f.file)}?sha256=${f.sha256}`;
  }

  /**
   * Whether every file of `files` has an entry in the cache, judged from the keys alone (no value is read: entries
   * were verified when stored and are verified again when read, a corrupt one then refetched).
   */
  async isCached(files: readonly ManifestFile[]): Promise<boolean> {
    const keys = new Set(await this.cacheKeys());
    return files.every((f) => keys.has(this.key(f)));
  }

  private async cacheKeys(): Promise<string[]> {
    try {
      return await this.cache.keys();
    } catch (e) {
      this.warn(`cannot list the cache (${(e as Error).message})`);
      return [];
    }
  }

  /** Bytes and entries in the whole cache (every model and version it holds, manifests included). */
  async cacheUsage(): Promise<CacheUsage> {
    const sizes = await this.cache.sizes();
    return { bytes: sizes.reduce((n, e) => n + e.bytes, 0), entries: sizes.length };
  }

  /** Deletes every entry of the cache (every model it holds); returns how many there were. */
  async clearCache(): Promise<number> {
    const keys = await this.cache.keys();
    for (const k of keys) await this.cache.delete(k);
    return keys.length;
  }

  /**
   * Deletes the cached model files of this model's folder that `listed` (the current manifest's files) does not name
   * with the same sha256: older versions of the model. Entries of other folders and the cached manifest stay. Returns
   * the deleted keys.
   */
  async evictStale(listed: readonly ManifestFile[]): Promise<string[]> {
    const keep = new Set(listed.map((f) => this.key(f)));
    const stale = (await this.cacheKeys()).filter((k) => {
      if (!k.startsWith(this.baseUrl) || keep.has(k)) return false;
      const rest = k.slice(this.baseUrl.length);
      return !rest.includes('/') && /\?sha256=[0-9a-f]*$/.test(rest);
    });
    for (const k of stale) {
      try {
        await this.cache.delete(k);
      } catch (e) {
        this.warn(`cannot delete the stale cache entry ${k} (${(e as Error).message})`);
      }
    }
    return stale;
  }

  /** Whether a verified copy of `f` is in the cache (without reading it into the GPU). */
  async has(f: ManifestFile): Promise<boolean> {
    return (await this.fromCache(f, false)) !== undefined;
  }

  /**
   * The bytes of `f`, verified against its size and sha256: from the cache when a good copy is there, else from the
   * network (refetched once if the download is truncated or mismatching, then {@link IntegrityError}). A verified
   * download is cached; a corrupt cache entry is deleted and refetched.
   */
  async load(
    f: ManifestFile,
    opts: { onProgress?: (p: FileProgress) => void; signal?: AbortSignal } = {},
  ): Promise<Uint8Array> {
    const { signal, onProgress } = opts;
    if (signal?.aborted) throw new DownloadAbortedError(f.file);
    const cached = await this.fromCache(f, true);
    if (cached) {
      this.stats.bytesFromCache += cached.byteLength;
      onProgress?.({ shard: f.file, loaded: cached.byteLength, total: cached.byteLength, cached: true });
      return cached;
    }
    let last: { bytes: number; sha256: string } = { bytes: 0, sha256: '' };
    for (let attempt = 0; attempt < 2; attempt++) {
      let bytes: Uint8Array;
      try {
        bytes = await this.download(f, onProgress, signal);
      } catch (e) {
        // Typed failures (aborted, missing, larger than the manifest says) are final; a broken stream is retried.
        if (e instanceof TaskmoeError || attempt === 1) throw e;
        this.warn(`${f.file}: the download broke off (${(e as Error).message}); fetching it again`);
        continue;
      }
      const sha = await sha256Hex(bytes);
      if (bytes.byteLength === f.bytes && sha === f.sha256) {
        await this.store(f, bytes);
        return bytes;
      }
      last = { bytes: bytes.byteLength, sha256: sha };
      if (attempt === 0) this.warn(`${f.file}: downloaded file does not match the manifest; fetching it again`);
    }
    throw new IntegrityError(f.file, f, last);
  }

  private async fromCache(f: ManifestFile, count: boolean): Promise<Uint8Array | undefined> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.cache.get(this.key(f));
    } catch (e) {
      this.warn(`${f.file}: cache read failed (${(e as Error).message}); using the network`);
      return undefined;
    }
    if (!bytes) return undefined;
    if (bytes.byteLength === f.bytes && (await sha256Hex(bytes)) === f.sha256) return bytes;
    if (count) this.warn(`${f.file}: the cached copy is corrupt; deleting it and fetching the file again`);
    try {
      await this.cache.delete(this.key(f));
    } catch {
      // A cache that cannot delete will be overwritten by the next put.
    }
    return undefined;
  }

  private async store(f: ManifestFile, bytes: Uint8Array): Promise<void> {
    try {
      await this.cache.put(this.key(f), bytes);
    } catch (e) {
      const why = isQuotaError(e) ? 'storage quota exceeded' : (e as Error).message;
      this.warn(`cannot cache ${f.file} (${why}); keeping model files in memory only from now on`);
      const mem = memoryCache();
      this.cache = mem;
      await mem.put(this.key(f), bytes);
    }
  }

  private async download(
    f: ManifestFile,
    onProgress: ((p: FileProgress) => void) | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    const url = this.url(f.file);
    this.stats.fetches++;
    let res: Response;
    try {
      res = await this.fetchImpl(url, { cache: 'no-store', ...(signal ? { signal } : {}) });
    } catch (cause) {
      if (signal?.aborted) throw new DownloadAbortedError(f.file);
      if (cause instanceof TaskmoeError) throw cause; // e.g. a file: URL that is not a regular file
      throw new ModelNotFoundError(url, { cause });
    }
    if (!res.ok) throw new ModelNotFoundError(`${url} (HTTP ${res.status})`);
    // The manifest's byte count bounds everything: a larger Content-Length or body is refused before it is buffered.
    const header = Number(res.headers.get('content-length'));
    if (res.headers.get('content-length') !== null && Number.isSafeInteger(header) && header > f.bytes) {
      await res.body?.cancel().catch(() => {});
      throw tooLarge(f.file, header, f.bytes);
    }
    const total = f.bytes;
    onProgress?.({ shard: f.file, loaded: 0, total, cached: false });
    const bytes = await readCapped(res, f.bytes, f.file, signal, (n, chunk) => {
      this.stats.bytesDownloaded += chunk;
      onProgress?.({ shard: f.file, loaded: n, total, cached: false });
    });
    return bytes;
  }

  /**
   * Fetches a manifest (or any small JSON) from the network, falling back to the last cached copy when the network
   * fails, so that a cached model works offline.
   */
  async json(url: string, signal?: AbortSignal): Promise<unknown> {
    const key = `${new URL(url, this.baseUrl).toString()}?latest`;
    let text: string | undefined;
    try {
      this.stats.fetches++;
      const res = await this.fetchImpl(key.replace(/\?latest$/, ''), {
        cache: 'no-store',
        ...(signal ? { signal } : {}),
      });
      if (!res.ok) throw new ModelNotFoundError(`${url} (HTTP ${res.status})`);
      const bytes = await readCapped(res, MAX_MANIFEST_BYTES, url, signal, (_, chunk) => {
        this.stats.bytesDownloaded += chunk;
      });
      text = new TextDecoder().decode(bytes);
      JSON.parse(text);
      try {
        await this.cache.put(key, bytes);
      } catch {
        // Not being able to cache the manifest only costs the offline start.
      }
    } catch (e) {
      if (signal?.aborted) throw new DownloadAbortedError(url);
      if (e instanceof LimitExceededError) throw e;
      const cached = await this.cache.get(key).catch(() => undefined);
      if (!cached) throw e instanceof TaskmoeError ? e : new ModelNotFoundError(url, { cause: e });
      this.warn(`${url}: unreachable (${(e as Error).message}); using the cached copy`);
      text = new TextDecoder().decode(cached);
    }
    return JSON.parse(text);
  }
}

function tooLarge(file: string, got: number, allowed: number): LimitExceededError {
  return new LimitExceededError('bytesPerDownload', got, allowed, file, {
    message: `${file}: the server sends ${got > allowed ? `more than ${allowed}` : got} bytes, but the manifest says ${allowed}; the download was stopped. The server holds a different file: re-upload the model or check the manifest.`,
  });
}

/**
 * The body of `res`, at most `max` bytes: one buffer of `max` bytes (never sized from Content-Length), the stream
 * cancelled and {@link LimitExceededError} thrown as soon as more arrives. `onChunk` gets the bytes so far and the
 * chunk's size.
 */
async function readCapped(
  res: Response,
  max: number,
  file: string,
  signal: AbortSignal | undefined,
  onChunk: (loaded: number, chunk: number) => void,
): Promise<Uint8Array> {
  if (!Number.isSafeInteger(max) || max < 0 || max > MAX_FILE_BYTES) throw tooLarge(file, max, MAX_FILE_BYTES);
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.byteLength > max) throw tooLarge(file, bytes.byteLength, max);
    onChunk(bytes.byteLength, bytes.byteLength);
    return bytes;
  }
  const reader = res.body.getReader();
  // Grown by doubling up to `max`, so that a short or empty body does not cost a buffer of the full size.
  let buf = new Uint8Array(Math.min(max, 1 << 20));
  let n = 0;
  const onAbort = (): void => {
    reader.cancel().catch(() => {});
  };
  signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (signal?.aborted) throw new DownloadAbortedError(file);
        throw e;
      }
      if (signal?.aborted) throw new DownloadAbortedError(file);
      if (chunk.done) break;
      const c = chunk.value;
      if (n + c.byteLength > max) {
        reader.cancel().catch(() => {});
        throw tooLarge(file, n + c.byteLength, max);
      }
      if (n + c.byteLength > buf.byteLength) {
        const bigger = new Uint8Array(Math.min(max, Math.max(2 * buf.byteLength, n + c.byteLength)));
        bigger.set(buf.subarray(0, n));
        buf = bigger;
      }
      buf.set(c, n);
      n += c.byteLength;
      onChunk(n, c.byteLength);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock?.();
  }
  return n === buf.byteLength ? buf : buf.slice(0, n);
}
