// Corpus-level BLEU (Papineni et al. 2002) exactly as sacrebleu 2.x `BLEU` with its defaults: the mteval-v13a
// tokenizer ('13a'; 'zh' for Chinese), n-grams up to order 4, 'exp' smoothing, brevity penalty, no effective order.
// Plain TS, browser-safe.
import { pyRstrip, pySplit, pyStrip } from './text';

/** sacrebleu tokenizers taskmoe implements. */
export type BleuTokenizer = '13a' | 'zh' | 'none';

/** Options of {@link corpusBleu}; the defaults are sacrebleu's. */
export interface BleuOptions {
  /** Default '13a'. Use {@link bleuTokenizerFor} to pick it from the target language. */
  tokenize?: BleuTokenizer;
  /** Highest n-gram order. Default 4. */
  maxOrder?: number;
}

/** A corpus BLEU score with its sufficient statistics (as sacrebleu's `BLEUScore`). */
export interface BleuScore {
  /** The score in [0, 100]. */
  score: number;
  /** Matched n-grams per order. */
  counts: number[];
  /** Hypothesis n-grams per order. */
  totals: number[];
  /** Smoothed precisions per order, in percent. */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** Hypothesis tokens. */
  sysLen: number;
  /** Reference tokens. */
  refLen: number;
}

/** The tokenizer taskmoe's evaluation uses for a target language: 'zh' for Chinese (as training/eval), else '13a'. */
export function bleuTokenizerFor(lang: string): BleuTokenizer {
  return lang.toLowerCase().startsWith('zh') ? 'zh' : '13a';
}

// sacrebleu's TokenizerRegexp: the language-dependent part of mteval-v13a, assuming Western languages.
const SYMBOLS = /([{-~[-` -&(-+:-@/])/gu;
const PERIOD_COMMA_AFTER_NON_DIGIT = /([^0-9])([.,])/gu;
const PERIOD_COMMA_BEFORE_NON_DIGIT = /([.,])([^0-9])/gu;
const DASH_AFTER_DIGIT = /([0-9])(-)/gu;

function tokenizeRegexp(line: string): string {
  const s = line
    .replace(SYMBOLS, ' $1 ')
    .replace(PERIOD_COMMA_AFTER_NON_DIGIT, '$1 $2 ')
    .replace(PERIOD_COMMA_BEFORE_NON_DIGIT, ' $1 $2')
    .replace(DASH_AFTER_DIGIT, '$1 $2 ');
  return pySplit(s).join(' ');
}

/** sacrebleu's '13a' tokenizer (mteval-v13a.pl). */
export function tokenize13a(line: string): string {
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) {
    s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  return tokenizeRegexp(` ${s} `);
}

// The code points sacrebleu's TokenizerZh treats as Chinese. Its table compares one-character strings with
// ranges written as '\u20000'..'\u2a6d6' (meant as Extension B, read by Python as two-character strings), which
// makes U+2001..U+2A6D (general punctuation, arrows, symbols) "Chinese" and astral ideographs not; these are the
// ranges that table really gives, merged, so scores match sacrebleu's.
const ZH_RANGES: readonly (readonly [number, number])[] = [
  [0x2001, 0x2a6d],
  [0x2e80, 0x2fdf],
  [0x2ff0, 0x303f],
  [0x3100, 0x312f],
  [0x31a0, 0x31ef],
  [0x3200, 0x4db5],
  [0x4e00, 0x9fbb],
  [0xf900, 0xfa2d],
  [0xfa30, 0xfa6a],
  [0xfa70, 0xfad9],
  [0xfe10, 0xfe1f],
  [0xfe30, 0xfe4f],
  [0xff00, 0xffef],
];

function isChineseChar(cp: number): boolean {
  for (const [a, b] of ZH_RANGES) if (cp >= a && cp <= b) return true;
  return false;
}

/** sacrebleu's 'zh' tokenizer: each Chinese character is a token, the rest is tokenized as '13a' (regexp part). */
export function tokenizeZh(line: string): string {
  let s = '';
  for (const ch of pyStrip(line)) s += isChineseChar(ch.codePointAt(0) as number) ? ` ${ch} ` : ch;
  return tokenizeRegexp(s);
}

function tokenizer(name: BleuTokenizer): (line: string) => string {
  if (name === 'zh') return tokenizeZh;
  if (name === '13a') return tokenize13a;
  return (s) => s;
}

/** Word n-gram counts of orders 1..maxOrder (keys carry no order: an n-gram holds n - 1 spaces). */
function wordNgrams(line: string, maxOrder: number): { counts: Map<string, number>; len: number } {
  const tokens = pySplit(line);
  const counts = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const g = tokens.slice(i, i + n).join(' ');
      counts.set(g, (counts.get(g) ?? 0) + 1);
    }
  }
  return { counts, len: tokens.length };
}

/** BLEU from summed statistics with 'exp' smoothing (sacrebleu `BLEU.compute_bleu`). */
export function bleuFromStats(
  counts: readonly number[],
  totals: readonly number[],
  sysLen: number,
  refLen: number,
): BleuScore {
  const maxOrder = counts.length;
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(maxOrder).fill(0);
  const base = { counts: [...counts], totals: [...totals], precisions, bp, sysLen, refLen };
  if (!counts.some((c) => c !== 0)) return { score: 0, ...base };
  let smooth = 1;
  for (let n = 0; n < maxOrder; n++) {
    const total = totals[n] as number;
    if (total === 0) break;
    const correct = counts[n] as number;
    if (correct === 0) {
      smooth *= 2;
      precisions[n] = 100 / (smooth * total);
    } else {
      precisions[n] = (100 * correct) / total;
    }
  }
  // sacrebleu floors log(0) at -9999999999, which makes the score 0.
  const logSum = precisions.reduce((s, p) => s + (p === 0 ? -9999999999 : Math.log(p)), 0);
  return { score: bp * Math.exp(logSum / maxOrder), ...base };
}

/**
 * BLEU of hypotheses against one reference each (sacrebleu `corpus_bleu(hyps, [refs], tokenize)`). Throws a
 * RangeError if the two lists differ in length.
 */
export function corpusBleu(hyps: readonly string[], refs: readonly string[], opts: BleuOptions = {}): BleuScore {
  if (hyps.length !== refs.length) {
    throw new RangeError(`BLEU: ${hyps.length} hypotheses but ${refs.length} references; give one reference per line`);
  }
  const tok = tokenizer(opts.tokenize ?? '13a');
  const maxOrder = opts.maxOrder ?? 4;
  const counts = new Array<number>(maxOrder).fill(0);
  const totals = new Array<number>(maxOrder).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hyps.forEach((hyp, i) => {
    const r = wordNgrams(tok(pyRstrip(refs[i] as string)), maxOrder);
    const h = wordNgrams(tok(pyRstrip(hyp)), maxOrder);
    sysLen += h.len;
    refLen += r.len;
    for (const [g, c] of h.counts) {
      const n = g.split(' ').length - 1;
      totals[n] = (totals[n] as number) + c;
      const rc = r.counts.get(g);
      if (rc !== undefined) counts[n] = (counts[n] as number) + Math.min(c, rc);
    }
  });
  return bleuFromStats(counts, totals, sysLen, refLen);
}
