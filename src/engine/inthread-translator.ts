// The in-thread Translator: a LocalTranslator on this thread's GPU device, fed by the shard loader. Downloads the
// trunk with the first language and each further language's own shard on demand; keeps task shards resident under a
// memory budget (least recently used evicted); runs one call at a time; recovers once from a lost device.
import { adapterName, createGpuContext, DeviceLostError, type GpuContext } from '../gpu';
import { TranslationAbortedError } from '../model/search';
import { filesForTask, findFile, type Manifest, type ManifestFile, parseManifest } from '../runtime/manifest';
import { type ModelFiles, ModelNotFoundError } from '../runtime/model-files';
import { fileAwareFetch, resolveModelLocation } from '../runtime/model-source';
import { type CacheUsage, type FileProgress, type ShardCache, ShardLoader } from '../runtime/shard-loader';
import { withAbortReason } from './abort';
import { BackendUnavailableError, TranslatorDisposedError, UnknownLanguageError } from './errors';
import { LanguageProgressTracker, listedFiles, prefetchFiles, textList } from './language-progress';
import { resolveLanguage } from './languages';
import { LocalTranslator } from './local-translator';
import { checkTranslateCall } from './options';
import { SerialQueue, translateAsStream } from './stream';
import type {
  Activation,
  CreateTranslatorOptions,
  LayerActivation,
  LoadOptions,
  PartialTranslation,
  Stats,
  TranslateOptions,
  Translator,
} from './translator';

const MIB = 1024 * 1024;

/** Options of {@link InThreadTranslator.create}: the public options plus what tests and Node inject. */
export interface InThreadTranslatorOptions extends Omit<CreateTranslatorOptions, 'worker'> {
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Defaults to the Cache API, else IndexedDB, else memory. */
  cache?: ShardCache;
  /** Makes the GPU context (again after a device loss); defaults to `createGpuContext()` (navigator.gpu). */
  createContext?: () => Promise<GpuContext>;
  /** Where warnings go; default console.warn. */
  warn?: (message: string) => void;
}

/** Default budget for resident weights: a quarter of the adapter's maxBufferSize, clamped to [256 MiB, 2 GiB]. */
export function defaultMemoryBudget(limits: { maxBufferSize: number }): number {
  return Math.min(2048 * MIB, Math.max(256 * MIB, Math.floor(limits.maxBufferSize / 4)));
}

/** Reads the manifest at `opts.model` through a new {@link ShardLoader} (network first, the cached copy offline). */
export async function openModel(
  opts: Pick<InThreadTranslatorOptions, 'model' | 'fetch' | 'cache' | 'warn'>,
): Promise<{ manifest: Manifest; loader: ShardLoader }> {
  const { manifestUrl, baseUrl, local } = resolveModelLocation(opts.model);
  const loader = new ShardLoader({
    baseUrl,
    ...(opts.fetch || local ? { fetch: local ? fileAwareFetch(opts.fetch) : opts.fetch } : {}),
    ...(opts.cache ? { cache: opts.cache } : {}),
    ...(opts.warn ? { warn: opts.warn } : {}),
  });
  return { manifest: parseManifest(await loader.json(manifestUrl)), loader };
}

/** A {@link Translator} running on this thread's GPU device. Create it with {@link InThreadTranslator.create}. */
export class InThreadTranslator implements Translator {
  readonly manifest: Manifest;
  readonly loader: ShardLoader;
  readonly memoryBudget: number;
  private ctx: GpuContext;
  private local: LocalTranslator | null = null;
  /** Resident languages, least recently used first. */
  private resident: string[] = [];
  private readonly queue = new SerialQueue();
  private current: { onProgress?: (p: FileProgress) => void; signal?: AbortSignal } | null = null;
  private readonly createContext: () => Promise<GpuContext>;
  private disposed = false;
  private lastTo: string | null = null;
  private counters = { tokens: 0, tokensPerSecond: 0, evictions: 0, deviceLosses: 0 };
  private readonly files: ModelFiles;

