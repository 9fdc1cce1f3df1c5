// The Chrome-style facade: the shape of the Translator API that Chrome ships (availability, create with a download
// monitor and a signal, translate, translateStreaming, measureInputUsage, inputQuota, destroy), over one taskmoe
// Translator engine. The engine keeps its own strengths (batches, beam search, expert activation, stats) through
// `TranslatorApi.engine()`.

import { BackendUnavailableError } from '../errors';
import { abortReason } from './abort';
import { createTranslator } from './create-translator';
import { isEnglish, resolveLanguage } from './languages';
import { TRANSLATE_LIMITS } from './options';
import type { CreateTranslatorOptions, LanguageProgress, Translator } from './translator';

/** What {@link TranslatorApi.availability} answers, as Chrome's `Translator.availability()` does. */
export type TranslatorAvailability = 'unavailable' | 'downloadable' | 'downloading' | 'available';

/** The language pair of {@link TranslatorApi.availability} and {@link TranslatorApi.create}. */
export interface TranslatorLanguageOptions {
  /** BCP 47 tag of the source language; English (`en`, any region) is the only one. Default `en`. */
  sourceLanguage?: string;
  /**
   * BCP 47 tag of the target language, matched case-insensitively and through likely subtags to the model's
   * languages (`DE` and `de-AT` -> `de`, `pt-BR` -> `pt-br`, `zh` and `zh-Hans` -> `zh-cn`; `zh-TW` and `pt-PT` match
   * nothing). See `resolveLanguage`.
   */
  targetLanguage: string;
}

/** Options of {@link TranslatorApi.create}, as Chrome's `Translator.create()` takes them. */
export interface TranslatorCreateOptions extends TranslatorLanguageOptions {
  /** Called once, before anything is fetched, with the monitor whose `downloadprogress` events report the download. */
  monitor?: (monitor: TranslatorCreateMonitor) => void;
  /**
   * Cancels the creation (it rejects with `signal.reason`, nothing is left half-loaded) and, once created, destroys
   * the translator.
   */
  signal?: AbortSignal;
}

/** Options of a {@link TranslatorSession} call. */
export interface TranslatorCallOptions {
  /** Cancels the call: it rejects with `signal.reason` (an "AbortError" DOMException by default). */
  signal?: AbortSignal;
}

/**
 * The `downloadprogress` event of a {@link TranslatorCreateMonitor}: `loaded` is the fraction done (0 to 1, `total`
 * is 1), as in Chrome; `bytesLoaded` and `bytesTotal` give the bytes behind it (taskmoe's addition).
 */
export class DownloadProgressEvent extends Event {
  /** Fraction of the download done, 0 to 1; 1 only once the language is ready. */
  readonly loaded: number;
  /** Always 1. */
  readonly total = 1;
  /** Always true. */
  readonly lengthComputable = true;
  /** Bytes received or read from the cache so far. */
  readonly bytesLoaded: number;
  /** Bytes the language needs (from the manifest, known before the first byte). */
  readonly bytesTotal: number;

  constructor(loaded: number, bytesLoaded: number, bytesTotal: number) {
    super('downloadprogress');
    this.loaded = loaded;
    this.bytesLoaded = bytesLoaded;
    this.bytesTotal = bytesTotal;
  }
}

/**
 * The monitor a `create({ monitor })` callback receives, like Chrome's `CreateMonitor`: listen with
 * `addEventListener('downloadprogress', (e) => e.loaded)` or set `ondownloadprogress`. Events come with `loaded` 0
 * first, then growing, then 1 once the language is ready to translate (also when everything came from the cache).
 */
export class TranslatorCreateMonitor extends EventTarget {
  /** Called for each `downloadprogress` event, as a listener added first would be. */
  ondownloadprogress: ((e: DownloadProgressEvent) => void) | null = null;
  private last = -1;

