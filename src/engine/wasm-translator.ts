// The WASM fallback: the same verified, cached files as the WebGPU engine, turned into ONNX graphs in memory
// (runtime/onnx-export.ts) and run by onnxruntime-web's WASM backend (engine/ort-model.ts): batched greedy or beam
// search with a KV cache, split and batched as the WebGPU engine does. Slower than WebGPU, for machines without it.

import type { ModelConfig } from '../model/config';
import { TranslationAbortedError } from '../model/search';
import { checkShardIndex, readConfig, readTokenizer, shardIndex, taskShardIndex } from '../runtime/load-model';
import { filesForTask, findFile, type Manifest, type ManifestFile } from '../runtime/manifest';
import { type ModelFiles, ModelNotFoundError } from '../runtime/model-files';
import { shardReader } from '../runtime/onnx-export';
import { readShards, type SafetensorsFile } from '../runtime/safetensors';
import type { CacheUsage, FileProgress, ShardLoader } from '../runtime/shard-loader';
import type { SentencePieceTokenizer } from '../tokenizer';
import { withAbortReason } from './abort';
import { sourcePieces } from './batching';
import { TranslatorDisposedError, UnknownLanguageError } from './errors';
import { LanguageProgressTracker, listedFiles, prefetchFiles, textList } from './language-progress';
import { resolveLanguage } from './languages';
import { loadOnnxRuntime } from './onnxruntime';
import { checkTranslateCall } from './options';
import { OrtModel } from './ort-model';
import { SerialQueue, translateAsStream } from './stream';
import type { Activation, LoadOptions, PartialTranslation, Stats, TranslateOptions, Translator } from './translator';
import type { WasmOptions } from './wasm-options';

type Ort = typeof import('onnxruntime-web');

/**
 * A {@link Translator} on onnxruntime-web's WASM backend. Obtain it with `createTranslator({ backend: 'wasm' })` (or
 * `'auto'` without WebGPU). Runs every model variant (dense, task-routed extracted or not, token-routed), one ONNX
 * encoder and one cached decoder step per loaded language; `beam` (beam search, GNMT length penalty 0.6) and
 * `batchSize` (default 16, length-sorted batches) are honoured as on WebGPU, and translations equal the WebGPU
 * engine's. Limits: a token-routed MoE layer runs all E experts on every token (E/2 times the FFN work of top-2
 * routing); each loaded language holds its own f32 copy of the whole network in its ONNX sessions, trunk included
 * (`stats().bytesResident`; unextracted task-routed layers are folded for it); `activation()` reports task-routed
 * layers only (token routing is not traced);
 * `memoryBudget` is not enforced (no eviction) and `deviceLosses` is always 0.
 */
export class WasmTranslator implements Translator {
  readonly manifest: Manifest;
  readonly loader: ShardLoader;
  private readonly ort: Ort;
  private readonly files: ModelFiles;
  private cfg: ModelConfig | null = null;
  private tokenizer: SentencePieceTokenizer | null = null;
  private trunk: SafetensorsFile[] = [];
  private readonly sessions = new Map<string, OrtModel>();
  private readonly queue = new SerialQueue();
  private current: { onProgress?: (p: FileProgress) => void; signal?: AbortSignal } | null = null;
  private disposed = false;
  private lastTo: string | null = null;
  private counters = { tokens: 0, tokensPerSecond: 0 };

