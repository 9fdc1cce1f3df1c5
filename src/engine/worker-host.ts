// The worker side of WorkerTranslator: an InThreadTranslator behind a comlink endpoint. Callbacks arrive as comlink
// proxies and are released when their call ends; AbortSignals are bridged by call id; errors travel as WireError.
import * as Comlink from 'comlink';
import type { CacheUsage } from '../runtime/shard-loader';
import type { InThreadTranslatorOptions } from './inthread-translator';
import { openTranslator } from './open-translator';
import type {
  Activation,
  CreateTranslatorOptions,
  LanguageProgress,
  PartialTranslation,
  Progress,
  Stats,
  Translator,
} from './translator';
import { toWire, type WireError } from './wire-errors';

/** A host call's outcome: errors are returned, not thrown, so that their class survives the trip. */
export type WireResult<T> = { ok: true; value: T } | { ok: false; error: WireError };

/** A callback passed with `Comlink.proxy`; in the worker it is a comlink Remote, released when its call ends. */
export type Callback<T> = ((p: T) => void) & Comlink.ProxyMarked;

/** Translate options as they cross the port (no signal, no callback). */
export interface WireTranslateOptions {
  to: string;
  beam?: number;
  batchSize?: number;
  maxSteps?: number;
}

/** Arguments of `load` and `prefetch` as they cross the port: the language, the call's id for `abort`, callbacks. */
type LoadCall = [
  lang: string,
  callId: number | null,
  onProgress?: Callback<Progress>,
  onLanguageProgress?: Callback<LanguageProgress>,
];

/**
 * Options of a worker's engine, set in the worker by {@link exposeTranslatorHost}: the same cache, fetch and engine
 * options as an in-thread translator takes (functions and caches cannot cross from the main thread).
 */
export type TranslatorHostOptions = Partial<Omit<InThreadTranslatorOptions, 'model'>>;

/** What the worker exposes; used through {@link WorkerTranslator}, not directly. */
export class TranslatorHost {
  private t: Translator | null = null;
  private readonly aborts = new Map<number, AbortController>();
  private readonly defaults: TranslatorHostOptions;

  constructor(defaults: TranslatorHostOptions = {}) {
    this.defaults = defaults;
  }

  private get translator(): Translator {
    if (!this.t) throw new Error('createTranslator was not called in the worker');
    return this.t;
  }

  private async wrap<T>(fn: () => Promise<T>): Promise<WireResult<T>> {
    try {
      return { ok: true, value: await fn() };
    } catch (e) {
      return { ok: false, error: toWire(e) };
    }
  }

  private signal(callId: number | null): AbortSignal | undefined {
    if (callId === null) return undefined;
    const ac = new AbortController();
    this.aborts.set(callId, ac);
    return ac.signal;
  }

  private async call<T>(
    callId: number | null,
    callbacks: Array<Callback<never> | undefined>,
    fn: (signal: AbortSignal | undefined) => Promise<T>,
  ): Promise<WireResult<T>> {
    const signal = this.signal(callId);
    try {
      return await this.wrap(() => fn(signal));
    } finally {
      if (callId !== null) this.aborts.delete(callId);
      for (const cb of callbacks) (cb as unknown as Comlink.Remote<unknown> | undefined)?.[Comlink.releaseProxy]();
    }
  }

  /** Cancels the call registered under `callId` (the main thread's AbortSignal fired). */
  abort(callId: number): void {
    this.aborts.get(callId)?.abort();
  }

  create(opts: Omit<CreateTranslatorOptions, 'worker'>): Promise<WireResult<void>> {
    return this.wrap(async () => {
      this.t = await openTranslator({ ...this.defaults, ...opts });
    });
  }

  languages(): Promise<WireResult<string[]>> {
    return this.wrap(() => this.translator.languages());
  }

  loaded(): Promise<WireResult<string[]>> {
    return this.wrap(() => this.translator.loaded());
  }

  load(...args: LoadCall): Promise<WireResult<void>> {
    return this.loading('load', ...args);
  }

  prefetch(...args: LoadCall): Promise<WireResult<void>> {
    return this.loading('prefetch', ...args);
  }

  /** A load or prefetch from the proxy: cancellable through `callId`, progress through the comlink callbacks. */
  private loading(
    method: 'load' | 'prefetch',
    ...[lang, callId, onProgress, onLanguageProgress]: LoadCall
  ): Promise<WireResult<void>> {
    return this.call(callId, [onProgress, onLanguageProgress], (signal) =>
      this.translator[method](lang, {
        ...(signal ? { signal } : {}),
        ...(onProgress ? { onProgress: (p: Progress) => void onProgress(p) } : {}),
        ...(onLanguageProgress ? { onLanguageProgress: (p: LanguageProgress) => void onLanguageProgress(p) } : {}),
      }),
    );
  }

  isCached(lang: string): Promise<WireResult<boolean>> {
    return this.wrap(() => this.translator.isCached(lang));
  }

  cacheUsage(): Promise<WireResult<CacheUsage>> {
    return this.wrap(() => this.translator.cacheUsage());
  }

  clearCache(): Promise<WireResult<void>> {
    return this.wrap(() => this.translator.clearCache());
  }

  unload(lang: string): Promise<WireResult<void>> {
    return this.wrap(() => this.translator.unload(lang));
  }

  translate(
    texts: string[],
    opts: WireTranslateOptions,
    callId: number | null,
    onPartial?: Callback<PartialTranslation>,
  ): Promise<WireResult<string[]>> {
    return this.call(callId, [onPartial], (signal) =>
      this.translator.translate(texts, {
        ...opts,
        ...(signal ? { signal } : {}),
        ...(onPartial ? { onPartial: (p: PartialTranslation) => void onPartial(p) } : {}),
      }),
    );
  }

  activation(): Promise<WireResult<Activation | null>> {
    return this.wrap(() => this.translator.activation());
  }

  stats(): Promise<WireResult<Stats>> {
    return this.wrap(() => this.translator.stats());
  }

  dispose(): Promise<WireResult<void>> {
    return this.wrap(async () => {
      await this.t?.dispose();
      this.t = null;
    });
  }
}

/**
 * Serves the engine of a {@link WorkerTranslator} on `endpoint` (the worker's global scope by default). Write a worker
 * module of your own to configure it, and pass that Worker to `createTranslator({ worker })`:
 *
 * ```ts
 * // my-worker.ts
 * import { exposeTranslatorHost, indexedDbCache } from 'taskmoe';
 * exposeTranslatorHost(self, { cache: indexedDbCache('my-app-models'), fetch: (url, init) => fetch(url, init) });
 * ```
 *
 * `options` (cache, fetch, backend, memoryBudget, evictStale, warn, createContext: what an in-thread translator
 * takes) are merged under the options of every translator the main thread creates through it. `taskmoe/worker` is
 * this call with no options.
 */
export function exposeTranslatorHost(
  endpoint: Comlink.Endpoint = globalThis as unknown as Comlink.Endpoint,
  options: TranslatorHostOptions = {},
): TranslatorHost {
  const host = new TranslatorHost(options);
  Comlink.expose(host, endpoint);
  return host;
}
