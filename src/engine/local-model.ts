// A model on this thread's GPU device (LocalModel): tokenizes, splits, batches and decodes on one GpuContext.

import { UnknownLanguageError } from '../errors';
import type { GpuContext } from '../gpu';
import type { ModelConfig } from '../model/config';
import { beamSearch, greedySearch } from '../model/search';
import type { SourceBatch, Trace, Weights } from '../model/transformer';
import { type LoadedModel, loadModel, loadTaskShard, taskPrefix } from '../runtime/load-model';
import type { ModelFiles } from '../runtime/model-files';
import type { SentencePieceTokenizer } from '../tokenizer';
import { lengthBatches, sourcePieces } from './batching';
import { checkTranslateCall } from './options';

/**
 * Options of {@link LocalModel.translateIds} and {@link LocalModel.translate} (the public `TranslateOptions` are the
 * Translator's; these add what the CLI, benchmarks and tests control).
 */
export interface DecodeOptions {
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
  /**
   * Collects the gate outputs of the last batch's encoder (what it held before, and earlier batches', are disposed);
   * owned by the caller, who disposes it. A failed call leaves the failing batch's outputs in it.
   */
  trace?: Trace;
  /** With `trace`, also each decoder step's gate outputs (greedy decoding only; beams reorder rows). */
  traceDecoder?: boolean;
}

/** The batch whose gate outputs a {@link DecodeResult}'s `trace` holds. */
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

/** What {@link LocalModel.translateIds} returns. */
export interface DecodeResult {
  /** Output ids of each source row (without </s>), in input order. */
  ids: number[][];
  /** Output tokens (ids plus </s>) of every row. */
  outputTokens: number;
  /** `opts.trace`, holding the gate outputs of the last batch; else null. */
  trace: Trace | null;
  /** With `trace`: the rows `trace` describes; else null. */
  batch: TraceBatch | null;
}

/** What {@link LocalModel.translateTexts} returns: a {@link DecodeResult} with texts instead of ids. */
export interface TextsResult extends Omit<DecodeResult, 'ids'> {
  texts: string[];
}

/**
 * A model loaded on a GpuContext in this thread: tokenizes, splits, batches and decodes. Not a `Translator` (no
 * manifest, queue or residency): InThreadTranslator builds one over it; the CLI, benchmarks and tests use it alone.
 */
export class LocalModel {
  readonly ctx: GpuContext;
  readonly loaded: LoadedModel;
  readonly files: ModelFiles;

  private constructor(ctx: GpuContext, loaded: LoadedModel, files: ModelFiles) {
    this.ctx = ctx;
    this.loaded = loaded;
    this.files = files;
  }

  /** Loads a model folder (config.json, spm.model, trunk shards) onto `ctx`. */
  static async create(ctx: GpuContext, files: ModelFiles): Promise<LocalModel> {
    return new LocalModel(ctx, await loadModel(ctx, files), files);
  }

  /** The model's config.json, validated. */
  get cfg(): ModelConfig {
    return this.loaded.cfg;
  }

  /** The model's SentencePiece tokenizer. */
  get tokenizer(): SentencePieceTokenizer {
    return this.loaded.tokenizer;
  }

  /** Bytes of weights on the GPU: the trunk and every loaded task shard. */
  bytes(): number {
    return this.loaded.store.bytes();
  }

  languages(): string[] {
    return [...this.loaded.cfg.languages];
  }

  /** Whether the model is split into a trunk and per-task sub-network shards. */
  get extracted(): boolean {
    return this.loaded.cfg.taskShards !== undefined;
  }

