// The WASM fallback: the same verified, cached sub-network files as the WebGPU engine, turned into ONNX graphs in
// memory (runtime/onnx-export.ts) and run by onnxruntime-web's WASM backend. Greedy decoding, one sentence at a time,
// the decoder recomputing the prefix each step: slower than WebGPU, for machines without it.

import type { ModelConfig } from '../model/config';
import { TranslationAbortedError } from '../model/search';
import { readConfig } from '../runtime/load-model';
import { filesForTask, findFile, type Manifest, type ManifestFile } from '../runtime/manifest';
import { type ModelFiles, ModelNotFoundError } from '../runtime/model-files';
import { exportOnnx, shardReader } from '../runtime/onnx-export';
import { parseSafetensors, type SafetensorsFile } from '../runtime/safetensors';
import type { FileProgress, ShardLoader } from '../runtime/shard-loader';
import { SentencePieceTokenizer } from '../tokenizer';
import { TranslatorDisposedError, UnknownLanguageError } from './errors';
import { segment } from './segment';
import { SerialQueue, translateAsStream } from './stream';
import type { Activation, LoadOptions, PartialTranslation, Stats, TranslateOptions, Translator } from './translator';

type Ort = typeof import('onnxruntime-web');
type Session = import('onnxruntime-web').InferenceSession;

const NEG = -1e9;

/**
 * A {@link Translator} on onnxruntime-web's WASM backend. Obtain it with `createTranslator({ backend: 'wasm' })` (or
 * `'auto'` without WebGPU). `beam` is ignored (greedy decoding); `activation()` reports task-routed layers only.
 */
export class WasmTranslator implements Translator {
  readonly manifest: Manifest;
  readonly loader: ShardLoader;
  private readonly ort: Ort;
  private readonly files: ModelFiles;
  private cfg: ModelConfig | null = null;
  private tokenizer: SentencePieceTokenizer | null = null;
  private trunk: SafetensorsFile[] = [];
  private readonly sessions = new Map<string, { encoder: Session; decoder: Session; bytes: number }>();
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

