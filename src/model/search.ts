// Greedy and beam search over TransformerModel, ported from training/taskmoe_train/model.py (greedy, beam) so that
// the engine's translations equal PyTorch's. The GPU computes logits, argmax and per-beam top-k; the CPU keeps
// hypotheses and decides when to stop.
import { type GpuContext, TaskmoeError, type Tensor } from '../gpu';
import { argmax, topk } from '../kernels/argmax';
import { softmax } from '../kernels/softmax';
import type { SourceBatch, Trace, TransformerModel, Weights } from './transformer';

/** Decoding was cancelled through an AbortSignal. */
export class TranslationAbortedError extends TaskmoeError {
  constructor() {
    super('aborted', 'The translation was aborted.');
  }
}

export interface SearchOptions {
  /** Decoding steps at most (the model's max_len caps it). */
  maxSteps: number;
  signal?: AbortSignal;
  /** Called after each step with the tokens chosen so far for each sentence (greedy) or the best live beam. */
  onStep?: (partial: number[][]) => void;
  /** Collects MoE gate outputs of the encoder (and of decoder steps when `traceDecoder`). */
  trace?: Trace;
  traceDecoder?: boolean;
  /** Decode exactly maxSteps steps, ignoring </s> (throughput benchmarks of random-weight models). */
  forceSteps?: boolean;
}

export interface BeamOptions extends SearchOptions {
  beam: number;
  /** GNMT length penalty exponent ((5 + len) / 6)^alpha. */
  alpha?: number;
}

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new TranslationAbortedError();
}

/** Greedy decoding of a padded batch; returns ids without <s> and </s>. */
export async function greedySearch(
  ctx: GpuContext,
  model: TransformerModel,
  w: Weights,
  src: SourceBatch,
  opts: SearchOptions,
): Promise<number[][]> {
  const cfg = model.cfg;
  const B = src.B;
  const steps = Math.min(opts.maxSteps, cfg.maxLen);
  const rec = ctx.recorder();
  const enc = model.encode(rec, w, src, opts.trace);
  const rowTasks = ctx.upload(Uint32Array.from(src.taskIds), [B], 'u32');
  const state = model.startDecoder(rec, w, enc, src.lengths, rowTasks, Math.max(1, steps));
  enc.dispose();
  const out: number[][] = Array.from({ length: B }, () => []);
  const done = new Array<boolean>(B).fill(false);
  let tokens = ctx.upload(new Uint32Array(B).fill(cfg.bosId), [B], 'u32');
  try {
    for (let t = 0; t < steps; t++) {
      checkAbort(opts.signal);
      const logits = model.decodeStep(rec, w, state, tokens, opts.traceDecoder ? opts.trace : undefined);
      const next = argmax(rec, logits); // u32 [B]
      logits.dispose();
      rec.submit();
      await ctx.profiler?.read();
      const ids = (await ctx.read(next)) as Uint32Array;
      tokens.dispose();
      tokens = next;
      for (let b = 0; b < B; b++) {
        if (done[b]) continue;
        const id = ids[b] as number;
        if (id === cfg.eosId) done[b] = true;
        else (out[b] as number[]).push(id);
      }
      opts.onStep?.(out);
      if (done.every(Boolean) && !opts.forceSteps) break;
    }
  } finally {
    rec.submit();
    tokens.dispose();
    state.dispose();
  }
  return out;
}

