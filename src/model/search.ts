// Greedy and beam search over TransformerModel, ported from training/taskmoe_train/model.py (greedy, beam) so that
// the engine's translations equal PyTorch's. The GPU computes logits, argmax and per-beam top-k; the CPU keeps
// hypotheses and decides when to stop (model/beam-state.ts, shared with the WASM engine).

import { TranslationAbortedError } from '../errors';
import type { GpuContext, Tensor } from '../gpu';
import { argmax, topk } from '../kernels/argmax';
import { softmax } from '../kernels/softmax';
import { BeamState } from './beam-state';
import { GreedyState } from './greedy-state';
import { MAX_BEAM } from './limits';
import type { SourceBatch, Trace, TransformerModel, Weights } from './transformer';

export { TranslationAbortedError };

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

export { MAX_BEAM };

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new TranslationAbortedError();
}

/** Steps greedy search keeps in flight by default (see `GreedyOptions.lookahead`). */
export const DEFAULT_LOOKAHEAD = 3;

export interface GreedyOptions extends SearchOptions {
  /**
   * Decoder steps recorded and submitted before the oldest one's argmax ids are read back (default
   * DEFAULT_LOOKAHEAD; 1 waits for each step's readback before recording the next). Each step's input tokens stay on
   * the GPU, so step t+1 never needs step t's ids on the CPU; the CPU only decides when to stop, and up to
   * lookahead - 1 steps recorded after every sentence ended are discarded. Traced decoding (`traceDecoder`) uses 1,
   * so the trace holds exactly the steps decoded.
   */
  lookahead?: number;
}

/** Greedy decoding of a padded batch; returns ids without <s> and </s>. */
export async function greedySearch(
  ctx: GpuContext,
  model: TransformerModel,
  w: Weights,
  src: SourceBatch,
  opts: GreedyOptions,
): Promise<number[][]> {
  const cfg = model.cfg;
  const B = src.B;
  const steps = Math.min(opts.maxSteps, cfg.maxLen);
  const lookahead = opts.traceDecoder ? 1 : (opts.lookahead ?? DEFAULT_LOOKAHEAD);
  if (!Number.isInteger(lookahead) || lookahead < 1) {
    throw new RangeError(`lookahead must be a positive integer, got ${lookahead}`);
  }
  const rec = ctx.recorder();
  const enc = model.encode(rec, w, src, opts.trace);
  const rowTasks = ctx.upload(Uint32Array.from(src.taskIds), [B], 'u32');
  const state = model.startDecoder(rec, w, enc, src.lengths, rowTasks, Math.max(1, steps));
  enc.dispose();
  const greedy = new GreedyState(B, cfg.eosId);
  let tokens = ctx.upload(new Uint32Array(B).fill(cfg.bosId), [B], 'u32');
  // Readbacks of submitted steps, oldest first. ctx.read copies the ids into its staging buffer in a submit of its
  // own at once, so `next` may be read while later steps use it as input.
  const inFlight: Array<Promise<Float32Array | Uint32Array | Int32Array>> = [];
  let submitted = 0;
  try {
    for (let t = 0; t < steps; t++) {
      checkAbort(opts.signal);
      while (submitted < steps && submitted - t < lookahead) {
        const logits = model.decodeStep(rec, w, state, tokens, opts.traceDecoder ? opts.trace : undefined);
        const next = argmax(rec, logits); // u32 [B]
        logits.dispose();
        rec.submit();
        await ctx.profiler?.read();
        const ids = ctx.read(next);
        ids.catch(() => {}); // awaited in order below; a failure must not surface as unhandled meanwhile
        inFlight.push(ids);
        tokens.dispose();
        tokens = next;
        submitted++;
      }
      const allDone = greedy.advance((await inFlight.shift()) as Uint32Array);
      opts.onStep?.(greedy.out);
      if (allDone && !opts.forceSteps) break;
    }
  } finally {
    rec.submit();
    // Steps recorded past the end (or before an abort or error) are discarded; their staging buffers are destroyed
    // when their readbacks settle.
    await Promise.allSettled(inFlight);
    tokens.dispose();
    state.dispose();
  }
  return greedy.out;
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
  const V = cfg.vocabSize;
  const steps = Math.min(opts.maxSteps, cfg.maxLen);
  if (!Number.isInteger(K) || K < 1 || K > MAX_BEAM) {
    throw new RangeError(`beam must be an integer in [1, ${MAX_BEAM}], got ${K}`);
  }
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
  const beams = new BeamState({ B, K, V, eosId: cfg.eosId, steps, alpha: opts.alpha ?? 0.6 });
  let tokens: Tensor = ctx.upload(new Uint32Array(B * K).fill(cfg.bosId), [B * K], 'u32');
  try {
    for (let t = 0; t < steps; t++) {
      checkAbort(opts.signal);
      const logits = model.decodeStep(rec, w, state, tokens, opts.traceDecoder ? opts.trace : undefined); // [B*K, V]
      const logp = softmax(rec, logits, { log: true });
      const top = topk(rec, logp, beams.kk); // per beam row
      logits.dispose();
      logp.dispose();
      rec.submit();
      await ctx.profiler?.read();
      const vals = (await ctx.read(top.values)) as Float32Array;
      const idx = (await ctx.read(top.indices)) as Uint32Array;
      top.values.dispose();
      top.indices.dispose();
      const next = beams.advance(t, vals, idx);
      if (next.done) break;
      const flat = ctx.upload(Uint32Array.from(next.rows), [B * K], 'u32');
      state.reorder(rec, flat);
      flat.dispose();
      tokens.dispose();
      tokens = ctx.upload(Uint32Array.from(next.tokens), [B * K], 'u32');
      opts.onStep?.(beams.best());
    }
  } finally {
    rec.submit();
    tokens.dispose();
    state.dispose();
  }
  return beams.results();
}
