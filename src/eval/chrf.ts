// Corpus-level chrF (Popović 2015) exactly as sacrebleu 2.x `CHRF` with its defaults: character n-grams of order
// 1..6, no word n-grams, beta 2, whitespace removed, effective-order averaging (not epsilon smoothing).
// Plain TS, browser-safe.
import { pySplit } from './text';

/** Options of {@link corpusChrf}; the defaults are sacrebleu's (chrF2). */
export interface ChrfOptions {
  /** Character n-gram order. Default 6. */
  charOrder?: number;
  /** Weight of recall against precision. Default 2. */
  beta?: number;
}

/** A corpus chrF score and the statistics it came from. */
export interface ChrfScore {
  /** The score in [0, 100]. */
  score: number;
  /** `chrF<beta>`, e.g. `chrF2`. */
  name: string;
  /** Per order n = 1..charOrder: [hypothesis n-grams, reference n-grams, matches], summed over the corpus. */
  stats: [number, number, number][];
}

/** Counts of the character n-grams of order 1..maxOrder of `line`, counted by code point, whitespace removed. */
export function charNgrams(line: string, maxOrder: number): Map<string, number>[] {
  const chars = Array.from(pySplit(line).join(''));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= chars.length; i++) {
      const g = chars.slice(i, i + n).join('');
      m.set(g, (m.get(g) ?? 0) + 1);
    }
    out.push(m);
  }
  return out;
}

function sumValues(m: Map<string, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}

/** [hyp, ref, match] counts of one sentence for each order (sacrebleu `_get_match_statistics`). */
export function chrfSegmentStats(hyp: string, ref: string, charOrder = 6): [number, number, number][] {
  const h = charNgrams(hyp, charOrder);
  const r = charNgrams(ref, charOrder);
  return h.map((hm, n) => {
    const rm = r[n] as Map<string, number>;
    let hypCount = 0;
    let match = 0;
    for (const [g, c] of hm) {
      hypCount += c;
      const rc = rm.get(g);
      if (rc !== undefined) match += Math.min(c, rc);
    }
    // A reference without n-grams of this order does not count the hypothesis's either.
    return [rm.size > 0 ? hypCount : 0, sumValues(rm), match];
  });
}

/** The F-score of summed statistics, averaging precision and recall over the orders both sides have. */
export function chrfFromStats(stats: readonly (readonly [number, number, number])[], beta = 2): number {
  const factor = beta ** 2;
  let avgPrec = 0;
  let avgRec = 0;
  let effectiveOrder = 0;
  for (const [nHyp, nRef, nMatch] of stats) {
    if (nHyp > 0 && nRef > 0) {
      avgPrec += nMatch / nHyp;
      avgRec += nMatch / nRef;
      effectiveOrder++;
    }
  }
  if (effectiveOrder === 0) return 0;
  avgPrec /= effectiveOrder;
  avgRec /= effectiveOrder;
  if (avgPrec + avgRec === 0) return 0;
  const score = ((1 + factor) * avgPrec * avgRec) / (factor * avgPrec + avgRec);
  return 100 * score;
}

/**
 * chrF of hypotheses against one reference each (sacrebleu `corpus_chrf(hyps, [refs])`). Throws a RangeError if
 * the two lists differ in length.
 */
export function corpusChrf(hyps: readonly string[], refs: readonly string[], opts: ChrfOptions = {}): ChrfScore {
  if (hyps.length !== refs.length) {
    throw new RangeError(`chrF: ${hyps.length} hypotheses but ${refs.length} references; give one reference per line`);
  }
  const charOrder = opts.charOrder ?? 6;
  const beta = opts.beta ?? 2;
  const stats: [number, number, number][] = Array.from({ length: charOrder }, () => [0, 0, 0]);
  hyps.forEach((hyp, i) => {
    chrfSegmentStats(hyp, refs[i] as string, charOrder).forEach((s, n) => {
      const t = stats[n] as [number, number, number];
      t[0] += s[0];
      t[1] += s[1];
      t[2] += s[2];
    });
  });
  return { score: chrfFromStats(stats, beta), name: `chrF${beta}`, stats };
}