/** Beam search with the GNMT length penalty, as model.py's `beam`; returns the best hypothesis per sentence. */
export async function beamSearch(
  ctx: GpuContext,
  model: TransformerModel,
  w: Weights,
  src: SourceBatch,
  opts: BeamOptions,
): Promise<number[][]> {
  const cfg = model.cfg;
  const B = src.B;
  const K = opts.beam;
  const alpha = opts.alpha ?? 0.6;
  const V = cfg.vocabSize;
  const steps = Math.min(opts.maxSteps, cfg.maxLen);
  if (!Number.isInteger(K) || K < 1 || 2 * K > 16) throw new RangeError(`beam must be an integer in [1, 8], got ${K}`);
  const rec = ctx.recorder();
  const enc = model.encode(rec, w, src, opts.trace);
  const rowTasks = ctx.upload(Uint32Array.from(src.taskIds), [B], 'u32');
  const state = model.startDecoder(rec, w, enc, src.lengths, rowTasks, Math.max(1, steps));
  enc.dispose();
  // Expand each sentence to K beams: row b*K + k comes from sentence b.
  const expand = ctx.upload(
    Uint32Array.from({ length: B * K }, (_, i) => Math.floor(i / K)),
    [B * K],
    'u32',
  );
  state.reorder(rec, expand);
  expand.dispose();
  let score: number[][] = Array.from({ length: B }, () =>
    Array.from({ length: K }, (_, k) => (k === 0 ? 0 : -Infinity)),
  );
  let hyps: number[][][] = Array.from({ length: B }, () => Array.from({ length: K }, () => []));
  const finished: Array<Array<[number, number[]]>> = Array.from({ length: B }, () => []);
  let tokens: Tensor = ctx.upload(new Uint32Array(B * K).fill(cfg.bosId), [B * K], 'u32');
  const lp = (len: number): number => ((5 + len) / 6) ** alpha;
  try {
    for (let t = 0; t < steps; t++) {
      checkAbort(opts.signal);
      const logits = model.decodeStep(rec, w, state, tokens, opts.traceDecoder ? opts.trace : undefined); // [B*K, V]
      const logp = softmax(rec, logits, { log: true });
      const top = topk(rec, logp, Math.min(2 * K, V)); // per beam row
      logits.dispose();
      logp.dispose();
      rec.submit();
      await ctx.profiler?.read();
      const vals = (await ctx.read(top.values)) as Float32Array;
      const idx = (await ctx.read(top.indices)) as Uint32Array;
      top.values.dispose();
      top.indices.dispose();
      const kk = Math.min(2 * K, V);
      const newScore: number[][] = [];
      const srcBeam: number[][] = [];
      const newTok: number[][] = [];
      const newHyps: number[][][] = [];
      for (let b = 0; b < B; b++) {
        // Candidates score[b][k] + logp over the union of per-beam top-2K, ordered as a global top-2K.
        const cand: Array<{ s: number; k: number; tok: number }> = [];
        for (let k = 0; k < K; k++) {
          const base = (score[b] as number[])[k] as number;
          for (let j = 0; j < kk; j++) {
            const r = (b * K + k) * kk + j;
            cand.push({ s: Math.fround(base + (vals[r] as number)), k, tok: idx[r] as number });
          }
        }
        cand.sort((x, y) => y.s - x.s || x.k * V + x.tok - (y.k * V + y.tok));
        const ns = new Array<number>(K).fill(-Infinity);
        const sb = new Array<number>(K).fill(0);
        const nt = new Array<number>(K).fill(cfg.eosId);
        const nh: number[][] = Array.from({ length: K }, () => []);
        let j = 0;
        for (const c of cand.slice(0, 2 * K)) {
          if (c.s === -Infinity) break;
          const prev = (hyps[b] as number[][])[c.k] as number[];
          if (c.tok === cfg.eosId || t === steps - 1) {
            const seq = c.tok === cfg.eosId ? [...prev] : [...prev, c.tok];
            (finished[b] as Array<[number, number[]]>).push([c.s / lp(seq.length + 1), seq]);
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
        const fin = finished[b] as Array<[number, number[]]>;
        if (fin.length >= K) {
          const bestFin = Math.max(...fin.map((f) => f[0]));
          const bestLive = Math.max(...ns) / lp(steps);
          if (bestLive < bestFin) ns.fill(-Infinity);
        }
        newScore.push(ns);
        srcBeam.push(sb);
        newTok.push(nt);
        newHyps.push(nh);
      }
      if (newScore.every((r) => r.every((s) => s === -Infinity))) break;
      const flat = ctx.upload(
        Uint32Array.from(
          { length: B * K },
          (_, i) => Math.floor(i / K) * K + ((srcBeam[Math.floor(i / K)] as number[])[i % K] as number),
        ),
        [B * K],
        'u32',
      );
      state.reorder(rec, flat);
      flat.dispose();
      score = newScore;
      hyps = newHyps;
      tokens.dispose();
      tokens = ctx.upload(Uint32Array.from(newTok.flat()), [B * K], 'u32');
      opts.onStep?.(hyps.map((h, b) => h[(score[b] as number[]).indexOf(Math.max(...(score[b] as number[])))] ?? []));
    }
  } finally {
    rec.submit();
    tokens.dispose();
    state.dispose();
  }
  return finished.map((f) => (f.length ? f.reduce((a, b) => (b[0] > a[0] ? b : a))[1] : []));
}