  /** A WASM translator over the manifest already read by `loader`. Loads onnxruntime-web. */
  static async create(manifest: Manifest, loader: ShardLoader): Promise<WasmTranslator> {
    const ort = (await import('onnxruntime-web')) as Ort;
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
      const s = this.sessions.get(lang) as { encoder: Session; decoder: Session; bytes: number };
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
        this.trunk = [];
        for (const s of cfg.shards) this.trunk.push(parseSafetensors(await this.files.read(s), { name: s }));
        this.cfg = cfg;
      }
      const cfg = this.cfg;
      const own: SafetensorsFile[] = [];
      const shard = cfg.taskShards?.[lang];
      if (shard) own.push(parseSafetensors(await this.files.read(shard), { name: shard }));
      const sources = [...own, ...this.trunk];
      const read = shardReader(sources);
      const onnx = exportOnnx(cfg, read);
      const encoder = await this.ort.InferenceSession.create(onnx.encoder);
      const decoder = await this.ort.InferenceSession.create(onnx.decoder);
      this.sessions.set(lang, { encoder, decoder, bytes: onnx.encoder.byteLength + onnx.decoder.byteLength });
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
      await s?.encoder.release();
      await s?.decoder.release();
    });
  }

  async translate(texts: readonly string[], opts: TranslateOptions): Promise<string[]> {
    this.check(opts.to);
    const input = [...texts];
    return this.enqueue(() => this.run(input, opts));
  }

  private i64(v: number[], dims: number[]): import('onnxruntime-web').Tensor {
    return new this.ort.Tensor('int64', BigInt64Array.from(v, BigInt), dims);
  }

  /** Greedy decoding of one source id list (tag, pieces, </s>). */
  private async decode(
    s: { encoder: Session; decoder: Session },
    src: number[],
    signal: AbortSignal | undefined,
    onStep: (ids: number[]) => void,
  ): Promise<number[]> {
    const cfg = this.cfg as ModelConfig;
    const S = src.length;
    const keyBias = new this.ort.Tensor('float32', new Float32Array(S), [1, 1, 1, S]);
    const enc = (
      await s.encoder.run({ ids: this.i64(src, [1, S]), pos: this.i64([...Array(S).keys()], [S]), key_bias: keyBias })
    ).enc as import('onnxruntime-web').Tensor;
    const out: number[] = [];
    const steps = Math.min(cfg.maxLen, 2 * S + 10);
    const V = cfg.vocabSize;
    for (let t = 0; t < steps; t++) {
      if (signal?.aborted) throw new TranslationAbortedError();
      const tgt = [cfg.bosId, ...out];
      const T = tgt.length;
      const causal = new Float32Array(T * T);
      for (let a = 0; a < T; a++) for (let b = a + 1; b < T; b++) causal[a * T + b] = NEG;
      const r = await s.decoder.run({
        tgt: this.i64(tgt, [1, T]),
        pos: this.i64([...Array(T).keys()], [T]),
        causal: new this.ort.Tensor('float32', causal, [1, 1, T, T]),
        enc,
        key_bias: keyBias,
      });
      const logits = (r.logits as import('onnxruntime-web').Tensor).data as Float32Array;
      let best = 0;
      const row = (T - 1) * V;
      for (let v = 1; v < V; v++) if ((logits[row + v] as number) > (logits[row + best] as number)) best = v;
      this.counters.tokens++;
      if (best === cfg.eosId) break;
      out.push(best);
      onStep(out);
    }
    return out;
  }

  private async run(texts: string[], opts: TranslateOptions): Promise<string[]> {
    if (opts.signal?.aborted) throw new TranslationAbortedError();
    if (texts.every((t) => t.trim() === '')) return texts.map(() => '');
    await this.ensureLoaded(opts.to, opts.signal ? { signal: opts.signal } : {});
    const cfg = this.cfg as ModelConfig;
    const tok = this.tokenizer as SentencePieceTokenizer;
    const s = this.sessions.get(opts.to) as { encoder: Session; decoder: Session };
    const pieces: number[][] = [];
    const owner: number[] = [];
    texts.forEach((text, i) => {
      if (text.trim() === '') return;
      for (const p of segment(text, (x) => tok.encode(x), cfg.maxLen - 2)) {
        pieces.push([cfg.langTagIds[opts.to] as number, ...p, cfg.eosId]);
        owner.push(i);
      }
    });
    const sep = opts.to.startsWith('zh') ? '' : ' ';
    const outs: Array<number[] | undefined> = new Array(pieces.length);
    const join = (): string[] => {
      const parts: string[][] = texts.map(() => []);
      outs.forEach((o, k) => {
        if (o) (parts[owner[k] as number] as string[]).push(tok.decode(o));
      });
      return parts.map((p) => p.join(sep));
    };
    const t0 = performance.now();
    const before = this.counters.tokens;
    for (let k = 0; k < pieces.length; k++) {
      outs[k] = [];
      outs[k] = await this.decode(s, pieces[k] as number[], opts.signal, (ids) => {
        outs[k] = ids;
        opts.onPartial?.({ texts: join(), done: false });
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    this.counters.tokensPerSecond = seconds > 0 ? (this.counters.tokens - before) / seconds : 0;
    this.lastTo = opts.to;
    return join();
  }

  translateStream(texts: readonly string[], opts: TranslateOptions): AsyncIterable<PartialTranslation> {
    return translateAsStream(this, texts, opts);
  }

  async activation(): Promise<Activation | null> {
    const cfg = this.cfg;
    const to = this.lastTo;
    if (!cfg || to === null) return null;
    const layers = (cfg.taskGates?.[to] ?? []).map((g) => ({
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
      for (const s of this.sessions.values()) {
        await s.encoder.release();
        await s.decoder.release();
      }
      this.sessions.clear();
    });
  }
}
