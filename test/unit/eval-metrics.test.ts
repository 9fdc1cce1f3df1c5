// chrF2 and BLEU against sacrebleu 2.x: test/fixtures/eval/metrics.json is written by make-fixture.py next to it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type BleuTokenizer, bleuTokenizerFor, corpusBleu, tokenize13a, tokenizeZh } from '../../src/eval/bleu';
import { corpusChrf } from '../../src/eval/chrf';

interface Corpus {
  name: string;
  lang: string;
  tokenize: BleuTokenizer;
  hyps: string[];
  refs: string[];
  chrF2: number;
  BLEU: number;
  bleu_counts: number[];
  bleu_totals: number[];
  sys_len: number;
  ref_len: number;
}

const fixture = JSON.parse(readFileSync('test/fixtures/eval/metrics.json', 'utf8')) as {
  sacrebleu: string;
  corpora: Corpus[];
};
const TOL = 0.01;

describe(`metrics against sacrebleu ${fixture.sacrebleu}`, () => {
  it('has corpora with real sentences in several languages', () => {
    expect(fixture.corpora.length).toBeGreaterThanOrEqual(10);
    for (const lang of ['de', 'ru', 'zh-cn']) expect(fixture.corpora.some((c) => c.lang === lang)).toBe(true);
  });

  let worst = 0;
  for (const c of fixture.corpora) {
    it(`${c.name}: chrF2 and BLEU (${c.tokenize})`, () => {
      expect(bleuTokenizerFor(c.lang)).toBe(c.tokenize === 'zh' ? 'zh' : '13a');
      const chrf = corpusChrf(c.hyps, c.refs);
      const bleu = corpusBleu(c.hyps, c.refs, { tokenize: c.tokenize });
      expect(bleu.counts).toEqual(c.bleu_counts);
      expect(bleu.totals).toEqual(c.bleu_totals);
      expect([bleu.sysLen, bleu.refLen]).toEqual([c.sys_len, c.ref_len]);
      const d = Math.max(Math.abs(chrf.score - c.chrF2), Math.abs(bleu.score - c.BLEU));
      worst = Math.max(worst, d);
      expect(Math.abs(chrf.score - c.chrF2)).toBeLessThanOrEqual(TOL);
      expect(Math.abs(bleu.score - c.BLEU)).toBeLessThanOrEqual(TOL);
      expect(chrf.name).toBe('chrF2');
    });
  }
  it('reports the largest difference', () => {
    console.log(
      `[taskmoe] metrics: max |ts - sacrebleu| = ${worst.toExponential(2)} over ${fixture.corpora.length} corpora`,
    );
  });
});

describe('tokenizers', () => {
  it('13a splits punctuation but keeps decimal points and thousands separators', () => {
    expect(tokenize13a('Tom &amp; Jerry: 3.5 or 1,000 (2-3 days).')).toBe(
      'Tom & Jerry : 3.5 or 1,000 ( 2 - 3 days ) .',
    );
  });
  it('zh splits Chinese characters', () => {
    expect(tokenizeZh(' 版本3.5的文件。 ')).toBe('版 本 3.5 的 文 件 。');
  });
  it('rejects corpora of different lengths', () => {
    expect(() => corpusChrf(['a'], [])).toThrow(RangeError);
    expect(() => corpusBleu(['a'], ['b', 'c'])).toThrow(RangeError);
  });
  it('scores an empty corpus 0', () => {
    expect(corpusChrf([], []).score).toBe(0);
    expect(corpusBleu([], []).score).toBe(0);
  });
});
