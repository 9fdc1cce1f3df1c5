// A model on onnxruntime-web (the WASM fallback): the ONNX graphs of runtime/onnx-export.ts (encoder emitting the
// decoder's cross-attention keys and values, one decoder step with a KV cache) driven by batched greedy and beam
// search. Greedy picks the first maximal logit as the WebGPU argmax does; beam search keeps its hypotheses in
// model/beam-state.ts, the same code as the WebGPU beam search, so both engines decode alike.
import type * as OrtApi from 'onnxruntime-web';
import { BeamState } from '../model/beam-state';
import type { ModelConfig } from '../model/config';
import { GreedyState } from '../model/greedy-state';
import { TranslationAbortedError } from '../model/search';
import { exportOnnx, type F32Reader, type FoldedGate } from '../runtime/onnx-export';
import { lengthBatches } from './batching';

type Ort = typeof OrtApi;
type Tensor = OrtApi.Tensor;
type Session = OrtApi.InferenceSession;

const NEG = -1e9;

/** Options of {@link OrtModel.translateIds}. */
export interface OrtDecodeOptions {
  /** Beam width; 1 (default) is greedy decoding. */
  beam?: number;
  /** GNMT length penalty exponent of beam search. Default 0.6. */
  alpha?: number;
  /** Sentences decoded together. Default 16. */
  batchSize?: number;
  /** Decoding steps at most; default min(max_len, 2 × padded source length + 10), as the WebGPU engine. */
  maxSteps?: number;
  signal?: AbortSignal;
  /** Greedy decoding only: decode exactly maxSteps steps whatever the model emits (throughput benchmarks). */
  forceSteps?: boolean;
  /** After each step: the indices (into `src`) of the batch's rows and their ids so far (best live beam). */
  onStep?: (rows: readonly number[], partial: readonly number[][]) => void;
}

/** An encoded batch: what every decoder step reads besides its KV cache. */
export interface OrtEncoded {
  B: number;
  S: number;
  /** Encoder output [B, S, D] (after encoder.norm). */
  enc: Tensor;
  /** key_bias [B, 1, 1, S] and cross_k.i / cross_v.i [B, H, S, dh], fed to every step. */
  feeds: Record<string, Tensor>;
}

/** One decoder's running state: the encoded batch (rows possibly repeated per beam) and the self-attention cache. */
interface OrtDecoderState {
  B: number;
  feeds: Record<string, Tensor>;
  past: Record<string, Tensor>;
}

/** A tensor's f32 data, downloaded first where it lives on the GPU. */
async function f32Data(t: Tensor): Promise<Float32Array> {
  return (t.location === 'cpu' ? t.data : await t.getData()) as Float32Array;
}

/** Frees a tensor's GPU buffer (CPU tensors are left to the garbage collector). */
function release(t: Tensor): void {
  if (t.location === 'gpu-buffer') t.dispose();
}

/** Row `rows[i]` of `t` (rows along its first dimension) becomes row i of the result (a CPU tensor). */
async function gatherRows(ort: Ort, t: Tensor, rows: readonly number[]): Promise<Tensor> {
  const data = await f32Data(t);
  const n = t.dims[0] as number;
  const size = n ? data.length / n : 0;
  const out = new Float32Array(rows.length * size);
  rows.forEach((r, i) => {
    out.set(data.subarray(r * size, (r + 1) * size), i * size);
  });
  return new ort.Tensor('float32', out, [rows.length, ...t.dims.slice(1)]);
}

/** The first maximal value's index in each row of [rows, V]. */
function argmaxRows(x: Float32Array, rows: number, V: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let v = 1; v < V; v++) if ((x[r * V + v] as number) > (x[r * V + best] as number)) best = v;
    out.push(best);
  }
  return out;
}

/** The k largest values of each row of [rows, V], descending, ties to the lower index (as the WebGPU topk). */
function topkRows(x: Float32Array, rows: number, V: number, k: number): { vals: Float32Array; idx: Uint32Array } {
  const vals = new Float32Array(rows * k);
  const idx = new Uint32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const v: number[] = [];
    const i: number[] = [];
    for (let c = 0; c < V; c++) {
      const val = x[r * V + c] as number;
      if (v.length === k && val <= (v[k - 1] as number)) continue;
      let at = v.length;
      while (at > 0 && (v[at - 1] as number) < val) at--;
      v.splice(at, 0, val);
      i.splice(at, 0, c);
      if (v.length > k) {
        v.pop();
        i.pop();
      }
    }
    vals.set(v, r * k);
    idx.set(i, r * k);
  }
  return { vals, idx };
}

/** A model (or one language's sub-network) on onnxruntime-web: encoder and cached decoder step sessions. */
export class OrtModel {
  readonly cfg: ModelConfig;
  /** Task-routed layers folded into the graphs for this model's language (empty for extracted and dense models). */
  readonly gates: FoldedGate[];
  /** Bytes of the two ONNX models. */
  readonly bytes: number;
  private readonly ort: Ort;
  private readonly encoder: Session;
  private readonly decoder: Session;

