// Errors of decoding, in a module of their own so that code catching them (the worker proxy, the public API) does not
// load the search code and its kernels.
import { TaskmoeError } from '../gpu/errors';

/**
 * Decoding was cancelled through an AbortSignal: thrown by the decoders (`greedySearch`, `beamSearch`,
 * `LocalTranslator`). Translator methods reject with the signal's reason instead, as fetch does.
 */
export class TranslationAbortedError extends TaskmoeError {
  constructor() {
    super('aborted', 'The translation was aborted.');
  }
}