  /**
   * Makes `lang` ready to translate: for an extracted model, loads its task shard (once), through `opts.files` when
   * given (a caller's progress and signal), else the files the model was created from.
   */
  async load(lang: string, opts: { signal?: AbortSignal; files?: ModelFiles } = {}): Promise<void> {
    this.checkLanguage(lang);
    const cfg = this.loaded.cfg;
    if (!cfg.taskShards || this.isLoaded(lang)) return;
    const shard = cfg.taskShards[lang] as string;
    const files = opts.files ?? this.files;
    loadTaskShard(this.loaded.store, cfg, lang, await files.read(shard, opts.signal ? { signal: opts.signal } : {}));
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

  /**
   * Translates source id lists (with tag and </s>) into target ids, in input order. With `opts.trace` the result holds
   * the last batch's gate outputs, which the caller disposes.
   */
  async translateIds(src: number[][], opts: DecodeOptions): Promise<DecodeResult> {
    const task = this.checkLanguage(opts.to);
    const cfg = this.loaded.cfg;
    await this.load(opts.to, opts.signal ? { signal: opts.signal } : {});
    const w = this.weightsFor(opts.to);
    const traceDecoder = (opts.traceDecoder ?? false) && (opts.beam ?? 1) <= 1;
    const trace = opts.trace;
    const res: DecodeResult = { ids: new Array(src.length), outputTokens: 0, trace: trace ?? null, batch: null };
    for (const idx of lengthBatches(src, opts.batchSize ?? 16)) {
      const batchSrc = idx.map((j) => src[j] as number[]);
      const batch = this.makeBatch(batchSrc, task);
      const S = batch.S;
      const maxSteps = opts.maxSteps ?? Math.min(cfg.maxLen, 2 * S + 10);
      trace?.dispose();
      try {
        const search = {
          maxSteps,
          forceSteps: opts.forceSteps ?? false,
          traceDecoder,
          ...(trace ? { trace } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.onStep ? { onStep: (p: number[][]) => opts.onStep?.(idx, p) } : {}),
        };
        const out =
          (opts.beam ?? 1) > 1
            ? await beamSearch(this.ctx, this.loaded.model, w, batch, { ...search, beam: opts.beam as number })
            : await greedySearch(this.ctx, this.loaded.model, w, batch, {
                ...search,
                ...(opts.lookahead !== undefined ? { lookahead: opts.lookahead } : {}),
              });
        idx.forEach((j, k) => {
          res.ids[j] = out[k] as number[];
          res.outputTokens += (out[k] as number[]).length + 1;
        });
      } finally {
        for (const t of [batch.ids, batch.lengths, batch.tokenTasks]) t.dispose();
      }
      if (trace) {
        res.batch = {
          src: batchSrc,
          S,
          texts: idx,
          out: idx.map((j) => res.ids[j] ?? []),
          decoderTraced: traceDecoder,
        };
      }
    }
    return res;
  }

  /**
   * Translates each text into `opts.to`, one output per input, in order. Empty texts give empty strings; texts longer
   * than the model's maximum length are split at sentence boundaries (or hard-split) and translated in pieces. With
   * `opts.trace`, the result's `batch.texts` are indices into `texts`.
   */
  async translateTexts(texts: readonly string[], opts: DecodeOptions): Promise<TextsResult> {
    checkTranslateCall(texts, opts);
    this.checkLanguage(opts.to);
    const {
      pieces,
      owner,
      join,
      onStep: partials,
    } = sourcePieces(texts, opts.to, this.loaded.cfg, this.loaded.tokenizer);
    if (!pieces.length) return { texts: join([]), outputTokens: 0, trace: null, batch: null };
    const onStep = opts.onPartial ? partials(opts.onPartial, (opts.beam ?? 1) <= 1) : opts.onStep;
    const { ids, ...res } = await this.translateIds(pieces, { ...opts, ...(onStep ? { onStep } : {}) });
    if (res.batch) res.batch.texts = res.batch.texts.map((j) => owner[j] as number);
    return { ...res, texts: join(ids) };
  }

  /** {@link translateTexts}, giving only the texts. */
  async translate(texts: readonly string[], opts: DecodeOptions): Promise<string[]> {
    return (await this.translateTexts(texts, opts)).texts;
  }

  dispose(): void {
    this.loaded.dispose();
  }
}