  /** Listens for `downloadprogress` events (typed: `e.loaded` is the fraction done), or any other event type. */
  override addEventListener(
    type: 'downloadprogress',
    listener: ((e: DownloadProgressEvent) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | ((e: DownloadProgressEvent) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** Fires `downloadprogress` when the fraction grew (internal). */
  report(fraction: number, bytesLoaded: number, bytesTotal: number): void {
    // Chrome reports multiples of 1/65536 and never 1 before the end; so do we.
    const f = fraction >= 1 ? 1 : Math.min(Math.floor(fraction * 65536) / 65536, 65535 / 65536);
    if (f <= this.last) return;
    this.last = f;
    const e = new DownloadProgressEvent(f, bytesLoaded, bytesTotal);
    this.ondownloadprogress?.(e);
    this.dispatchEvent(e);
  }
}

/** An "AbortError" DOMException, the reason of a destroyed translator. */
function destroyedError(): DOMException {
  return new DOMException('The translator was destroyed.', 'AbortError');
}

/**
 * A signal that fires when any of `signals` does, with that one's reason; `release()` unhooks it from them once its
 * call is over (a translator's own signal lives long and must not collect a listener per call).
 */
function linkSignals(signals: ReadonlyArray<AbortSignal | undefined>): { signal: AbortSignal; release(): void } {
  const ac = new AbortController();
  const offs: Array<() => void> = [];
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      ac.abort(abortReason(s));
      break;
    }
    const on = (): void => ac.abort(abortReason(s));
    s.addEventListener('abort', on, { once: true });
    offs.push(() => s.removeEventListener('abort', on));
  }
  return {
    signal: ac.signal,
    release: () => {
      for (const off of offs) off();
    },
  };
}

function isTranslator(src: TranslatorApiSource): src is Translator {
  return typeof (src as Translator).translate === 'function';
}

/**
 * Where a {@link TranslatorApi} gets its engine: the options of `createTranslator` (the engine is created on first
 * use and disposed by `destroy()`), or a Translator already created (left to its owner).
 */
export type TranslatorApiSource = CreateTranslatorOptions | Translator;

/**
 * The static side of Chrome's Translator API for one taskmoe model: `availability()` and `create()`. Obtain it with
 * {@link createTranslatorApi}:
 *
 * ```ts
 * import { createTranslatorApi } from 'taskmoe';
 * const Translator = createTranslatorApi({ model: '/models/task_task/manifest.json' });
 * if ((await Translator.availability({ sourceLanguage: 'en', targetLanguage: 'de' })) !== 'unavailable') {
 *   const translator = await Translator.create({
 *     sourceLanguage: 'en',
 *     targetLanguage: 'de',
 *     monitor(m) {
 *       m.addEventListener('downloadprogress', (e) => console.log(`${Math.round(e.loaded * 100)} %`));
 *     },
 *   });
 *   console.log(await translator.translate('Open the file.'));
 *   for await (const chunk of translator.translateStreaming('Save the document.')) console.log(chunk);
 * }
 * ```
 *
 * Every translator it creates shares one engine (pass `worker` to run it in a Web Worker), and so the downloads,
 * cache and GPU memory of every language.
 */
export class TranslatorApi {
  private readonly source: TranslatorApiSource;
  private translator: Promise<Translator> | null = null;
  private readonly downloading = new Map<string, number>();
  private readonly sessions = new Set<TranslatorSession>();
  private destroyed = false;

  constructor(source: TranslatorApiSource) {
    this.source = source;
  }

  /** The engine behind every translator (created on first use): stats, activation, prefetch, cache management. */
  engine(): Promise<Translator> {
    if (this.destroyed) return Promise.reject(destroyedError());
    if (!this.translator) {
      const src = this.source;
      this.translator = isTranslator(src) ? Promise.resolve(src) : createTranslator(src);
      // A failed creation is retried by the next call.
      this.translator.catch(() => {
        this.translator = null;
      });
    }
    return this.translator;
  }

  /**
   * Whether a translator for this language pair can be created, as Chrome answers it: `unavailable` (the source is
   * not English, the model has no such target, or no backend can run here), `downloadable` (its files must be
   * fetched), `downloading` (a `create()` of this API is fetching them), `available` (every file is cached or the
   * language is loaded). Rejects when the model cannot be read (ModelNotFoundError, ManifestError).
   */
  async availability(opts: TranslatorLanguageOptions): Promise<TranslatorAvailability> {
    if (opts.sourceLanguage !== undefined && !isEnglish(opts.sourceLanguage)) return 'unavailable';
    let engine: Translator;
    try {
      engine = await this.engine();
    } catch (e) {
      if (e instanceof BackendUnavailableError) return 'unavailable';
      throw e;
    }
    const lang = resolveLanguage(opts.targetLanguage, await engine.languages());
    if (lang === undefined) return 'unavailable';
    if ((await engine.loaded()).includes(lang)) return 'available';
    if ((this.downloading.get(lang) ?? 0) > 0) return 'downloading';
    return (await engine.isCached(lang)) ? 'available' : 'downloadable';
  }

