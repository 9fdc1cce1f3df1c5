// The one engine interface of taskmoe. Two implementations: InThreadTranslator (this thread's GPU device) and
// WorkerTranslator (a proxy to an InThreadTranslator in a Web Worker, over comlink). Every method is async so that
// both implementations have the same shape; every value crossing it is structured-cloneable.
import type { CacheUsage } from '../runtime/shard-loader';
import type { WasmOptions } from './wasm-options';

/** Which engine runs the model. `auto` picks WebGPU where there is an adapter, else WASM. */
export type Backend = 'webgpu' | 'wasm' | 'auto';

/** Progress of one file's download (or cache read), reported as bytes arrive. */
export interface Progress {
  /** The file, as named in manifest.json (e.g. "trunk-000.safetensors", "task-de.safetensors"). */
  shard: string;
  /** Bytes received so far. */
  loaded: number;
  /** Bytes of the whole file, as the manifest states (a download is stopped past it). */
  total: number;
  /** True when the bytes came from the cache rather than the network. */
  cached: boolean;
}

/**
 * Progress of everything one language needs, for one bar: `total` comes from the manifest and is known before the
 * first byte is fetched (the first report has `loaded` 0); `loaded` only grows and ends equal to `total`.
 */
export interface LanguageProgress {
  /** The language being loaded or prefetched, as the model names it (e.g. "pt-br"). */
  language: string;
  /** Bytes received or read from the cache so far, over every file below. */
  loaded: number;
  /**
   * Bytes of the files this call needs: the config, tokenizer and trunk unless they are already loaded, and the
   * language's own shards (for `prefetch`, every file of the language, cached ones counted as loaded at once).
   */
  total: number;
  /** Files this call needs. */
  files: number;
}

/** Options of {@link Translator.load}. */
export interface LoadOptions {
  /** Called as each file needed for the language arrives (several calls per file). */
  onProgress?: (p: Progress) => void;
  /** Called with the progress of the whole language: first with `loaded` 0, last with `loaded === total`. */
  onLanguageProgress?: (p: LanguageProgress) => void;
  /** Cancels the downloads; the promise rejects with `signal.reason` and nothing is left half-loaded. */
  signal?: AbortSignal;
}

/** Partial output of a streaming translation. */
export interface PartialTranslation {
  /** One string per input text, in order: the finished translation, or what is decoded so far ('' if not started). */
  texts: string[];
  /** True on the last update, when `texts` is the final translation. */
  done: boolean;
  /**
   * Per text, the part of `texts[i]` that the final translation starts with (greedy decoding: the finished sentences
   * and the output so far of the first unfinished one; with beam search only finished sentences, as the best live
   * hypothesis may still change). `translateStreaming` of the Chrome-style facade emits its chunks from it.
   */
  stable?: string[];
}

/** Options of {@link Translator.translate}. */
export interface TranslateOptions {
  /**
   * Target language: a BCP 47 tag matching one of `languages()`, in any case and through likely subtags (`DE`, `pt-BR`,
   * `zh-Hans`; see `resolveLanguage`).
   */
  to: string;
  /** Beam width, 1 (default, greedy) to 8. Streaming updates show the best live hypothesis. */
  beam?: number;
  /** Sentences decoded together; default 16. */
  batchSize?: number;
  /** Decoding steps at most per sentence; default min(max_len, 2 × source length + 10). */
  maxSteps?: number;
  /**
   * Cancels the translation: it rejects with `signal.reason` (an "AbortError" DOMException unless another reason was
   * given), like fetch, once its GPU buffers are freed.
   */
  signal?: AbortSignal;
  /** Called after each decoding step with the partial output of every input text. */
  onPartial?: (p: PartialTranslation) => void;
}

/** How one MoE layer routed in the last translation. */
export interface LayerActivation {
  stack: 'encoder' | 'decoder';
  /** Layer index within its stack. */
  layer: number;
  /** `task`: the experts depend only on the target language; `token`: each token picks its own. */
  routing: 'task' | 'token';
  /** Experts in the layer (E). */
  experts: number;
  /**
   * Token routing: per token, the chosen experts and gate weights. Encoder: the source pieces of one sentence
   * (language tag first). Decoder: the token fed at each step (<s>, then each output piece); greedy decoding only.
   */
  perToken?: { tokens: string[]; experts: number[][]; weights: number[][] };
  /** Task routing: the experts the target language uses (best first) and their gate weights (sum 1). */
  task?: { experts: number[]; weights: number[] };
}

/** Expert use of the last translation, for the activation view. */
export interface Activation {
  /** Target language of the last translation. */
  to: string;
  /** Index of the input text whose first sentence `perToken` rows describe. */
  text: number;
  /** One entry per MoE layer the translation went through, encoder layers first, in layer order. */
  layers: LayerActivation[];
}

