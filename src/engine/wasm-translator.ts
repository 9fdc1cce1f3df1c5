// The WASM fallback: the same verified, cached files as the WebGPU engine, turned into ONNX graphs in memory
// (runtime/onnx-export.ts) and run by onnxruntime-web's WASM backend (engine/ort-model.ts): batched greedy or beam
// search with a KV cache, split and batched as the WebGPU engine does. Slower than WebGPU, for machines without it.

import type { ModelConfig } from '../model/config';
import { TranslationAbortedError } from '../model/search';
import { readConfig } from '../runtime/load-model';
import { filesForTask, findFile, type Manifest, type ManifestFile } from '../runtime/manifest';
import { type ModelFiles, ModelNotFoundError } from '../runtime/model-files';
import { shardReader } from '../runtime/onnx-export';
import { readShards, type SafetensorsFile } from '../runtime/safetensors';
import type { FileProgress, ShardLoader } from '../runtime/shard-loader';
import { SentencePieceTokenizer } from '../tokenizer';
import { sourcePieces } from './batching';
import { TranslatorDisposedError, UnknownLanguageError } from './errors';
import { checkTranslateCall } from './options';
import { loadOnnxRuntime } from './onnxruntime';
import { OrtModel } from './ort-model';
import { SerialQueue, translateAsStream } from './stream';
import type { WasmOptions } from './wasm-options';
import type { Activation, LoadOptions, PartialTranslation, Stats, TranslateOptions, Translator } from './translator';

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

  /** A WASM translator over the manifest already read by `loader`. Loads onnxruntime-web with `opts.wasm`. */
  static async create(
    manifest: Manifest,
    loader: ShardLoader,
    opts: { wasm?: WasmOptions } = {},
  ): Promise<WasmTranslator> {
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

  private check(lang: string): void {
    if (this.disposed) throw new TranslatorDisposedError();
    const langs = Object.keys(this.manifest.tasks);
    if (!langs.includes(lang)) throw new UnknownLanguageError(lang, langs);
  }

  async languages(): Promise<string[]> {
    return Object.keys(this.manifest.tasks);
  }

  async loaded(): Promise<string[]> {
    return [...this.sessions.keys()];
  }

  async load(lang: string, opts: LoadOptions = {}): Promise<void> {
    this.check(lang);
    return this.enqueue(() => this.ensureLoaded(lang, opts));
  }

  private async ensureLoaded(lang: string, opts: LoadOptions): Promise<void> {
    if (this.sessions.has(lang)) {
      const s = this.sessions.get(lang) as OrtModel;
      this.sessions.delete(lang);
      this.sessions.set(lang, s);
      return;
    }
    if (opts.signal?.aborted) throw new TranslationAbortedError();
    this.current = {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    };
    try {
      if (!this.cfg) {
        const cfg = await readConfig(this.files);
        this.tokenizer = SentencePieceTokenizer.fromBytes(await this.files.read(cfg.tokenizer));
        this.trunk = await readShards(this.files, cfg.shards);
        this.cfg = cfg;
      }
      const cfg = this.cfg;
      const shard = cfg.taskShards?.[lang];
      const own = await readShards(this.files, shard ? [shard] : []);
      this.sessions.set(lang, await OrtModel.create(this.ort, cfg, shardReader([...own, ...this.trunk]), { lang }));
    } finally {
      this.current = null;
    }
  }

  async prefetch(lang: string, opts: LoadOptions = {}): Promise<void> {
    this.check(lang);
    for (const f of filesForTask(this.manifest, lang)) {
      if (await this.loader.has(f)) continue;
      await this.loader.load(f, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
    }
  }

  async unload(lang: string): Promise<void> {
    this.check(lang);
    return this.enqueue(async () => {
      const s = this.sessions.get(lang);
      this.sessions.delete(lang);
      await s?.release();
    });
  }

  async translate(texts: readonly string[], opts: TranslateOptions): Promise<string[]> {
    checkTranslateCall(texts, opts);
    this.check(opts.to);
    const input = [...texts];
    return this.enqueue(() => this.run(input, opts));
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
      ...(onPartial ? { onStep: onStep((t) => onPartial({ texts: t, done: false })) } : {}),
    });
    const seconds = (performance.now() - t0) / 1000;
    this.counters.tokens += model.lastOutputTokens;
    this.counters.tokensPerSecond = seconds > 0 ? model.lastOutputTokens / seconds : 0;
    this.lastTo = opts.to;
    return join(out);
  }

  translateStream(texts: readonly string[], opts: TranslateOptions): AsyncIterable<PartialTranslation> {
    return translateAsStream(this, texts, opts);
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
