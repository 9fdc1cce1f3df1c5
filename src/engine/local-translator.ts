// The in-thread translation engine: tokenizes, splits, batches and decodes on one GpuContext.
import type { GpuContext } from '../gpu';
import { beamSearch, greedySearch } from '../model/search';
import { type SourceBatch, Trace, type Weights } from '../model/transformer';
import { type LoadedModel, loadModel, loadTaskShard, taskPrefix } from '../runtime/load-model';
import type { ModelFiles } from '../runtime/model-files';
import { lengthBatches, sourcePieces } from './batching';
import { UnknownLanguageError } from './errors';
import { checkTranslateCall } from './options';

/** Options of {@link LocalTranslator.translate}. */
export interface TranslateOptions {
  /** Target language code, one of `languages()`. */
  to: string;
  /** Beam width; 1 (default) is greedy decoding. */
  beam?: number;
  /** Sentences decoded together. Default 16. */
  batchSize?: number;
  /** Decoding steps at most; default min(max_len, 2 × source length + 10). */
  maxSteps?: number;
  signal?: AbortSignal;
  /** Decode exactly maxSteps steps whatever the model emits (throughput benchmarks with random weights). */
  forceSteps?: boolean;
  /** translateIds: after each decoding step, the indices (into `src`) of the batch's rows and their ids so far. */
  onStep?: (rows: readonly number[], partial: readonly number[][]) => void;
  /**
   * translate: after each decoding step, every text's output so far (finished pieces plus the live ones) and the part
   * of each that the final output starts with (see `SourcePieces.onStep`).
   */
  onPartial?: (texts: string[], stable: string[]) => void;
  /**
   * Greedy decoding: steps kept in flight before the oldest one's ids are read back (default 3; 1 reads each step
   * back before recording the next). The ids are the same for any value.
   */
  lookahead?: number;
  /** Also keep the decoder's gate outputs of every step in `trace` (greedy decoding only; beams reorder rows). */
  traceDecoder?: boolean;
}

/** The batch whose gate outputs {@link LocalTranslator.trace} holds. */
export interface TraceBatch {
  /** Source id lists of the batch's rows (row b of the trace's [B·S] token rows is src[b]). */
  src: number[][];
  /** Padded source length of the batch. */
  S: number;
  /** For each row, the index of the input text it came from (set by `translate`), else its index in `src`. */
  texts: number[];
  /** Output ids of each row (without </s>); empty when decoding did not finish. */
  out: number[][];
  /** Whether `trace` holds one decoder entry per step and MoE layer (row b of each is sentence b). */
  decoderTraced: boolean;
}

/** Token ids of one translation, before detokenization. */
export interface TranslationIds {
  src: number[][];
  out: number[][];
}

/** Translates with a model loaded on a GpuContext in this thread. */
export class LocalTranslator {
  readonly ctx: GpuContext;
  readonly loaded: LoadedModel;
  readonly files: ModelFiles;
  private lastTrace: Trace | null = null;
  private lastBatch: TraceBatch | null = null;
  /** Output tokens (ids plus </s>) of the last translateIds call. */
  lastOutputTokens = 0;

  private constructor(ctx: GpuContext, loaded: LoadedModel, files: ModelFiles) {
    this.ctx = ctx;
    this.loaded = loaded;
    this.files = files;
  }

  /** Loads a model folder (config.json, spm.model, trunk shards) onto `ctx`. */
  static async create(ctx: GpuContext, files: ModelFiles): Promise<LocalTranslator> {
    return new LocalTranslator(ctx, await loadModel(ctx, files), files);
  }

  languages(): string[] {
    return [...this.loaded.cfg.languages];
  }

  /** Whether the model is split into a trunk and per-task sub-network shards. */
  get extracted(): boolean {
    return this.loaded.cfg.taskShards !== undefined;
  }

  /** Makes `lang` ready to translate: for an extracted model, loads its task shard (once). */
  async load(lang: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    this.checkLanguage(lang);
    const cfg = this.loaded.cfg;
    if (!cfg.taskShards || this.isLoaded(lang)) return;
    const shard = cfg.taskShards[lang] as string;
    loadTaskShard(this.loaded.store, cfg, lang, await this.files.read(shard, opts));
  }

  /** Whether `lang`'s weights are on the GPU. */
  isLoaded(lang: string): boolean {
    return !this.loaded.cfg.taskShards || this.loaded.store.names(`task:${lang}`).length > 0;
  }

  /** Frees `lang`'s own shard (extracted models); the trunk stays. */
  unload(lang: string): void {
    this.loaded.store.removeGroup(`task:${lang}`);
  }

  /** The weights a translation into `lang` uses: its own tensors first, then the trunk. */
  weightsFor(lang: string): Weights {
    const store = this.loaded.store;
    if (!this.loaded.cfg.taskShards) return store;
    const prefix = taskPrefix(lang);
    return {
      has: (name) => store.has(prefix + name) || store.has(name),
      get: (name) => (store.has(prefix + name) ? store.get(prefix + name) : store.get(name)),
    };
  }

