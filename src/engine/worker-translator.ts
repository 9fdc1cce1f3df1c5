// The Translator proxy: every call goes to an InThreadTranslator in a Web Worker (worker-host.ts) over comlink.
// Callbacks travel as comlink proxies (released by the worker when the call ends), AbortSignals as abort messages,
// errors as WireErrors rebuilt into their classes.
import * as Comlink from 'comlink';
import { TranslatorDisposedError, WorkerFailedError } from '../errors';
import type { CacheUsage } from '../runtime/shard-loader';
import { withAbortReason } from './abort';
import { textList } from './language-progress';
import { translateAsStream } from './stream';
import type {
  Activation,
  CreateTranslatorOptions,
  LanguageProgress,
  LoadOptions,
  PartialTranslation,
  Progress,
  Stats,
  TranslateOptions,
  Translator,
} from './translator';
import { fromWire } from './wire-errors';
import type { TranslatorHost, WireResult } from './worker-host';

/** A {@link Translator} whose engine runs in a Web Worker. Create it with {@link WorkerTranslator.create}. */
export class WorkerTranslator implements Translator {
  private readonly remote: Comlink.Remote<TranslatorHost>;
  private nextCall = 1;
  private disposed = false;

  private constructor(remote: Comlink.Remote<TranslatorHost>) {
    this.remote = remote;
  }

  /**
   * Connects to a worker running `taskmoe/worker` (or any endpoint serving `exposeTranslatorHost`) and creates the
   * engine there. The caller owns the worker: terminate it after `dispose()` if it is not reused.
   */
  static async create(
    endpoint: Comlink.Endpoint,
    opts: Omit<CreateTranslatorOptions, 'worker'>,
  ): Promise<WorkerTranslator> {
    const t = new WorkerTranslator(Comlink.wrap<TranslatorHost>(endpoint));
    // A worker whose script fails never answers: its error event rejects instead.
    let onError: ((e: Event) => void) | null = null;
    const failed = new Promise<never>((_, reject) => {
      onError = (e: Event) => {
        const message = (e as ErrorEvent).message || `${e.type} event`;
        reject(new WorkerFailedError(message, { cause: (e as ErrorEvent).error }));
      };
      endpoint.addEventListener('error', onError);
      endpoint.addEventListener('messageerror', onError);
    });
    try {
      await Promise.race([t.unwrap(t.remote.create({ ...opts })), failed]);
    } catch (e) {
      t.remote[Comlink.releaseProxy]();
      throw e;
    } finally {
      if (onError) {
        endpoint.removeEventListener('error', onError);
        endpoint.removeEventListener('messageerror', onError);
      }
    }
    return t;
  }

  private async unwrap<T>(p: Promise<WireResult<T>>): Promise<T> {
    const r = await p;
    if (!r.ok) throw fromWire(r.error);
    return r.value;
  }

  private live(): void {
    if (this.disposed) throw new TranslatorDisposedError();
  }

  /**
   * Runs `fn` with a call id whose abort message follows `signal`; a call cancelled through `signal` rejects with
   * `signal.reason` (this thread's value: a reason does not cross to the worker).
   */
  private async withSignal<T>(
    signal: AbortSignal | undefined,
    fn: (callId: number | null) => Promise<WireResult<T>>,
  ): Promise<T> {
    this.live();
    if (!signal) return this.unwrap(fn(null));
    return withAbortReason(signal, async () => {
      const id = this.nextCall++;
      const onAbort = (): void => {
        void this.remote.abort(id);
      };
      signal.addEventListener('abort', onAbort);
      try {
        return await this.unwrap(fn(id));
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    });
  }

  languages(): Promise<string[]> {
    this.live();
    return this.unwrap(this.remote.languages());
  }

  loaded(): Promise<string[]> {
    this.live();
    return this.unwrap(this.remote.loaded());
  }

  load(lang: string, opts: LoadOptions = {}): Promise<void> {
    return this.loading('load', lang, opts);
  }

  prefetch(lang: string, opts: LoadOptions = {}): Promise<void> {
    return this.loading('prefetch', lang, opts);
  }

  /** A load or prefetch in the worker, with the signal and progress callbacks passed across. */
  private loading(method: 'load' | 'prefetch', lang: string, opts: LoadOptions): Promise<void> {
    const [cb, lcb] = [opts.onProgress, opts.onLanguageProgress];
    return this.withSignal(opts.signal, (id) =>
      this.remote[method](
        lang,
        id,
        cb ? Comlink.proxy((p: Progress) => cb(p)) : undefined,
        lcb ? Comlink.proxy((p: LanguageProgress) => lcb(p)) : undefined,
      ),
    );
  }

  isCached(lang: string): Promise<boolean> {
    this.live();
    return this.unwrap(this.remote.isCached(lang));
  }

  cacheUsage(): Promise<CacheUsage> {
    this.live();
    return this.unwrap(this.remote.cacheUsage());
  }

  clearCache(): Promise<void> {
    this.live();
    return this.unwrap(this.remote.clearCache());
  }

  unload(lang: string): Promise<void> {
    this.live();
    return this.unwrap(this.remote.unload(lang));
  }

  translate(text: string, opts: TranslateOptions): Promise<string>;
  translate(texts: readonly string[], opts: TranslateOptions): Promise<string[]>;
  translate(texts: string | readonly string[], opts: TranslateOptions): Promise<string | string[]>;
  async translate(input: string | readonly string[], opts: TranslateOptions): Promise<string | string[]> {
    const { texts, one } = textList(input);
    const out = await this.translateList(texts, opts);
    return one ? (out[0] as string) : out;
  }

  private translateList(texts: string[], opts: TranslateOptions): Promise<string[]> {
    const cb = opts.onPartial;
    const wire = {
      to: opts.to,
      ...(opts.beam !== undefined ? { beam: opts.beam } : {}),
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      ...(opts.maxSteps !== undefined ? { maxSteps: opts.maxSteps } : {}),
    };
    return this.withSignal(opts.signal, (id) =>
      this.remote.translate(texts, wire, id, cb ? Comlink.proxy((p: PartialTranslation) => cb(p)) : undefined),
    );
  }

  translateStream(texts: string | readonly string[], opts: TranslateOptions): AsyncIterable<PartialTranslation> {
    return translateAsStream(this, textList(texts).texts, opts);
  }

  activation(): Promise<Activation | null> {
    this.live();
    return this.unwrap(this.remote.activation());
  }

  stats(): Promise<Stats> {
    this.live();
    return this.unwrap(this.remote.stats());
  }

  /** Disposes the engine in the worker and releases the comlink proxy (the worker itself stays the caller's). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.unwrap(this.remote.dispose());
    } finally {
      this.remote[Comlink.releaseProxy]();
    }
  }
}
