/**
 * SentencePiece tokenization: `SentencePieceTokenizer.fromBytes(modelBytes)` reads a unigram `.model` file and
 * encodes and decodes exactly like sentencepiece.
 */

export { TokenizerError, type TokenizerErrorCode } from '../errors';
export { SentencePieceTokenizer } from './sentencepiece';
