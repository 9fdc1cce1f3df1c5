/**
 * Typed errors of the tokenizer.
 */

import { TaskmoeError } from '../gpu/errors';

/** Codes of `TokenizerError`: a broken model file, a model kind taskmoe does not implement, or a bad argument. */
export type TokenizerErrorCode = 'malformed-model' | 'unsupported-model' | 'invalid-input';

/**
 * The SentencePiece model could not be read ('malformed-model': re-download or re-export it), is of a kind taskmoe
 * does not implement ('unsupported-model': only unigram models are), or an argument was out of range
 * ('invalid-input', e.g. a token id outside the vocabulary).
 */
export class TokenizerError extends TaskmoeError {
  constructor(code: TokenizerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
