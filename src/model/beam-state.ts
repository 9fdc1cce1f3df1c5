// The CPU side of beam search (model.py's `beam`), shared by the WebGPU search (model/search.ts) and the WASM engine
// (engine/ort-model.ts): hypotheses, scores, finished lists and the stopping rule. The backend computes, for every
// live row b·K + k, the top-2K log-probabilities of the next token; this decides which rows survive and with which
// tokens, and the backend reorders its KV cache accordingly.

/** Options of {@link BeamState}. */
export interface BeamStateOptions {
  /** Sentences. */
  B: number;
  /** Beam width. */
  K: number;
  /** Vocabulary size. */
  V: number;
  /** </s>: ends a hypothesis. */
  eosId: number;
  /** Decoding steps at most; the last step finishes every live hypothesis. */
  steps: number;
  /** GNMT length penalty exponent ((5 + len) / 6)^alpha. Default 0.6. */
  alpha?: number;
}

/** What one {@link BeamState.advance} decided. */
export interface BeamStep {
  /** Every sentence has stopped: decode no further step. */
  done: boolean;
  /** For each new row b·K + k, the old row its cache comes from. */
  rows: number[];
  /** For each new row, the token fed to the next step. */
  tokens: number[];
}

/** Beam search bookkeeping for B sentences of K beams each (rows b·K + k). */
export class BeamState {
  readonly B: number;
  readonly K: number;
  /** Width of the per-row top-k the backend should return: min(2K, V). */
  readonly kk: number;
  private readonly V: number;
  private readonly eosId: number;
  private readonly steps: number;
  private readonly alpha: number;
  private score: number[][];
  private hyps: number[][][];
  private readonly finished: Array<Array<[number, number[]]>>;

  constructor(o: BeamStateOptions) {
    if (!Number.isInteger(o.K) || o.K < 1) throw new RangeError(`beam must be a positive integer, got ${o.K}`);
    this.B = o.B;
    this.K = o.K;
    this.V = o.V;
    this.kk = Math.min(2 * o.K, o.V);
    this.eosId = o.eosId;
    this.steps = o.steps;
    this.alpha = o.alpha ?? 0.6;
    this.score = Array.from({ length: o.B }, () => Array.from({ length: o.K }, (_, k) => (k === 0 ? 0 : -Infinity)));
    this.hyps = Array.from({ length: o.B }, () => Array.from({ length: o.K }, () => []));
    this.finished = Array.from({ length: o.B }, () => []);
  }

  private lp(len: number): number {
    return ((5 + len) / 6) ** this.alpha;
  }

  /**
   * Step `t`: `vals` and `idx` hold, for each row b·K + k, its top-kk log-probabilities (descending, ties to the lower
   * token id) and their token ids ([B·K, kk] row-major).
   */
  advance(t: number, vals: ArrayLike<number>, idx: ArrayLike<number>): BeamStep {
    const { B, K, V, kk } = this;
    const newScore: number[][] = [];
    const srcBeam: number[][] = [];
    const newTok: number[][] = [];
    const newHyps: number[][][] = [];
    for (let b = 0; b < B; b++) {
      // Candidates score[b][k] + logp over the union of per-beam top-2K, ordered as a global top-2K.
      const cand: Array<{ s: number; k: number; tok: number }> = [];
      for (let k = 0; k < K; k++) {
        const base = (this.score[b] as number[])[k] as number;
        for (let j = 0; j < kk; j++) {
          const r = (b * K + k) * kk + j;
          cand.push({ s: Math.fround(base + (vals[r] as number)), k, tok: idx[r] as number });
        }
      }
      cand.sort((x, y) => y.s - x.s || x.k * V + x.tok - (y.k * V + y.tok));
      const ns = new Array<number>(K).fill(-Infinity);
      const sb = new Array<number>(K).fill(0);
      const nt = new Array<number>(K).fill(this.eosId);
      const nh: number[][] = Array.from({ length: K }, () => []);
      let j = 0;
      for (const c of cand.slice(0, 2 * K)) {
        if (c.s === -Infinity) break;
        const prev = (this.hyps[b] as number[][])[c.k] as number[];
        if (c.tok === this.eosId || t === this.steps - 1) {
          const seq = c.tok === this.eosId ? [...prev] : [...prev, c.tok];
          (this.finished[b] as Array<[number, number[]]>).push([c.s / this.lp(seq.length + 1), seq]);
          continue;
        }
        if (j < K) {
          ns[j] = c.s;
          sb[j] = c.k;
          nt[j] = c.tok;
          nh[j] = [...prev, c.tok];
          j++;
        }
      }
      const fin = this.finished[b] as Array<[number, number[]]>;
      if (fin.length >= K) {
        const bestFin = Math.max(...fin.map((f) => f[0]));
        const bestLive = Math.max(...ns) / this.lp(this.steps);
        if (bestLive < bestFin) ns.fill(-Infinity);
      }
      newScore.push(ns);
      srcBeam.push(sb);
      newTok.push(nt);
      newHyps.push(nh);
    }
    const done = newScore.every((r) => r.every((s) => s === -Infinity));
    const rows = Array.from(
      { length: B * K },
      (_, i) => Math.floor(i / K) * K + ((srcBeam[Math.floor(i / K)] as number[])[i % K] as number),
    );
    if (!done) {
      this.score = newScore;
      this.hyps = newHyps;
    }
    return { done, rows, tokens: newTok.flat() };
  }

  /** The best live hypothesis of each sentence (for streaming partial output). */
  best(): number[][] {
    return this.hyps.map((h, b) => {
      const s = this.score[b] as number[];
      return h[s.indexOf(Math.max(...s))] ?? [];
    });
  }

  /** The best finished hypothesis of each sentence (length-penalised score), empty where none finished. */
  results(): number[][] {
    return this.finished.map((f) => (f.length ? f.reduce((a, b) => (b[0] > a[0] ? b : a))[1] : []));
  }
}
