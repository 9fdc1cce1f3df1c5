// The stable prefixes of streamed partial output (SourcePieces.onStep), which translateStreaming's chunks come from:
// a text split into several pieces decoded in length-sorted batches, where the live output of a later piece must
// never appear in the stable part before the pieces ahead of it are finished. A word codec stands in for the
// tokenizer and a scripted decoder for the model, so every step can be checked against the final output.
import { describe, expect, it } from 'vitest';
import { lengthBatches, sourcePieces } from '../../src/engine/batching';
import type { ModelConfig } from '../../src/model/config';

/** One id per whitespace-separated word; decode joins the words with spaces. */
function wordCodec(): { encode(s: string): number[]; decode(ids: readonly number[]): string } {
  const ids = new Map<string, number>();
  const words: string[] = [];
  return {
    encode: (s) =>
      s
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => {
          if (!ids.has(w)) {
            ids.set(w, words.length + 10);
            words.push(w);
          }
          return ids.get(w) as number;
        }),
    decode: (seq) => seq.map((i) => words[i - 10] ?? '?').join(' '),
  };
}

/**
 * Drives `onStep` as a decoder would: batches of `batchSize` pieces (shortest first), each decoding step adding one
 * id to every row that is not done; a piece's output is its source ids (without tag and </s>) reversed.
 */
function decode(
  pieces: number[][],
  batchSize: number,
  onStep: (rows: readonly number[], partial: readonly number[][]) => void,
): number[][] {
  const outs = pieces.map((p) => p.slice(1, -1).reverse());
  for (const rows of lengthBatches(pieces, batchSize)) {
    const steps = Math.max(...rows.map((j) => (outs[j] as number[]).length));
    for (let t = 1; t <= steps; t++)
      onStep(
        rows,
        rows.map((j) => (outs[j] as number[]).slice(0, t)),
      );
  }
  return outs;
}

describe('SourcePieces.onStep stable prefixes', () => {
  const cfg = { maxLen: 8, langTagIds: { de: 3 }, eosId: 2 } as unknown as ModelConfig;
  // 6 tokens per piece at most: the first text (13 words) splits into pieces of 6, 6 and 1 words. Length-sorted
  // batches decode its last piece first, then "alpha beta", then its first two pieces: in one batch of 2, in two
  // batches of 1 (only then is the first piece known to be finished while the second one decodes).
  const texts = ['one two three four five six. seven eight nine ten eleven twelve. thirteen.', 'alpha beta', ''];

  /** The first text's output of its first k pieces, joined as the final output joins them. */
  const wholePieces = (sp: ReturnType<typeof sourcePieces>, outs: number[][], tok: ReturnType<typeof wordCodec>) => {
    const own = outs.filter((_, j) => sp.owner[j] === 0).map((ids) => tok.decode(ids));
    return own.map((_, k) => own.slice(0, k).join(' '));
  };

  for (const batchSize of [1, 2, 16]) {
    it(`greedy: every stable prefix starts the final output and grows with it (batch ${batchSize})`, () => {
      const tok = wordCodec();
      const sp = sourcePieces(texts, 'de', cfg, tok);
      expect(sp.owner).toEqual([0, 0, 0, 1]);
      const seen: string[][] = [];
      const outs = decode(
        sp.pieces,
        batchSize,
        sp.onStep((_, stable) => seen.push(stable), true),
      );
      const final = sp.join(outs);
      expect(final[0]?.split(' ').sort()).toEqual(texts[0]?.split(' ').sort());
      for (const stable of seen) {
        expect(stable.length).toBe(texts.length);
        stable.forEach((s, i) => {
          expect(final[i]?.startsWith(s), `"${s}" does not start "${final[i]}"`).toBe(true);
        });
      }
      for (let k = 1; k < seen.length; k++) {
        seen[k]?.forEach((s, i) => {
          expect(s.startsWith(seen[k - 1]?.[i] as string)).toBe(true);
        });
      }
      // The first piece's live output is stable as it grows (one word after the first step of its batch) ...
      const firstPiece = tok.decode(outs[sp.owner.indexOf(0)] as number[]);
      expect(seen.some((s) => s[0] === firstPiece.split(' ')[0])).toBe(true);
      // ... and the second piece's once the first one's batch is over (batches of 1 only).
      const past = seen.some((s) => (s[0] as string).length > firstPiece.length);
      expect(past).toBe(batchSize === 1);
    });
  }

  it('beam search: only finished pieces are stable (the best live hypothesis may still change)', () => {
    const tok = wordCodec();
    const sp = sourcePieces(texts, 'de', cfg, tok);
    const seen: string[][] = [];
    const outs = decode(
      sp.pieces,
      1,
      sp.onStep((_, stable) => seen.push(stable), false),
    );
    const final = sp.join(outs);
    for (const stable of seen) {
      stable.forEach((s, i) => {
        expect(final[i]?.startsWith(s)).toBe(true);
      });
    }
    // One piece per batch: the first text's stable part is whole pieces only: nothing, then its first piece while
    // the second one decodes (its last piece, decoded first, waits for the two before it).
    const firstText = [...new Set(seen.map((s) => s[0] as string))];
    expect(firstText).toEqual(wholePieces(sp, outs, tok).slice(0, 2));
  });
});
