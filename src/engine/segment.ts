// Splitting a text too long for the model into pieces of at most `maxTokens` tokens, in time linear in the text's
// length: every character is encoded a bounded number of times, whatever the text holds (no punctuation, no spaces).
// Sentences come from Intl.Segmenter; a sentence still too long is split at clause marks (; ；), then at spaces,
// then at grapheme boundaries, and as a last resort its token ids are cut into runs.
import { LimitExceededError } from '../errors';

type Encode = (s: string) => number[];

const CLAUSE_MARKS = /[^;；]+[;；]*\s*|[;；]+\s*/gu;

let sentenceSegmenter: Intl.Segmenter | null | undefined;
let graphemeSegmenter: Intl.Segmenter | null | undefined;

function segmenter(granularity: 'sentence' | 'grapheme'): Intl.Segmenter | null {
  if (typeof Intl === 'undefined' || typeof Intl.Segmenter !== 'function') return null;
  if (granularity === 'sentence') {
    sentenceSegmenter ??= new Intl.Segmenter(undefined, { granularity });
    return sentenceSegmenter;
  }
  graphemeSegmenter ??= new Intl.Segmenter(undefined, { granularity });
  return graphemeSegmenter;
}

/**
 * The sentences of `text`, each with its trailing spaces, concatenating back to `text` exactly. Uses
 * `Intl.Segmenter` (Unicode sentence boundaries: no split inside "3.5", "file.txt" or "e.g. the"); where it is
 * missing, a split after `.`, `!`, `?`, `。`, `！`, `？` followed by a space or the end.
 */
export function splitSentences(text: string): string[] {
  const seg = segmenter('sentence');
  if (seg) return Array.from(seg.segment(text), (s) => s.segment);
  const out = text.match(/[^.!?。！？]*(?:[.!?]+(?:\s+|$)|[。！？]+\s*)|[^.!?。！？]+$/gu) ?? [];
  const rest = text.slice(out.join('').length);
  return rest ? [...out, rest] : out;
}

function graphemes(text: string): string[] {
  const seg = segmenter('grapheme');
  return seg ? Array.from(seg.segment(text), (s) => s.segment) : Array.from(text);
}

/**
 * Splits a text into pieces of at most `maxTokens` token ids for translation: whole sentences packed together while
 * they fit; a sentence too long is split at `;`, then between words, then between characters. Nothing is dropped
 * (leading punctuation included) and the work is linear in the text's length.
 */
export function segment(text: string, encode: Encode, maxTokens: number): number[][] {
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 1) {
    throw new LimitExceededError('tokensPerSegment', maxTokens, 1, 'Splitting a text', {
      message: `Cannot split a text into pieces of ${maxTokens} tokens: the model's max_len must leave at least 1 token per piece (max_len >= 3).`,
    });
  }
  const ids = encode(text);
  if (ids.length <= maxTokens) return [ids];
  const pieces: number[][] = [];
  let cur: number[] = [];
  const flush = (): void => {
    if (cur.length > 0) pieces.push(cur);
    cur = [];
  };
  // Appends the ids of one unit (encoded once), packing units while they fit; a unit longer than a piece is split
  // by the next finer splitter.
  const add = (unit: string, level: number): void => {
    const t = unit.trim();
    if (t === '') return;
    const e = encode(t);
    if (e.length === 0) return;
    if (e.length <= maxTokens) {
      if (cur.length + e.length > maxTokens) flush();
      for (const x of e) cur.push(x);
      return;
    }
    if (level === 0) {
      for (const c of t.match(CLAUSE_MARKS) ?? [t]) add(c, 1);
    } else if (level === 1) {
      const words = t.split(/(?<=\s)/u);
      if (words.length > 1) for (const w of words) add(w, 2);
      else byCharacters(t);
    } else if (level === 2) {
      byCharacters(t);
    } else {
      // One grapheme cluster longer than a piece: cut its ids.
      flush();
      for (let i = 0; i < e.length; i += maxTokens) pieces.push(e.slice(i, i + maxTokens));
    }
  };
  // A run without spaces: chunks of graphemes whose encoding fits, the chunk size adapting (halved when a chunk is
  // too long, doubled up to maxTokens after a fit), so each grapheme is encoded O(1) times on average.
  const byCharacters = (t: string): void => {
    const g = graphemes(t);
    let n = maxTokens;
    let i = 0;
    while (i < g.length) {
      const take = Math.max(1, Math.min(n, g.length - i));
      const chunk = g.slice(i, i + take).join('');
      const e = encode(chunk);
      if (e.length > maxTokens && take > 1) {
        n = Math.max(1, take >> 1);
        continue;
      }
      if (e.length > maxTokens) add(chunk, 3);
      else {
        if (cur.length + e.length > maxTokens) flush();
        for (const x of e) cur.push(x);
      }
      i += take;
      n = Math.min(maxTokens, take * 2);
    }
  };
  for (const s of splitSentences(text)) add(s, 0);
  flush();
  return pieces;
}