  private constructor(
    ort: Ort,
    cfg: ModelConfig,
    encoder: Session,
    decoder: Session,
    gates: FoldedGate[],
    bytes: number,
  ) {
    this.ort = ort;
    this.cfg = cfg;
    this.encoder = encoder;
    this.decoder = decoder;
    this.gates = gates;
    this.bytes = bytes;
  }

  /**
   * Exports the model whose tensors `read` returns to ONNX and opens both graphs on `ort`, on the execution providers
   * `executionProviders` (default `['wasm']`, the fallback's). `lang` is needed for a model with unextracted
   * task-routed MoE layers (folded for it). `stateOnGpu` (WebGPU EP only): the cross-attention K/V and the KV cache
   * stay in GPU buffers between steps (ORT's `preferredOutputLocation: 'gpu-buffer'`) instead of being downloaded and
   * uploaded again every step.
   */
  static async create(
    ort: Ort,
    cfg: ModelConfig,
    read: F32Reader,
    opts: {
      lang?: string;
      executionProviders?: OrtApi.InferenceSession.ExecutionProviderConfig[];
      stateOnGpu?: boolean;
    } = {},
  ): Promise<OrtModel> {
    const { executionProviders = ['wasm'], stateOnGpu = false, ...exportOpts } = opts;
    const onnx = exportOnnx(cfg, read, { ...exportOpts, decoder: 'step' });
    const so: OrtApi.InferenceSession.SessionOptions = { executionProviders };
    const onGpu = (names: string[]): OrtApi.InferenceSession.SessionOptions =>
      stateOnGpu ? { ...so, preferredOutputLocation: Object.fromEntries(names.map((n) => [n, 'gpu-buffer'])) } : so;
    const layers = [...Array(cfg.decLayers).keys()];
    const encoder = await ort.InferenceSession.create(
      onnx.encoder,
      onGpu(layers.flatMap((i) => [`cross_k.${i}`, `cross_v.${i}`])),
    );
    const decoder = await ort.InferenceSession.create(
      onnx.decoder,
      onGpu(layers.flatMap((i) => [`present_k.${i}`, `present_v.${i}`])),
    );
    return new OrtModel(ort, cfg, encoder, decoder, onnx.gates, onnx.encoder.byteLength + onnx.decoder.byteLength);
  }

  private i64(v: readonly number[], dims: number[]): Tensor {
    return new this.ort.Tensor(
      'int64',
      BigInt64Array.from(v, (x) => BigInt(x)),
      dims,
    );
  }

  /** Encodes a batch of source id lists (each with tag and </s>), padded to the longest. */
  async encode(src: ReadonlyArray<readonly number[]>): Promise<OrtEncoded> {
    const cfg = this.cfg;
    const B = src.length;
    const S = Math.max(1, ...src.map((s) => s.length));
    const ids = new Array<number>(B * S).fill(cfg.padId);
    const bias = new Float32Array(B * S).fill(NEG);
    src.forEach((s, b) => {
      s.forEach((id, j) => {
        ids[b * S + j] = id;
        bias[b * S + j] = 0;
      });
    });
    const keyBias = new this.ort.Tensor('float32', bias, [B, 1, 1, S]);
    const r = await this.encoder.run({
      ids: this.i64(ids, [B, S]),
      pos: this.i64([...Array(S).keys()], [S]),
      key_bias: keyBias,
    });
    const feeds: Record<string, Tensor> = { key_bias: keyBias };
    for (let i = 0; i < cfg.decLayers; i++) {
      feeds[`cross_k.${i}`] = r[`cross_k.${i}`] as Tensor;
      feeds[`cross_v.${i}`] = r[`cross_v.${i}`] as Tensor;
    }
    return { B, S, enc: r.enc as Tensor, feeds };
  }

  /** A decoder over `e` with an empty cache; row i reads encoded row `rows[i]` (default: each row once). */
  async startDecoder(e: OrtEncoded, rows?: readonly number[]): Promise<OrtDecoderState> {
    let feeds = e.feeds;
    if (rows) {
      feeds = {};
      for (const [k, t] of Object.entries(e.feeds)) feeds[k] = await gatherRows(this.ort, t, rows);
    }
    const B = rows ? rows.length : e.B;
    const H = this.cfg.nHeads;
    const dh = this.cfg.dModel / H;
    const past: Record<string, Tensor> = {};
    for (let i = 0; i < this.cfg.decLayers; i++) {
      for (const kv of ['k', 'v'])
        past[`past_${kv}.${i}`] = new this.ort.Tensor('float32', new Float32Array(0), [B, H, 0, dh]);
    }
    return { B, feeds, past };
  }

  /** Decoder step `t` of every row with input tokens `tokens`; returns logits and log-probs [B, V], advances the cache. */
  async step(
    s: OrtDecoderState,
    tokens: readonly number[],
    t: number,
  ): Promise<{ logits: Float32Array; logp: Float32Array }> {
    const r = await this.decoder.run({
      ...s.feeds,
      ...s.past,
      tok: this.i64(tokens, [s.B, 1]),
      pos: this.i64([t], [1]),
    });
    for (let i = 0; i < this.cfg.decLayers; i++) {
      for (const kv of ['k', 'v']) {
        release(s.past[`past_${kv}.${i}`] as Tensor);
        s.past[`past_${kv}.${i}`] = r[`present_${kv}.${i}`] as Tensor;
      }
    }
    return { logits: (r.logits as Tensor).data as Float32Array, logp: (r.logp as Tensor).data as Float32Array };
  }