  private constructor(
    manifest: Manifest,
    loader: ShardLoader,
    ctx: GpuContext,
    createContext: () => Promise<GpuContext>,
    memoryBudget: number,
  ) {
    this.manifest = manifest;
    this.loader = loader;
    this.ctx = ctx;
    this.createContext = createContext;
    this.memoryBudget = memoryBudget;
    this.files = {
      location: loader.baseUrl,
      read: (path, o) => {
        const f = this.fileEntry(path);
        const signal = o?.signal ?? this.current?.signal;
        const onProgress = this.current?.onProgress;
        return this.loader.load(f, { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
      },
    };
  }

  /**
   * Reads the manifest at `opts.model` (unless `model` is given, already read) and opens the GPU device; no weights
   * are fetched until a language is loaded. Rejects with `BackendUnavailableError` when WebGPU cannot run here or
   * `opts.backend` is `wasm` (use `createTranslator` for the WASM engine).
   */
  static async create(
    opts: InThreadTranslatorOptions,
    model?: { manifest: Manifest; loader: ShardLoader },
  ): Promise<InThreadTranslator> {
    if (opts.backend === 'wasm') {
      throw new BackendUnavailableError('wasm', 'InThreadTranslator runs on WebGPU; use createTranslator for "wasm".');
    }
    const { manifest, loader } = model ?? (await openModel(opts));
    if (opts.evictStale !== false) await loader.evictStale(listedFiles(manifest));
    const gpu = opts.gpu;
    const createContext = opts.createContext ?? (() => createGpuContext(gpu ? { gpu } : {}));
    let ctx: GpuContext;
    try {
      ctx = await createContext();
    } catch (cause) {
      throw new BackendUnavailableError(
        'webgpu',
        `WebGPU cannot run here: ${String((cause as Error).message).replace(/\.?$/, '.')} Or use backend "wasm".`,
        { cause },
      );
    }
    return new InThreadTranslator(
      manifest,
      loader,
      ctx,
      createContext,
      opts.memoryBudget ?? defaultMemoryBudget(ctx.limits),
    );
  }

  /** The GPU context in use (it changes after a device loss); for diagnostics and tests. */
  get gpu(): GpuContext {
    return this.ctx;
  }

  /** Runs `fn` after every call queued before it, so that no two calls interleave. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn, () => {
      if (this.disposed) throw new TranslatorDisposedError();
    });
  }

  /** The model's name for the BCP 47 tag `lang` (`DE` -> `de`); throws UnknownLanguageError when there is none. */
  private check(lang: string): string {
    if (this.disposed) throw new TranslatorDisposedError();
    const langs = Object.keys(this.manifest.tasks);
    const resolved = resolveLanguage(lang, langs);
    if (resolved === undefined) throw new UnknownLanguageError(lang, langs);
    return resolved;
  }

  private fileEntry(path: string): ManifestFile {
    const f = findFile(this.manifest, path);
    if (!f) throw new ModelNotFoundError(`${this.loader.url(path)} (not listed in manifest.json)`);
    return f;
  }

  async languages(): Promise<string[]> {
    return Object.keys(this.manifest.tasks);
  }

  async loaded(): Promise<string[]> {
    return [...this.resident];
  }

  async load(lang: string, opts: LoadOptions = {}): Promise<void> {
    const l = this.check(lang);
    return withAbortReason(opts.signal, () => this.enqueue(() => this.withRecovery(() => this.ensureLoaded(l, opts))));
  }

  /** Runs `fn`; if the device was lost meanwhile, re-creates it, reloads the resident tasks and runs `fn` once more. */
  private async withRecovery<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof DeviceLostError) && !this.ctx.isLost) throw e;
      await this.recover();
      return await fn();
    }
  }

  private async ensureLoaded(lang: string, opts: LoadOptions): Promise<void> {
    if (opts.signal?.aborted) throw new TranslationAbortedError();
    const own = this.manifest.tasks[lang]?.shards ?? [];
    const needed = !this.local ? filesForTask(this.manifest, lang) : this.local.isLoaded(lang) ? [] : own;
    const progress = new LanguageProgressTracker(lang, needed, opts.onLanguageProgress);
    progress.start();
    const onProgress = opts.onProgress;
    this.current = {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (p) => {
        onProgress?.(p);
        progress.file(p);
      },
    };
    try {
      this.local ??= await LocalTranslator.create(this.ctx, this.files);
      const local = this.local;
      if (!local.isLoaded(lang)) await local.load(lang, opts.signal ? { signal: opts.signal } : {});
    } finally {
      this.current = null;
    }
    progress.finish();
    this.resident = [...this.resident.filter((l) => l !== lang), lang];
    this.evict();
    // Dawn frees destroyed buffers (and upload staging memory) only as the queue's work completes.
    await this.ctx.sync();
  }

  /** Unloads least recently used task shards while the resident weights exceed the budget (never the newest). */
  private evict(): void {
    const local = this.local;
    if (!local?.extracted) return;
    while (this.resident.length > 1 && local.loaded.store.bytes() > this.memoryBudget) {
      const victim = this.resident.shift() as string;
      local.unload(victim);
      this.counters.evictions++;
    }
  }

  async prefetch(lang: string, opts: LoadOptions = {}): Promise<void> {
    const l = this.check(lang);
    return withAbortReason(opts.signal, () => prefetchFiles(this.loader, l, filesForTask(this.manifest, l), opts));
  }

  async isCached(lang: string): Promise<boolean> {
    return this.loader.isCached(filesForTask(this.manifest, this.check(lang)));
  }

  async cacheUsage(): Promise<CacheUsage> {
    return this.loader.cacheUsage();
  }

  async clearCache(): Promise<void> {
    await this.loader.clearCache();
  }

  async unload(lang: string): Promise<void> {
    lang = this.check(lang);
    return this.enqueue(async () => {
      if (this.local?.extracted) this.local.unload(lang);
      this.resident = this.resident.filter((l) => l !== lang);
      await this.ctx.sync();
    });
  }

  translate(text: string, opts: TranslateOptions): Promise<string>;
  translate(texts: readonly string[], opts: TranslateOptions): Promise<string[]>;
  translate(texts: string | readonly string[], opts: TranslateOptions): Promise<string | string[]>;
  async translate(input: string | readonly string[], opts: TranslateOptions): Promise<string | string[]> {
    const { texts, one } = textList(input);
    checkTranslateCall(texts, opts);
    const o = { ...opts, to: this.check(opts.to) };
    const out = await withAbortReason(opts.signal, () =>
      this.enqueue(() => this.withRecovery(() => this.run(texts, o))),
    );
    return one ? (out[0] as string) : out;
  }

  private async run(texts: string[], opts: TranslateOptions): Promise<string[]> {
    if (opts.signal?.aborted) throw new TranslationAbortedError();
    if (texts.every((t) => t.trim() === '')) return texts.map(() => '');
    await this.ensureLoaded(opts.to, opts.signal ? { signal: opts.signal } : {});
    const local = this.local as LocalTranslator;
    const onPartial = opts.onPartial;
    const t0 = performance.now();
    const out = await local.translate(texts, {
      to: opts.to,
      ...(opts.beam !== undefined ? { beam: opts.beam } : {}),
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      ...(opts.maxSteps !== undefined ? { maxSteps: opts.maxSteps } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(onPartial
        ? { onPartial: (p: string[], stable: string[]) => onPartial({ texts: p, done: false, stable }) }
        : {}),
      traceDecoder: local.loaded.cfg.decRouting === 'token',
    });
    const seconds = (performance.now() - t0) / 1000;
    this.counters.tokens += local.lastOutputTokens;
    this.counters.tokensPerSecond = seconds > 0 ? local.lastOutputTokens / seconds : 0;
    this.lastTo = opts.to;
    return out;
  }

  /** Re-creates the GPU context after a device loss and reloads the resident languages (from the cache). */
  private async recover(): Promise<void> {
    this.counters.deviceLosses++;
    const langs = [...this.resident];
    try {
      this.local?.dispose();
    } catch {
      // The old device is gone; its buffers go with it.
    }
    this.ctx.dispose();
    this.local = null;
    this.resident = [];
    this.ctx = await this.createContext();
    for (const lang of langs) await this.ensureLoaded(lang, {});
  }

  translateStream(texts: string | readonly string[], opts: TranslateOptions): AsyncIterable<PartialTranslation> {
    return translateAsStream(this, textList(texts).texts, opts);
  }

  async activation(): Promise<Activation | null> {
    return this.enqueue(() => this.readActivation());
  }

  private async readActivation(): Promise<Activation | null> {
    const local = this.local;
    const to = this.lastTo;
    if (!local || to === null) return null;
    const cfg = local.loaded.cfg;
    const tok = local.loaded.tokenizer;
    const trace = local.trace;
    const batch = local.traceBatch;
    const layers: LayerActivation[] = [];
    for (const stack of ['encoder', 'decoder'] as const) {
      const routing = stack === 'encoder' ? cfg.encRouting : cfg.decRouting;
      if (routing === 'dense') continue;
      for (const layer of cfg.moeLayers[stack]) {
        const entry: LayerActivation = { stack, layer, routing, experts: cfg.nExperts };
        const g = trace?.gates.find((x) => x.stack === stack && x.layer === layer);
        const fixed = cfg.taskGates?.[to]?.find((x) => x.stack === stack && x.layer === layer);
        if (routing === 'task' && fixed) {
          entry.task = { experts: [...fixed.experts], weights: [...fixed.weights] };
        } else if (g && batch && batch.src.length > 0) {
          const k = g.indices.shape[1] as number;
          const idx = (await this.ctx.read(g.indices)) as Uint32Array;
          const wts = (await this.ctx.read(g.weights)) as Float32Array;
          const row = (s: number): { experts: number[]; weights: number[] } => ({
            experts: Array.from(idx.subarray(s * k, s * k + k)),
            weights: Array.from(wts.subarray(s * k, s * k + k)),
          });
          if (routing === 'task') entry.task = row(0);
          else if (stack === 'decoder') {
            entry.perToken = await this.decoderTokens(local, stack, layer);
          } else {
            const src = batch.src[0] as number[];
            const rows = src.map((_, s) => row(s));
            entry.perToken = {
              tokens: src.map((id) => tok.idToPiece(id)),
              experts: rows.map((r) => r.experts),
              weights: rows.map((r) => r.weights),
            };
          }
        }
        layers.push(entry);
      }
    }
    return { to, text: batch?.texts[0] ?? 0, layers };
  }

  /**
   * Per decoder step of the first sentence of the last batch: the token fed in (<s>, then each output piece) and the
   * experts its gate chose. Needs the decoder trace (greedy decoding of a token-routed decoder).
   */
  private async decoderTokens(
    local: LocalTranslator,
    stack: 'decoder',
    layer: number,
  ): Promise<{ tokens: string[]; experts: number[][]; weights: number[][] } | undefined> {
    const batch = local.traceBatch;
    if (!batch?.decoderTraced) return undefined;
    const steps = (local.trace?.gates ?? []).filter((g) => g.stack === stack && g.layer === layer);
    const out = batch.out[0] ?? [];
    const n = Math.min(steps.length, out.length + 1);
    const tok = local.loaded.tokenizer;
    const cfg = local.loaded.cfg;
    const res = { tokens: [] as string[], experts: [] as number[][], weights: [] as number[][] };
    for (let t = 0; t < n; t++) {
      const g = steps[t] as (typeof steps)[number];
      const k = g.indices.shape[1] as number;
      const idx = (await this.ctx.read(g.indices)) as Uint32Array;
      const wts = (await this.ctx.read(g.weights)) as Float32Array;
      res.tokens.push(tok.idToPiece(t === 0 ? cfg.bosId : (out[t - 1] as number)));
      res.experts.push(Array.from(idx.subarray(0, k)));
      res.weights.push(Array.from(wts.subarray(0, k)));
    }
    return res;
  }

  async stats(): Promise<Stats> {
    return {
      backend: 'webgpu',
      adapter: adapterName(this.ctx.adapter),
      tokensPerSecond: this.counters.tokensPerSecond,
      tokens: this.counters.tokens,
      bytesDownloaded: this.loader.stats.bytesDownloaded,
      bytesFromCache: this.loader.stats.bytesFromCache,
      bytesResident: this.local?.loaded.store.bytes() ?? 0,
      bytesAllocated: (this.local?.loaded.store.bytes() ?? 0) + this.ctx.pool.stats().bytesAllocated,
      memoryBudget: this.memoryBudget,
      resident: [...this.resident],
      evictions: this.counters.evictions,
      deviceLosses: this.counters.deviceLosses,
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.enqueue(async () => {
      this.disposed = true;
      this.local?.dispose();
      this.local = null;
      this.resident = [];
      this.ctx.dispose();
    });
  }
}
