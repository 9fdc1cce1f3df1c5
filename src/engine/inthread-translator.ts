// The in-thread Translator: a LocalModel on this thread's GPU device, fed by the shard loader. Downloads the
// trunk with the first language and each further language's own shard on demand; keeps task shards resident under a
// memory budget (least recently used evicted); runs one call at a time; recovers once from a lost device.

import { BackendUnavailableError } from '../errors';
import { adapterName, createGpuContext, DeviceLostError, type GpuContext } from '../gpu';
import { Trace } from '../model/transformer';
import { filesForTask, type Manifest, type ManifestFile, parseManifest } from '../runtime/manifest';
import type { ModelFiles } from '../runtime/model-files';
import { fileAwareFetch, resolveModelLocation } from '../runtime/model-source';
import { type ShardCache, ShardLoader } from '../runtime/shard-loader';
import { readActivation, type TracedDecode } from './activation';
import { type BackendStats, type BackendTranslateOptions, type EngineBackend, EngineSession } from './engine-session';
import { listedFiles } from './language-progress';
import { LocalModel } from './local-model';
import type { Activation, CreateTranslatorOptions } from './translator';

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

/**
 * The WebGPU engine behind {@link InThreadTranslator}: one LocalModel on the context, task shards resident under
 * `memoryBudget` (least recently used evicted), the gate outputs of the last translation kept for `activation()`, and
 * the device re-created once when it is lost.
 */
class WebGpuBackend implements EngineBackend {
  ctx: GpuContext;
  readonly memoryBudget: number;
  private readonly manifest: Manifest;
  private readonly createContext: () => Promise<GpuContext>;
  private model: LocalModel | null = null;
  /** Resident languages, least recently used first. */
  private resident: string[] = [];
  /** Gate outputs of the last translation (of the failing batch after a failure), for `activation()`. */
  private readonly trace = new Trace();
  /** The last translation that succeeded: its target and the rows `trace` describes. */
  private last: Omit<TracedDecode, 'trace'> | null = null;
  private evictions = 0;
  private deviceLosses = 0;

  constructor(manifest: Manifest, ctx: GpuContext, createContext: () => Promise<GpuContext>, memoryBudget: number) {
    this.manifest = manifest;
    this.ctx = ctx;
    this.createContext = createContext;
    this.memoryBudget = memoryBudget;
  }

  isLoaded(lang: string): boolean {
    return this.model?.isLoaded(lang) ?? false;
  }

  filesToLoad(lang: string): readonly ManifestFile[] {
    return this.model ? (this.manifest.tasks[lang]?.shards ?? []) : filesForTask(this.manifest, lang);
  }

  async load(lang: string, files: ModelFiles): Promise<void> {
    this.model ??= await LocalModel.create(this.ctx, files);
    if (!this.model.isLoaded(lang)) await this.model.load(lang, { files });
    this.resident = [...this.resident.filter((l) => l !== lang), lang];
    this.evict();
    // Dawn frees destroyed buffers (and upload staging memory) only as the queue's work completes.
    await this.ctx.sync();
  }

  /** Unloads least recently used task shards while the resident weights exceed the budget (never the newest). */
  private evict(): void {
    const model = this.model;
    if (!model?.extracted) return;
    while (this.resident.length > 1 && model.bytes() > this.memoryBudget) {
      const victim = this.resident.shift() as string;
      model.unload(victim);
      this.evictions++;
    }
  }

  async unload(lang: string): Promise<void> {
    if (this.model?.extracted) this.model.unload(lang);
    this.resident = this.resident.filter((l) => l !== lang);
    await this.ctx.sync();
  }

  async translate(texts: string[], opts: BackendTranslateOptions): Promise<{ texts: string[]; outputTokens: number }> {
    const model = this.model as LocalModel;
    this.last = null;
    const res = await model.translateTexts(texts, {
      ...opts,
      trace: this.trace,
      traceDecoder: model.cfg.decRouting === 'token',
    });
    this.last = { to: opts.to, batch: res.batch };
    return res;
  }

  async activation(to: string): Promise<Activation | null> {
    const model = this.model;
    if (!model) return null;
    const batch = this.last?.to === to ? this.last.batch : null;
    return readActivation(this.ctx, model.cfg, model.tokenizer, { to, trace: this.trace, batch });
  }

  stats(): BackendStats {
    const bytesResident = this.model?.bytes() ?? 0;
    return {
      backend: 'webgpu',
      adapter: adapterName(this.ctx.adapter),
      bytesResident,
      bytesAllocated: bytesResident + this.ctx.pool.stats().bytesAllocated,
      memoryBudget: this.memoryBudget,
      resident: [...this.resident],
      evictions: this.evictions,
      deviceLosses: this.deviceLosses,
    };
  }

  /** Runs `call`; if the device was lost meanwhile, re-creates it, reloads the resident tasks and runs `call` again. */
  async guard<T>(call: () => Promise<T>, reload: (lang: string) => Promise<void>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (!(e instanceof DeviceLostError) && !this.ctx.isLost) throw e;
      await this.recover(reload);
      return await call();
    }
  }

  /** Re-creates the GPU context after a device loss and reloads the resident languages (from the cache). */
  private async recover(reload: (lang: string) => Promise<void>): Promise<void> {
    this.deviceLosses++;
    const langs = [...this.resident];
    try {
      this.free();
    } catch {
      // The old device is gone; its buffers go with it.
    }
    this.ctx.dispose();
    this.ctx = await this.createContext();
    for (const lang of langs) await reload(lang);
  }

  private free(): void {
    const model = this.model;
    this.model = null;
    this.last = null;
    this.resident = [];
    this.trace.dispose();
    model?.dispose();
  }

  async dispose(): Promise<void> {
    this.free();
    this.ctx.dispose();
  }
}

/** A {@link Translator} running on this thread's GPU device. Create it with {@link InThreadTranslator.create}. */
export class InThreadTranslator extends EngineSession<WebGpuBackend> {
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
    const budget = opts.memoryBudget ?? defaultMemoryBudget(ctx.limits);
    return new InThreadTranslator(manifest, loader, new WebGpuBackend(manifest, ctx, createContext, budget));
  }

  /** Bytes of weights kept on the GPU (least recently used task shards are evicted past it). */
  get memoryBudget(): number {
    return this.backend.memoryBudget;
  }

  /** The GPU context in use (it changes after a device loss); for diagnostics and tests. */
  get gpu(): GpuContext {
    return this.backend.ctx;
  }
}