/** Counters of a translator since it was created. */
export interface Stats {
  /** Engine in use. */
  backend: 'webgpu' | 'wasm';
  /** Adapter name (WebGPU) or "wasm". */
  adapter: string;
  /** Output tokens per second of the last translation (0 before the first). */
  tokensPerSecond: number;
  /** Output tokens produced in total. */
  tokens: number;
  /** Bytes fetched over the network (cache hits excluded). */
  bytesDownloaded: number;
  /** Bytes read from the cache. */
  bytesFromCache: number;
  /** Bytes of weights on the GPU now (trunk plus resident tasks). */
  bytesResident: number;
  /**
   * Bytes of GPU buffers the engine holds now: resident weights plus pooled activation buffers (WebGPU; absent for
   * the WASM engine).
   */
  bytesAllocated?: number;
  /** Budget for resident weights, in bytes; least recently used task shards are evicted past it. */
  memoryBudget: number;
  /** Languages whose sub-network is on the GPU now, least recently used first. */
  resident: string[];
  /** Tasks evicted to stay under the memory budget. */
  evictions: number;
  /** Times the GPU device was lost and re-created. */
  deviceLosses: number;
}

/**
 * A translation engine for one model. Obtain one with `createTranslator`. Calls may overlap: translations are queued
 * and run one at a time; loads of different languages share the trunk download.
 */
export interface Translator {
  /** Target languages of the model, in manifest order. */
  languages(): Promise<string[]>;
  /**
   * Makes `lang` ready: downloads (or reads from the cache) the trunk if not yet loaded plus `lang`'s own shard,
   * verifies each against the manifest's sha256, uploads it and compiles the pipelines. Loading a loaded language
   * only marks it recently used. Rejects with `UnknownLanguageError`, `IntegrityError`, `ModelNotFoundError`.
   */
  load(lang: string, opts?: LoadOptions): Promise<void>;
  /** Downloads and caches `lang`'s files without putting them on the GPU. */
  prefetch(lang: string, opts?: LoadOptions): Promise<void>;
  /** Frees `lang`'s own shard from the GPU (the cache keeps it). */
  unload(lang: string): Promise<void>;
  /** Languages whose sub-network is on the GPU now. */
  loaded(): Promise<string[]>;
  /**
   * Translates a text into `opts.to` (a string gives a string), or each text of an array (one output per input, in
   * order); loads the language first if needed. Empty texts give empty strings; long texts are split into sentences,
   * never truncated.
   */
  translate(text: string, opts: TranslateOptions): Promise<string>;
  translate(texts: readonly string[], opts: TranslateOptions): Promise<string[]>;
  translate(texts: string | readonly string[], opts: TranslateOptions): Promise<string | string[]>;
  /**
   * As `translate`, yielding the partial output after each decoding step; the last item has `done: true`. A string
   * is translated as one text (`texts` has one entry).
   */
  translateStream(texts: string | readonly string[], opts: TranslateOptions): AsyncIterable<PartialTranslation>;
  /**
   * Whether every file `lang` needs (config, tokenizer, trunk, its own shards) is in the cache, so that loading it
   * needs no network.
   */
  isCached(lang: string): Promise<boolean>;
  /** Bytes and entries in the cache of model files (shared by every model and version cached with it). */
  cacheUsage(): Promise<CacheUsage>;
  /**
   * Deletes every cached model file and manifest (of every model in the cache); what is loaded on the GPU stays
   * usable. Cached files of older versions of this model are deleted anyway when the translator is created.
   */
  clearCache(): Promise<void>;
  /** Expert use of the last translation (null before the first). */
  activation(): Promise<Activation | null>;
  /** Counters: throughput, bytes downloaded and resident. */
  stats(): Promise<Stats>;
  /** Frees the GPU device and everything on it; the translator cannot be used afterwards. */
  dispose(): Promise<void>;
}

/** Options of `createTranslator`. */
export interface CreateTranslatorOptions {
  /**
   * The model: its folder or its manifest.json, as an http(s) URL (absolute, or relative to the page or worker), or
   * in Node a filesystem path or file:// URL (an export without manifest.json is read whole).
   */
  model: string;
  /**
   * A Worker running `taskmoe/worker` (`new Worker(new URL('taskmoe/worker', import.meta.url), { type: 'module' })`);
   * when given, the engine runs in it and this thread only proxies.
   */
  worker?: Worker;
  /** Engine; default `auto`. */
  backend?: Backend;
  /** Bytes of weights to keep on the GPU; default a quarter of the adapter's maxBufferSize, at least 256 MiB. */
  memoryBudget?: number;
  /** onnxruntime-web's settings for the WASM backend (`wasmPaths`, `numThreads`); ignored on WebGPU. */
  wasm?: WasmOptions;
  /**
   * The WebGPU entry point of the in-thread engine where there is no `navigator.gpu`: in Node, `await nodeGpu()`
   * from `taskmoe/node` (Dawn). Not with `worker`: the worker uses its own.
   */
  gpu?: GPU;
  /**
   * Delete the cached files of the model's folder that its current manifest does not list (older versions of the
   * model) when the translator is created; default true.
   */
  evictStale?: boolean;
}
