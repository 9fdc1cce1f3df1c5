// Turns a translation that reports partial output through a callback into an async iterable (comlink cannot transfer
// async generators, so both Translator implementations build their stream from the callback form).
import type { PartialTranslation, TranslateOptions, Translator } from './translator';

/**
 * Runs `start(onPartial)` and yields its partial outputs, then the final one with `done: true`. Partials that arrive
 * faster than the consumer reads are coalesced (only the latest is yielded). Stopping the iteration early does not
 * cancel the translation: pass an AbortSignal for that.
 */
export async function* streamFromCallback(
  start: (onPartial: (p: PartialTranslation) => void) => Promise<string[]>,
): AsyncGenerator<PartialTranslation, void, undefined> {
  let latest: PartialTranslation | null = null;
  let finished = false;
  let failed = false;
  let error: unknown;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  start((p) => {
    latest = { texts: [...p.texts], done: false, ...(p.stable ? { stable: [...p.stable] } : {}) };
    notify();
  }).then(
    (texts) => {
      latest = { texts, done: true, stable: texts };
      finished = true;
      notify();
    },
    (e: unknown) => {
      failed = true;
      error = e;
      finished = true;
      notify();
    },
  );
  for (;;) {
    if (failed) throw error;
    if (latest) {
      const item: PartialTranslation = latest;
      latest = null;
      yield item;
      if (item.done) return;
      continue;
    }
    if (finished) return;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
}

/** `translator.translateStream` for every implementation: `translate` with its partials turned into a stream. */
export function translateAsStream(
  translator: Pick<Translator, 'translate'>,
  texts: readonly string[],
  opts: TranslateOptions,
): AsyncIterable<PartialTranslation> {
  return streamFromCallback((onPartial) =>
    translator.translate(texts, {
      ...opts,
      onPartial: (p) => {
        opts.onPartial?.(p);
        onPartial(p);
      },
    }),
  );
}

/** Runs calls one after another (no two interleave); a failed call does not stop the ones after it. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every call queued before it; `guard` runs first (e.g. throws when the owner was disposed). */
  run<T>(fn: () => Promise<T>, guard?: () => void): Promise<T> {
    const run = this.tail.then(() => {
      guard?.();
      return fn();
    });
    this.tail = run.catch(() => {});
    return run;
  }
}
