// Errors of decoding, in a module of their own so that code catching them (the worker proxy, the public API) does not
// load the search code and its kernels.
import { TaskmoeError } from '../gpu/errors';

/** Decoding was cancelled through an AbortSignal. */
export class TranslationAbortedError extends TaskmoeError {
  constructor() {
    super('aborted', 'The translation was aborted.');
  }
}