  /**
   * Creates a translator for the pair: downloads (or reads from the cache) and loads the target language, reporting
   * to `opts.monitor`. Rejects with a "NotSupportedError" DOMException when the pair is unavailable (its message
   * names the model's languages), with `opts.signal.reason` when aborted, and with the engine's typed errors
   * (IntegrityError, ModelNotFoundError, ...) when the download fails.
   */
  async create(opts: TranslatorCreateOptions): Promise<TranslatorSession> {
    const signal = opts.signal;
    if (signal?.aborted) throw abortReason(signal);
    const source = opts.sourceLanguage ?? 'en';
    if (!isEnglish(source)) {
      throw new DOMException(`taskmoe translates from English ("en") only, not "${source}".`, 'NotSupportedError');
    }
    const engine = await this.engine();
    const langs = await engine.languages();
    const lang = resolveLanguage(opts.targetLanguage, langs);
    if (lang === undefined) {
      throw new DOMException(
        `No model language matches "${opts.targetLanguage}". Available: ${langs.join(', ')}.`,
        'NotSupportedError',
      );
    }
    const monitor = new TranslatorCreateMonitor();
    opts.monitor?.(monitor);
    this.downloading.set(lang, (this.downloading.get(lang) ?? 0) + 1);
    let bytes = { loaded: 0, total: 0 };
    try {
      await engine.load(lang, {
        ...(signal ? { signal } : {}),
        onLanguageProgress: (p: LanguageProgress) => {
          bytes = { loaded: p.loaded, total: p.total };
          monitor.report(p.total > 0 ? p.loaded / p.total : 0, p.loaded, p.total);
        },
      });
    } finally {
      this.downloading.set(lang, (this.downloading.get(lang) ?? 1) - 1);
    }
    if (signal?.aborted) throw abortReason(signal);
    monitor.report(1, bytes.total, bytes.total);
    const session = new TranslatorSession(
      this,
      engine,
      source,
      opts.targetLanguage,
      lang,
      TRANSLATE_LIMITS.charactersPerText,
    );
    this.sessions.add(session);
    signal?.addEventListener('abort', () => session.destroy(abortReason(signal)), { once: true });
    return session;
  }

  /** A translator was destroyed: unloads its language from the GPU unless another live translator uses it. */
  ended(session: TranslatorSession, engine: Translator): void {
    this.sessions.delete(session);
    const lang = session.modelLanguage;
    if ([...this.sessions].some((s) => s.modelLanguage === lang)) return;
    engine.unload(lang).catch(() => {
      // The engine was disposed meanwhile: nothing is left to free.
    });
  }

  /**
   * Destroys every translator this API created and, when the API created the engine from options, disposes it. The
   * API cannot be used afterwards.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    for (const s of [...this.sessions]) s.destroy();
    const pending = this.translator;
    this.destroyed = true;
    if (pending && !isTranslator(this.source)) {
      await (await pending.catch(() => null))?.dispose();
    }
  }
}

/**
 * A translator for one language pair, shaped like an instance of Chrome's `Translator`. Obtain it with
 * {@link TranslatorApi.create}.
 */
export class TranslatorSession {
  /** The source language as given to `create()` (default `en`). */
  readonly sourceLanguage: string;
  /** The target language as given to `create()` (e.g. `pt-BR`). */
  readonly targetLanguage: string;
  /** The model's name of the target language (e.g. `pt-br`). */
  readonly modelLanguage: string;
  /**
   * Input a call may take, in the units of {@link measureInputUsage}: characters (UTF-16 code units) per text, the
   * engine's stated limit (`TRANSLATE_LIMITS.charactersPerText`).
   */
  readonly inputQuota: number;
  private readonly api: TranslatorApi;
  private readonly translator: Translator;
  private readonly life = new AbortController();

  /** Use {@link TranslatorApi.create}. */
  constructor(
    api: TranslatorApi,
    translator: Translator,
    source: string,
    target: string,
    modelLanguage: string,
    inputQuota: number,
  ) {
    this.inputQuota = inputQuota;
    this.api = api;
    this.translator = translator;
    this.sourceLanguage = source;
    this.targetLanguage = target;
    this.modelLanguage = modelLanguage;
  }

  /** Throws the reason of the call's signal or of the translator's destruction, if either fired. */
  private checkLive(opts: TranslatorCallOptions | undefined): void {
    for (const s of [this.life.signal, opts?.signal]) if (s?.aborted) throw abortReason(s);
  }

  private checkQuota(input: string): void {
    const n = input.length;
    if (n > this.inputQuota) {
      throw Object.assign(
        new DOMException(
          `The input has ${n} characters; the quota is ${this.inputQuota}. Split it into paragraphs.`,
          'QuotaExceededError',
        ),
        { requested: n, quota: this.inputQuota },
      );
    }
  }

  /**
   * Translates `input` (one string; long texts are split into sentences, never truncated). Rejects with
   * `opts.signal.reason` when aborted, an "AbortError" DOMException once destroyed, a "QuotaExceededError"
   * DOMException past {@link inputQuota}.
   */
  async translate(input: string, opts?: TranslatorCallOptions): Promise<string> {
    this.checkLive(opts);
    this.checkQuota(input);
    const { signal, release } = linkSignals([this.life.signal, opts?.signal]);
    try {
      return await this.translator.translate(String(input), { to: this.modelLanguage, signal });
    } finally {
      release();
    }
  }

