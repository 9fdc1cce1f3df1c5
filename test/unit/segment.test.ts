// Segmentation and batching under hostile input (issue 16 findings 1, 2, 10, 11): bounded, linear work and typed
// errors; sentence boundaries from Intl.Segmenter.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lengthBatches } from '../../src/engine/batching';
import { checkTranslateCall, TRANSLATE_LIMITS } from '../../src/engine/options';
import { segment, splitSentences } from '../../src/engine/segment';
import { InvalidOptionError, LimitExceededError } from '../../src/errors';
import { SentencePieceTokenizer } from '../../src/tokenizer';

const tok = SentencePieceTokenizer.fromBytes(new Uint8Array(readFileSync('models/task_task/spm.model')));
const encode = (s: string): number[] => tok.encode(s);
const MAX = 62; // the shipped models' max_len 64 minus the language tag and </s>

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

/** Paragraphs and their sentences as a reader splits them; used to compare sentence splitters. */
const SPLITS: Array<[string, number]> = [
  ['Open the file. Save it before you close the window.', 2],
  ['The value is 3.5 percent of the total. Click OK.', 2],
  ['Edit the file config.txt and restart. Then check the log.', 2],
  ['Use a separator, e.g. a comma or a tab. Then click Next.', 2],
  ['Do you want to replace it? Click Yes! Or click No.', 3],
  ['Choose Format - Cells. The dialog opens.', 2],
  ['Version 2.0.1 fixes the bug. Update now.', 2],
  ['"Where are you going?" he asked. Nobody answered.', 2],
  ['The heir to the throne (the prince.) waited. The king slept.', 2],
  ['...and then it was over. The end.', 2],
  ['保存文档。关闭窗口！', 2],
  ['Das ist gut. Wirklich gut.', 2],
  ['Visit www.example.com for details. It is free.', 2],
  ['Returns 0.00490825806749606-1.00070953606723i. Done.', 2],
];

/** The regex splitter segment.ts used before Intl.Segmenter, kept here to compare against. */
const regexSplit = (t: string): string[] => t.match(/[^.!?。！？;]+[.!?。！？;]*\s*/gu) ?? [t];

describe('sentence splitting', () => {
  it('splits the reference paragraphs better than the former regex and keeps every character', () => {
    const wrong = (split: (t: string) => string[]): string[] =>
      SPLITS.filter(([text, n]) => split(text).length !== n).map(([text]) => text);
    for (const [text] of SPLITS) expect(splitSentences(text).join('')).toBe(text);
    const icu = wrong(splitSentences);
    const regex = wrong(regexSplit);
    // Unicode sentence boundaries break after ?" even before a lowercase word; the regex does too.
    expect(icu).toEqual(['"Where are you going?" he asked. Nobody answered.']);
    expect(regex.length).toBeGreaterThanOrEqual(7);
    expect(regex).toContain('"Where are you going?" he asked. Nobody answered.');
  });
});

describe('segment', () => {
  it('rejects a piece size below 1 token at once (finding 1: max_len 2 looped on i += 0)', () => {
    for (const bad of [0, -1, Number.NaN, 0.5]) {
      const { ms } = timed(() => expect(() => segment('a '.repeat(500), encode, bad)).toThrow(LimitExceededError));
      expect(ms).toBeLessThan(2000);
    }
  });

  it('splits a 20,000-character line without punctuation or spaces in linear time (finding 10)', () => {
    const small = 'x'.repeat(2_000);
    const text = 'abcdefghij'.repeat(2_000);
    const a = timed(() => segment(small, encode, MAX));
    const b = timed(() => segment(text, encode, MAX));
    expect(b.ms).toBeLessThan(10_000);
    for (const p of b.value) expect(p.length).toBeLessThanOrEqual(MAX);
    expect(b.value.map((p) => tok.decode(p)).join('')).toBe(text);
    // 10x the text: well under the 100x a quadratic splitter would take.
    expect(b.ms).toBeLessThan(Math.max(40 * a.ms, 3000));
  });

  it('splits long texts of words, of clauses and of CJK characters into pieces that fit, dropping nothing', () => {
    const words = Array.from({ length: 3000 }, (_, i) => `word${i % 97}`).join(' ');
    const clauses = Array.from({ length: 400 }, (_, i) => `item ${i} is ready`).join('; ');
    const cjk = '保存文档关闭窗口'.repeat(800);
    for (const text of [words, clauses, cjk]) {
      const { value, ms } = timed(() => segment(text, encode, MAX));
      expect(ms).toBeLessThan(10_000);
      expect(value.length).toBeGreaterThan(1);
      for (const p of value) expect(p.length).toBeLessThanOrEqual(MAX);
      const back = value.map((p) => tok.decode(p)).join(' ');
      expect(back.replace(/\s+/g, '')).toBe(text.replace(/\s+/g, ''));
    }
  });

  it('keeps the leading punctuation of an over-long text (finding 11)', () => {
    const text = `... ${'Open the file and save the document before you close the window. '.repeat(20)}`;
    const pieces = segment(text, encode, MAX);
    expect(pieces.length).toBeGreaterThan(1);
    expect(tok.decode(pieces[0] as number[]).startsWith('...')).toBe(true);
  });

  it('stays within an RSS bound on a 100,000-character text', () => {
    const rss0 = process.memoryUsage().rss;
    const text = 'Lorem ipsum dolor sit amet '.repeat(3700);
    const { value, ms } = timed(() => segment(text, encode, MAX));
    expect(ms).toBeLessThan(20_000);
    expect(value.length).toBeGreaterThan(100);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(512 * 2 ** 20);
  });
});