  private constructor(manifest: Manifest, loader: ShardLoader, ort: Ort) {
    this.manifest = manifest;
    this.loader = loader;
    this.ort = ort;
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
   * A WASM translator over the manifest already read by `loader`. Loads onnxruntime-web. Deletes the cached files of
   * the model's folder that the manifest does not list (older versions) unless `opts.evictStale` is false.
   */
  static async create(
    manifest: Manifest,
    loader: ShardLoader,
    opts: { evictStale?: boolean; wasm?: WasmOptions } = {},
  ): Promise<WasmTranslator> {
    if (opts.evictStale !== false) await loader.evictStale(listedFiles(manifest));
    const ort = await loadOnnxRuntime(opts.wasm);
    return new WasmTranslator(manifest, loader, ort);
  }

  private fileEntry(path: string): ManifestFile {
    const f = findFile(this.manifest, path);
    if (!f) throw new ModelNotFoundError(`${this.loader.url(path)} (not listed in manifest.json)`);
    return f;
  }

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

  async languages(): Promise<string[]> {
    return Object.keys(this.manifest.tasks);
  }

  async loaded(): Promise<string[]> {
    return [...this.sessions.keys()];
  }

  async load(lang: string, opts: LoadOptions = {}): Promise<void> {
    const l = this.check(lang);
    return withAbortReason(opts.signal, () => this.enqueue(() => this.ensureLoaded(l, opts)));
  }

  private async ensureLoaded(lang: string, opts: LoadOptions): Promise<void> {
    if (this.sessions.has(lang)) {
      const s = this.sessions.get(lang) as OrtModel;
      this.sessions.delete(lang);
      this.sessions.set(lang, s);
      new LanguageProgressTracker(lang, [], opts.onLanguageProgress).start(); // nothing to load: 0 of 0
      return;
    }
    if (opts.signal?.aborted) throw new TranslationAbortedError();
    const own = this.manifest.tasks[lang]?.shards ?? [];
    const progress = new LanguageProgressTracker(
      lang,
      this.cfg ? own : filesForTask(this.manifest, lang),
      opts.onLanguageProgress,
    );
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
      if (!this.cfg) {
        const cfg = await readConfig(this.files);
        this.tokenizer = readTokenizer(cfg, await this.files.read(cfg.tokenizer));
        const trunk = await readShards(this.files, cfg.shards);
        trunk.forEach((f, i) => {
          const name = cfg.shards[i] as string;
          checkShardIndex(f, name, shardIndex(cfg, name));
        });
        this.trunk = trunk;
        this.cfg = cfg;
      }
      const cfg = this.cfg;
      const shard = cfg.taskShards?.[lang];
      const own = await readShards(this.files, shard ? [shard] : []);
      if (shard) checkShardIndex(own[0] as SafetensorsFile, shard, taskShardIndex(cfg));
      this.sessions.set(lang, await OrtModel.create(this.ort, cfg, shardReader([...own, ...this.trunk]), { lang }));
    } finally {
      this.current = null;
    }
    progress.finish();
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
      const s = this.sessions.get(lang);
      this.sessions.delete(lang);
      await s?.release();
    });
  }

  translate(text: string, opts: TranslateOptions): Promise<string>;
  translate(texts: readonly string[], opts: TranslateOptions): Promise<string[]>;
  translate(texts: string | readonly string[], opts: TranslateOptions): Promise<string | string[]>;
  async translate(input: string | readonly string[], opts: TranslateOptions): Promise<string | string[]> {
    const { texts, one } = textList(input);
    checkTranslateCall(texts, opts);
    const o = { ...opts, to: this.check(opts.to) };
    const out = await withAbortReason(opts.signal, () => this.enqueue(() => this.run(texts, o)));
    return one ? (out[0] as string) : out;
  }

  private async run(texts: string[], opts: TranslateOptions): Promise<string[]> {
    if (opts.signal?.aborted) throw new TranslationAbortedError();
    if (texts.every((t) => t.trim() === '')) return texts.map(() => '');
    await this.ensureLoaded(opts.to, opts.signal ? { signal: opts.signal } : {});
    const model = this.sessions.get(opts.to) as OrtModel;
    const { pieces, join, onStep } = sourcePieces(texts, opts.to, model.cfg, this.tokenizer as SentencePieceTokenizer);
    const onPartial = opts.onPartial;
    const t0 = performance.now();
    const out = await model.translateIds(pieces, {
      ...(opts.beam !== undefined ? { beam: opts.beam } : {}),
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(onPartial
        ? { onStep: onStep((t, stable) => onPartial({ texts: t, done: false, stable }), (opts.beam ?? 1) <= 1) }
        : {}),
    });
    const seconds = (performance.now() - t0) / 1000;
    this.counters.tokens += model.lastOutputTokens;
    this.counters.tokensPerSecond = seconds > 0 ? model.lastOutputTokens / seconds : 0;
    this.lastTo = opts.to;
    return join(out);
  }

  translateStream(texts: string | readonly string[], opts: TranslateOptions): AsyncIterable<PartialTranslation> {
    return translateAsStream(this, textList(texts).texts, opts);
  }

  async activation(): Promise<Activation | null> {
    const cfg = this.cfg;
    const to = this.lastTo;
    if (!cfg || to === null) return null;
    const layers = (cfg.taskGates?.[to] ?? this.sessions.get(to)?.gates ?? []).map((g) => ({
      stack: g.stack,
      layer: g.layer,
      routing: 'task' as const,
      experts: cfg.nExperts,
      task: { experts: [...g.experts], weights: [...g.weights] },
    }));
    return { to, text: 0, layers };
  }

  async stats(): Promise<Stats> {
    return {
      backend: 'wasm',
      adapter: 'wasm',
      tokensPerSecond: this.counters.tokensPerSecond,
      tokens: this.counters.tokens,
      bytesDownloaded: this.loader.stats.bytesDownloaded,
      bytesFromCache: this.loader.stats.bytesFromCache,
      bytesResident: [...this.sessions.values()].reduce((n, s) => n + s.bytes, 0),
      memoryBudget: Number.POSITIVE_INFINITY,
      resident: [...this.sessions.keys()],
      evictions: 0,
      deviceLosses: 0,
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.enqueue(async () => {
      this.disposed = true;
      for (const s of this.sessions.values()) await s.release();
      this.sessions.clear();
    });
  }
}