  /** Source ids of one sentence for target `lang`: [<2lang>] + pieces + [</s>]. */
  sourceIds(text: string, lang: string): number[] {
    const cfg = this.loaded.cfg;
    return [cfg.langTagIds[lang] as number, ...this.loaded.tokenizer.encode(text), cfg.eosId];
  }

  private checkLanguage(lang: string): number {
    const i = this.loaded.cfg.languages.indexOf(lang);
    if (i < 0) throw new UnknownLanguageError(lang, this.loaded.cfg.languages);
    return i;
  }

  /** Uploads a padded batch of source id lists (each already with tag and </s>) for task index `task`. */
  makeBatch(src: number[][], task: number): SourceBatch {
    const cfg = this.loaded.cfg;
    const B = src.length;
    const S = Math.max(1, ...src.map((s) => s.length));
    const ids = new Uint32Array(B * S).fill(cfg.padId);
    src.forEach((s, b) => {
      ids.set(s, b * S);
    });
    return {
      ids: this.ctx.upload(ids, [B, S], 'u32'),
      lengths: this.ctx.upload(
        Uint32Array.from(src, (s) => s.length),
        [B],
        'u32',
      ),
      tokenTasks: this.ctx.upload(new Uint32Array(B * S).fill(task), [B * S], 'u32'),
      taskIds: new Array<number>(B).fill(task),
      B,
      S,
    };
  }

  /** Translates source id lists (with tag and </s>) into target ids, in input order. */
  async translateIds(src: number[][], opts: TranslateOptions): Promise<number[][]> {
    const task = this.checkLanguage(opts.to);
    const cfg = this.loaded.cfg;
    await this.load(opts.to, opts.signal ? { signal: opts.signal } : {});
    const w = this.weightsFor(opts.to);
    const out: number[][] = new Array(src.length);
    this.lastTrace?.dispose();
    this.lastTrace = null;
    this.lastBatch = null;
    this.lastOutputTokens = 0;
    for (const idx of lengthBatches(src, opts.batchSize ?? 16)) {
      const batchSrc = idx.map((j) => src[j] as number[]);
      const batch = this.makeBatch(batchSrc, task);
      const S = batch.S;
      const maxSteps = opts.maxSteps ?? Math.min(cfg.maxLen, 2 * S + 10);
      const trace = new Trace();
      try {
        const search = {
          maxSteps,
          trace,
          forceSteps: opts.forceSteps ?? false,
          traceDecoder: (opts.traceDecoder ?? false) && (opts.beam ?? 1) <= 1,
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.onStep ? { onStep: (p: number[][]) => opts.onStep?.(idx, p) } : {}),
        };
        const res =
          (opts.beam ?? 1) > 1
            ? await beamSearch(this.ctx, this.loaded.model, w, batch, { ...search, beam: opts.beam as number })
            : await greedySearch(this.ctx, this.loaded.model, w, batch, {
                ...search,
                ...(opts.lookahead !== undefined ? { lookahead: opts.lookahead } : {}),
              });
        idx.forEach((j, k) => {
          out[j] = res[k] as number[];
          this.lastOutputTokens += (res[k] as number[]).length + 1;
        });
      } finally {
        for (const t of [batch.ids, batch.lengths, batch.tokenTasks]) t.dispose();
        this.lastTrace?.dispose();
        this.lastTrace = trace;
        this.lastBatch = {
          src: batchSrc,
          S,
          texts: idx,
          out: idx.map((j) => out[j] ?? []),
          decoderTraced: (opts.traceDecoder ?? false) && (opts.beam ?? 1) <= 1,
        };
      }
    }
    return out;
  }

  /**
   * Translates each text into `opts.to`, one output per input, in order. Empty texts give empty strings; texts longer
   * than the model's maximum length are split at sentence boundaries (or hard-split) and translated in pieces.
   */
  async translate(texts: readonly string[], opts: TranslateOptions): Promise<string[]> {
    checkTranslateCall(texts, opts);
    this.checkLanguage(opts.to);
    const {
      pieces,
      owner,
      join,
      onStep: partials,
    } = sourcePieces(texts, opts.to, this.loaded.cfg, this.loaded.tokenizer);
    const onStep = opts.onPartial ? partials(opts.onPartial, (opts.beam ?? 1) <= 1) : opts.onStep;
    const outIds = pieces.length ? await this.translateIds(pieces, { ...opts, ...(onStep ? { onStep } : {}) }) : [];
    if (this.lastBatch && pieces.length) this.lastBatch.texts = this.lastBatch.texts.map((j) => owner[j] as number);
    return join(outIds);
  }

  /** The source rows of the batch whose gate outputs {@link trace} holds. */
  get traceBatch(): TraceBatch | null {
    return this.lastBatch;
  }

  /** Gate outputs of the last batch translated (for the activation view); owned by the translator. */
  get trace(): Trace | null {
    return this.lastTrace;
  }

  dispose(): void {
    this.lastTrace?.dispose();
    this.loaded.dispose();
  }
}