  /** Keeps the cache rows `rows` (row i of the new cache is old row rows[i]). */
  async reorder(s: OrtDecoderState, rows: readonly number[]): Promise<void> {
    for (const k of Object.keys(s.past)) {
      const old = s.past[k] as Tensor;
      s.past[k] = await gatherRows(this.ort, old, rows);
      release(old);
    }
  }

  /** Frees the GPU buffers of a decoder's state and of its encoded batch (with `stateOnGpu`). */
  private releaseState(e: OrtEncoded, s: OrtDecoderState | null): void {
    for (const t of Object.values(s?.past ?? {})) release(t);
    for (const t of Object.values(e.feeds)) release(t);
  }

  /** Greedy decoding of one padded batch; ids without <s> and </s>. `forceSteps`: run all `steps`, ignoring </s>. */
  async greedy(
    src: ReadonlyArray<readonly number[]>,
    steps: number,
    signal?: AbortSignal,
    onStep?: (partial: number[][]) => void,
    forceSteps = false,
  ): Promise<number[][]> {
    const cfg = this.cfg;
    const e = await this.encode(src);
    const s = await this.startDecoder(e);
    try {
      const greedy = new GreedyState(e.B, cfg.eosId);
      let tokens = new Array<number>(e.B).fill(cfg.bosId);
      for (let t = 0; t < steps; t++) {
        if (signal?.aborted) throw new TranslationAbortedError();
        tokens = argmaxRows((await this.step(s, tokens, t)).logits, e.B, cfg.vocabSize);
        const allDone = greedy.advance(tokens);
        onStep?.(greedy.out);
        if (allDone && !forceSteps) break;
      }
      return greedy.out;
    } finally {
      this.releaseState(e, s);
    }
  }

  /** Beam search (model.py's `beam`, GNMT length penalty) of one padded batch; the best hypothesis per sentence. */
  async beam(
    src: ReadonlyArray<readonly number[]>,
    K: number,
    steps: number,
    opts: { alpha?: number; signal?: AbortSignal; onStep?: (partial: number[][]) => void } = {},
  ): Promise<number[][]> {
    const cfg = this.cfg;
    const e = await this.encode(src);
    const B = e.B;
    const V = cfg.vocabSize;
    const beams = new BeamState({
      B,
      K,
      V,
      eosId: cfg.eosId,
      steps,
      ...(opts.alpha !== undefined ? { alpha: opts.alpha } : {}),
    });
    // Row b·K + k is beam k of sentence b.
    let s: OrtDecoderState | null = null;
    try {
      s = await this.startDecoder(
        e,
        Array.from({ length: B * K }, (_, i) => Math.floor(i / K)),
      );
      let tokens = new Array<number>(B * K).fill(cfg.bosId);
      for (let t = 0; t < steps; t++) {
        if (opts.signal?.aborted) throw new TranslationAbortedError();
        const { logp } = await this.step(s, tokens, t);
        const top = topkRows(logp, B * K, V, beams.kk);
        const next = beams.advance(t, top.vals, top.idx);
        if (next.done) break;
        await this.reorder(s, next.rows);
        tokens = next.tokens;
        opts.onStep?.(beams.best());
      }
      return beams.results();
    } finally {
      this.releaseState(e, s);
    }
  }

  /**
   * Translates source id lists (with tag and </s>) into target ids (`ids`, in input order, in length-sorted batches)
   * and counts the output tokens (ids plus </s>).
   */
  async translateIds(
    src: ReadonlyArray<readonly number[]>,
    opts: OrtDecodeOptions = {},
  ): Promise<{ ids: number[][]; outputTokens: number }> {
    const cfg = this.cfg;
    const K = opts.beam ?? 1;
    const out: number[][] = new Array(src.length);
    let outputTokens = 0;
    for (const idx of lengthBatches(src, opts.batchSize ?? 16)) {
      const batch = idx.map((j) => src[j] as number[]);
      const S = Math.max(1, ...batch.map((b) => b.length));
      const steps = Math.min(opts.maxSteps ?? Math.min(cfg.maxLen, 2 * S + 10), cfg.maxLen);
      const onStep = opts.onStep ? (p: number[][]) => opts.onStep?.(idx, p) : undefined;
      const res =
        K > 1
          ? await this.beam(batch, K, steps, {
              ...(opts.alpha !== undefined ? { alpha: opts.alpha } : {}),
              ...(opts.signal ? { signal: opts.signal } : {}),
              ...(onStep ? { onStep } : {}),
            })
          : await this.greedy(batch, steps, opts.signal, onStep, opts.forceSteps ?? false);
      idx.forEach((j, k) => {
        out[j] = res[k] as number[];
        outputTokens += (res[k] as number[]).length + 1;
      });
    }
    return { ids: out, outputTokens };
  }

  /** Frees both sessions. */
  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}
