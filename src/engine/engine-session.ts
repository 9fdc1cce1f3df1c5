// The shell both in-thread Translators share: the manifest and its shard loader, one queue of calls, language names,
// the files a load reads (with its own signal and progress), prefetch and cache management, throughput counters and
// dispose. What differs between WebGPU and WASM (loading, decoding, residency, activation) is an EngineBackend.
import { ModelNotFoundError, TranslationAbortedError, TranslatorDisposedError, UnknownLanguageError } from '../errors';
import { filesForTask, findFile, type Manifest, type ManifestFile } from '../runtime/manifest';
import type { ModelFiles } from '../runtime/model-files';
import type { CacheUsage, FileProgress, ShardLoader } from '../runtime/shard-loader';
import { withAbortReason } from './abort';
import { LanguageProgressTracker, prefetchFiles, textList } from './language-progress';
import { resolveLanguage } from './languages';
import { checkTranslateCall } from './options';
import { SerialQueue, translateAsStream } from './stream';
import type { Activation, LoadOptions, PartialTranslation, Stats, TranslateOptions, Translator } from './translator';

/** The counters of {@link Stats} that depend on the backend. */
export type BackendStats = Omit<Stats, 'tokensPerSecond' | 'tokens' | 'bytesDownloaded' | 'bytesFromCache'>;

/** {@link TranslateOptions} as a backend gets them: `to` resolved, partial output as texts and their stable parts. */
export type BackendTranslateOptions = Omit<TranslateOptions, 'onPartial'> & {
  onPartial?: (texts: string[], stable: string[]) => void;
};

/** What one engine (WebGPU, WASM) provides to an {@link EngineSession}. Every method runs inside the session's queue. */
export interface EngineBackend {
  /** Whether `lang`'s sub-network is ready to translate. */
  isLoaded(lang: string): boolean;
  /** Files loading `lang` reads: the config, tokenizer and trunk too before the first language. */
  filesToLoad(lang: string): readonly ManifestFile[];
  /** Makes `lang` ready, reading through `files`; for a loaded language, marks it recently used. */
  load(lang: string, files: ModelFiles): Promise<void>;
  /** Frees `lang`'s own weights. */
  unload(lang: string): Promise<void>;
  /** Translates `texts` (already checked, `opts.to` resolved, `lang` loaded); reports partial output to `onPartial`. */
  translate(texts: string[], opts: BackendTranslateOptions): Promise<{ texts: string[]; outputTokens: number }>;
  /** Expert use of the last translation, into `to`. */
  activation(to: string): Promise<Activation | null>;
  stats(): BackendStats;
  /**
   * Runs a load or translation; `reload` loads a language again through the session (WebGPU re-creates a lost device,
   * reloads its resident languages and runs `call` once more).
   */
  guard<T>(call: () => Promise<T>, reload: (lang: string) => Promise<void>): Promise<T>;
  /** Frees everything the backend holds. */
  dispose(): Promise<void>;
}

/** A {@link Translator} over one model's manifest and loader, running its calls on `backend` one at a time. */
export class EngineSession<B extends EngineBackend = EngineBackend> implements Translator {
  readonly manifest: Manifest;
  readonly loader: ShardLoader;
  protected readonly backend: B;
  private readonly queue = new SerialQueue();
  private disposed = false;
  private lastTo: string | null = null;
  private counters = { tokens: 0, tokensPerSecond: 0 };

  protected constructor(manifest: Manifest, loader: ShardLoader, backend: B) {
    this.manifest = manifest;
    this.loader = loader;
    this.backend = backend;
  }

  /** Runs `fn` after every call queued before it, so that no two calls interleave. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn, () => {
      if (this.disposed) throw new TranslatorDisposedError();
    });
  }

  /** As {@link enqueue}, through the backend's guard (device-loss recovery). */
  private enqueueGuarded<T>(fn: () => Promise<T>): Promise<T> {
    return this.enqueue(() => this.backend.guard(fn, (lang) => this.ensureLoaded(lang, {})));
  }

  /** The model's name for the BCP 47 tag `lang` (`DE` -> `de`); throws UnknownLanguageError when there is none. */
  private check(lang: string): string {
    if (this.disposed) throw new TranslatorDisposedError();
    const langs = Object.keys(this.manifest.tasks);
    const resolved = resolveLanguage(lang, langs);
    if (resolved === undefined) throw new UnknownLanguageError(lang, langs);
    return resolved;
  }

