// Cancellation as the platform does it (fetch, streams): a call whose AbortSignal fires rejects with the signal's
// reason, an "AbortError" DOMException unless the caller gave another one. The engines below throw their own typed
// errors when they notice the signal (TranslationAbortedError, DownloadAbortedError); every Translator method maps
// them here, so that the caller sees the same value in every backend.

/** The value a call cancelled through `signal` rejects with: `signal.reason`, else an "AbortError" DOMException. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Runs `fn` unless `signal` has already fired; when `fn` fails after `signal` fired, rejects with the signal's reason
 * instead of the engine's own error. `fn` runs to its end either way (it frees what it holds first).
 */
export async function withAbortReason<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  if (signal?.aborted) throw abortReason(signal);
  try {
    return await fn();
  } catch (e) {
    if (signal?.aborted) throw abortReason(signal);
    throw e;
  }
}