  /**
   * Translates `input` as a stream of string chunks, as Chrome does: the chunks, concatenated, are the translation.
   * A chunk is sent as soon as the words before it can no longer change (greedy decoding; the last word of the
   * output so far is held back until the next one starts). Cancelling the stream cancels the translation; errors
   * (abort reasons included) error the stream.
   */
  translateStreaming(input: string, opts?: TranslatorCallOptions): TranslationStream {
    try {
      this.checkLive(opts);
      this.checkQuota(input);
    } catch (e) {
      return iterable(
        new ReadableStream<string>({
          start: (ctl) => ctl.error(e),
        }),
      );
    }
    const cancel = new AbortController();
    const { signal, release } = linkSignals([this.life.signal, opts?.signal, cancel.signal]);
    const spaced = !this.modelLanguage.toLowerCase().startsWith('zh');
    let sent = '';
    const stream = new ReadableStream<string>({
      start: (ctl) => {
        const send = (text: string): void => {
          if (text.length > sent.length && text.startsWith(sent)) {
            ctl.enqueue(text.slice(sent.length));
            sent = text;
          }
        };
        this.translator
          .translate(String(input), {
            to: this.modelLanguage,
            signal,
            onPartial: (p) => {
              const stable = p.stable?.[0];
              if (stable !== undefined) send(settled(stable, spaced));
            },
          })
          .finally(release)
          .then(
            (out) => {
              if (!out.startsWith(sent)) {
                ctl.error(new Error(`taskmoe: streamed chunks "${sent}" are not a prefix of the translation "${out}"`));
                return;
              }
              send(out);
              ctl.close();
            },
            (e: unknown) => {
              if (!cancel.signal.aborted) ctl.error(e);
            },
          );
      },
      cancel: (reason) => {
        cancel.abort(reason ?? new DOMException('The stream was cancelled.', 'AbortError'));
      },
    });
    return iterable(stream);
  }

  /**
   * How much of {@link inputQuota} translating `input` uses: its characters (UTF-16 code units). Rejects as
   * `translate` does when aborted or destroyed.
   */
  async measureInputUsage(input: string, opts?: TranslatorCallOptions): Promise<number> {
    this.checkLive(opts);
    return String(input).length;
  }

  /**
   * Cancels this translator's calls (they reject with `reason`, an "AbortError" DOMException by default) and frees
   * its language from the GPU unless another translator of the same API uses it; later calls reject with the same
   * reason. The cache keeps the files.
   */
  destroy(reason?: unknown): void {
    if (this.life.signal.aborted) return;
    this.life.abort(reason ?? destroyedError());
    this.api.ended(this, this.translator);
  }
}

/**
 * What `translateStreaming` returns: a ReadableStream of string chunks, as Chrome's, which `for await` also reads
 * (natively where the browser has it, else through the same reader).
 */
export type TranslationStream = ReadableStream<string> & AsyncIterable<string>;

/** Makes `stream` async-iterable where the platform's ReadableStream is not (cancelled when the loop stops early). */
function iterable(stream: ReadableStream<string>): TranslationStream {
  const s = stream as ReadableStream<string> & { [Symbol.asyncIterator]?: () => AsyncIterator<string> };
  if (typeof s[Symbol.asyncIterator] !== 'function') {
    s[Symbol.asyncIterator] = async function* () {
      const reader = stream.getReader();
      let done = false;
      try {
        for (;;) {
          const r = await reader.read();
          if (r.done) {
            done = true;
            return;
          }
          yield r.value;
        }
      } finally {
        if (!done) await reader.cancel().catch(() => {});
        reader.releaseLock();
      }
    };
  }
  return s as TranslationStream;
}

/**
 * The part of a growing translation that the next words cannot change: up to the last space (the last word may still
 * grow), or all but the last character for Chinese, which has no spaces.
 */
function settled(text: string, spaced: boolean): string {
  if (spaced) {
    const m = /\s\S*$/.exec(text);
    return m ? text.slice(0, m.index + 1) : '';
  }
  const chars = Array.from(text);
  return chars.slice(0, -1).join('');
}

/**
 * Chrome's Translator API over a taskmoe model: `availability()` and `create()` like `Translator.availability()` and
 * `Translator.create()`, translators with `translate`, `translateStreaming`, `measureInputUsage`, `inputQuota` and
 * `destroy`. `source` is the options of `createTranslator` (model URL, `worker`, `backend`, ...) or a Translator
 * already created. See {@link TranslatorApi} for an example.
 */
export function createTranslatorApi(source: TranslatorApiSource): TranslatorApi {
  return new TranslatorApi(source);
}