  /** The model's files as one load reads them: listed in the manifest, verified, with `signal` and `onProgress`. */
  protected filesFor(signal?: AbortSignal, onProgress?: (p: FileProgress) => void): ModelFiles {
    return {
      location: this.loader.baseUrl,
      read: (path, o) => {
        const f = findFile(this.manifest, path);
        if (!f) throw new ModelNotFoundError(`${this.loader.url(path)} (not listed in manifest.json)`);
        const s = o?.signal ?? signal;
        return this.loader.load(f, { ...(s ? { signal: s } : {}), ...(onProgress ? { onProgress } : {}) });
      },
    };
  }

  async languages(): Promise<string[]> {
    return Object.keys(this.manifest.tasks);
  }

  async loaded(): Promise<string[]> {
    return this.backend.stats().resident;
  }

  async load(lang: string, opts: LoadOptions = {}): Promise<void> {
    const l = this.check(lang);
    return withAbortReason(opts.signal, () => this.enqueueGuarded(() => this.ensureLoaded(l, opts)));
  }

  private async ensureLoaded(lang: string, opts: LoadOptions): Promise<void> {
    if (opts.signal?.aborted) throw new TranslationAbortedError();
    const loaded = this.backend.isLoaded(lang);
    const progress = new LanguageProgressTracker(
      lang,
      loaded ? [] : this.backend.filesToLoad(lang),
      opts.onLanguageProgress,
    );
    progress.start();
    const onProgress = opts.onProgress;
    await this.backend.load(
      lang,
      this.filesFor(opts.signal, (p) => {
        onProgress?.(p);
        progress.file(p);
      }),
    );
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
    const l = this.check(lang);
    return this.enqueue(() => this.backend.unload(l));
  }

  translate(text: string, opts: TranslateOptions): Promise<string>;
  translate(texts: readonly string[], opts: TranslateOptions): Promise<string[]>;
  translate(texts: string | readonly string[], opts: TranslateOptions): Promise<string | string[]>;
  async translate(input: string | readonly string[], opts: TranslateOptions): Promise<string | string[]> {
    const { texts, one } = textList(input);
    checkTranslateCall(texts, opts);
    const o = { ...opts, to: this.check(opts.to) };
    const out = await withAbortReason(opts.signal, () => this.enqueueGuarded(() => this.run(texts, o)));
    return one ? (out[0] as string) : out;
  }

  private async run(texts: string[], opts: TranslateOptions): Promise<string[]> {
    if (opts.signal?.aborted) throw new TranslationAbortedError();
    if (texts.every((t) => t.trim() === '')) return texts.map(() => '');
    await this.ensureLoaded(opts.to, opts.signal ? { signal: opts.signal } : {});
    const { onPartial, ...rest } = opts;
    const t0 = performance.now();
    const out = await this.backend.translate(texts, {
      ...rest,
      ...(onPartial
        ? { onPartial: (t: string[], stable: string[]) => onPartial({ texts: t, done: false, stable }) }
        : {}),
    });
    const seconds = (performance.now() - t0) / 1000;
    this.counters.tokens += out.outputTokens;
    this.counters.tokensPerSecond = seconds > 0 ? out.outputTokens / seconds : 0;
    this.lastTo = opts.to;
    return out.texts;
  }

  translateStream(texts: string | readonly string[], opts: TranslateOptions): AsyncIterable<PartialTranslation> {
    return translateAsStream(this, textList(texts).texts, opts);
  }

  async activation(): Promise<Activation | null> {
    return this.enqueue(async () => (this.lastTo === null ? null : this.backend.activation(this.lastTo)));
  }

  async stats(): Promise<Stats> {
    return {
      ...this.backend.stats(),
      tokensPerSecond: this.counters.tokensPerSecond,
      tokens: this.counters.tokens,
      bytesDownloaded: this.loader.stats.bytesDownloaded,
      bytesFromCache: this.loader.stats.bytesFromCache,
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.enqueue(async () => {
      this.disposed = true;
      await this.backend.dispose();
    });
  }
}