describe('batching and options', () => {
  it('rejects batch sizes that would stall the batching loop (finding 2)', () => {
    for (const bad of [0, -1, Number.NaN, 0.5, Number.POSITIVE_INFINITY, 1e9]) {
      const { ms } = timed(() => expect(() => lengthBatches([[1, 2], [3]], bad)).toThrow(InvalidOptionError));
      expect(ms).toBeLessThan(2000);
    }
    expect(lengthBatches([[1, 2], [3], [4, 5, 6]], 2)).toEqual([[1, 0], [2]]);
  });

  it.each([
    ['texts null', null, { to: 'de' }, InvalidOptionError, /texts/],
    ['a number in texts', ['a', 3], { to: 'de' }, InvalidOptionError, /texts\[1\]/],
    ['null in texts', [null], { to: 'de' }, InvalidOptionError, /texts\[0\]/],
    ['beam 0', ['a'], { to: 'de', beam: 0 }, InvalidOptionError, /beam/],
    ['beam -1', ['a'], { to: 'de', beam: -1 }, InvalidOptionError, /beam/],
    ['beam NaN', ['a'], { to: 'de', beam: Number.NaN }, InvalidOptionError, /beam/],
    ['beam 1.5', ['a'], { to: 'de', beam: 1.5 }, InvalidOptionError, /beam/],
    ['beam 9', ['a'], { to: 'de', beam: 9 }, InvalidOptionError, /beam/],
    ['maxSteps 0', ['a'], { to: 'de', maxSteps: 0 }, InvalidOptionError, /maxSteps/],
    ['maxSteps NaN', ['a'], { to: 'de', maxSteps: Number.NaN }, InvalidOptionError, /maxSteps/],
    ['batchSize 0.5', ['a'], { to: 'de', batchSize: 0.5 }, InvalidOptionError, /batchSize/],
    ['to missing', ['a'], {}, InvalidOptionError, /"to"/],
    ['a signal that is not one', ['a'], { to: 'de', signal: 3 }, InvalidOptionError, /signal/],
    [
      'too many texts',
      new Array(TRANSLATE_LIMITS.textsPerCall + 1).fill('a'),
      { to: 'de' },
      LimitExceededError,
      /textsPerCall/,
    ],
    [
      'an oversize text',
      ['x'.repeat(TRANSLATE_LIMITS.charactersPerText + 1)],
      { to: 'de' },
      LimitExceededError,
      /charactersPerText/,
    ],
  ])('rejects %s with a typed error', (_, texts, opts, cls, re) => {
    let err: unknown;
    try {
      checkTranslateCall(texts, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(cls);
    expect((err as { code: string }).code).toMatch(/^(invalid-option|limit-exceeded)$/);
    expect((err as Error).message).toMatch(re);
  });

  it('accepts the documented options', () => {
    expect(() => checkTranslateCall(['a', ''], { to: 'de', beam: 8, batchSize: 16, maxSteps: 64 })).not.toThrow();
  });
});
