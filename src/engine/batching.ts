// Text to source pieces and length-sorted batches, shared by the WebGPU engine (local-model.ts) and the WASM
// engine (ort-model.ts, wasm-translator.ts) so that both split, batch and join texts the same way.
import type { ModelConfig } from '../model/config';
import { checkBatchSize } from './options';
import { segment } from './segment';

/** Encodes and decodes pieces of text (the SentencePiece tokenizer). */
export interface PieceCodec {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

/** The source id lists of some texts and how to join translated pieces back into one output per text. */
export interface SourcePieces {
  /** Source id lists: [<2lang>] + pieces + [</s>], a text longer than the model's maximum split in several. */
  pieces: number[][];
  /** For each piece, the index of its text. */
  owner: number[];
  /** One output per text from the pieces' output ids (a missing piece counts as empty). */
  join(ids: ReadonlyArray<readonly number[] | undefined>): string[];
  /**
   * Turns a per-batch step callback (rows: piece indices, partial: their ids so far) into whole-text partial outputs
   * (finished pieces plus the live ones) and, per text, the prefix of it that the final output starts with: the
   * pieces of the batches already finished, in order, up to the first piece not known to be finished, plus that
   * piece's ids so far when `prefixStable` (greedy decoding, where they only grow; not beam search).
   */
  onStep(
    onPartial: (texts: string[], stable: string[]) => void,
    prefixStable?: boolean,
  ): (rows: readonly number[], partial: readonly number[][]) => void;
}

/**
 * Splits `texts` for translation into `to`: empty texts give no piece, texts longer than the model's maximum length
 * are split at sentence boundaries (or hard-split).
 */
export function sourcePieces(texts: readonly string[], to: string, cfg: ModelConfig, tok: PieceCodec): SourcePieces {
  const pieces: number[][] = [];
  const owner: number[] = [];
  texts.forEach((text, i) => {
    if (text.trim() === '') return;
    for (const p of segment(text, (s) => tok.encode(s), cfg.maxLen - 2)) {
      pieces.push([cfg.langTagIds[to] as number, ...p, cfg.eosId]);
      owner.push(i);
    }
  });
  const sep = to.startsWith('zh') ? '' : ' ';
  const join = (ids: ReadonlyArray<readonly number[] | undefined>): string[] => {
    const parts: string[][] = texts.map(() => []);
    ids.forEach((p, k) => {
      if (p) (parts[owner[k] as number] as string[]).push(tok.decode(p));
    });
    return parts.map((p) => p.join(sep));
  };
  const onStep = (onPartial: (texts: string[], stable: string[]) => void, prefixStable = false) => {
    const live: Array<readonly number[] | undefined> = new Array(pieces.length);
    // A piece is finished once a step reports a batch without it after one with it (batches run one after another).
    const finished = new Uint8Array(pieces.length);
    const finishedText: Array<string | undefined> = new Array(pieces.length);
    let current = new Set<number>();
    const stable = (): string[] =>
      texts.map((_, i) => {
        const parts: string[] = [];
        for (let j = 0; j < pieces.length; j++) {
          if (owner[j] !== i) continue;
          const ids = live[j];
          if (finished[j] && ids) {
            finishedText[j] ??= tok.decode(ids);
            parts.push(finishedText[j] as string);
            continue;
          }
          if (prefixStable && ids) parts.push(tok.decode(ids));
          break;
        }
        return parts.join(sep);
      });
    return (rows: readonly number[], partial: readonly number[][]): void => {
      if (!rows.every((j) => current.has(j))) {
        for (const j of current) finished[j] = 1;
        current = new Set(rows);
      }
      rows.forEach((j, k) => {
        live[j] = partial[k];
      });
      onPartial(join(live), stable());
    };
  };
  return { pieces, owner, join, onStep };
}

/**
 * Indices of `src` grouped into batches of at most `batchSize`, shortest first (less padding per batch). Throws
 * `InvalidOptionError` unless `batchSize` is an integer from 1 to the stated limit.
 */
export function lengthBatches(src: ReadonlyArray<readonly number[]>, batchSize: number): number[][] {
  checkBatchSize(batchSize);
  const order = src.map((_, i) => i).sort((a, b) => (src[a] as number[]).length - (src[b] as number[]).length);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}
