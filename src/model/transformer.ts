// The encoder-decoder Transformer of training/taskmoe_train/model.py, on WebGPU kernels. Pre-LN blocks, tied
// embeddings, sinusoidal positions; each FFN is dense, token-routed MoE, task-routed MoE, or an extracted task
// sub-network (a dense FFN of width 2·d_ff with the same names as a dense FFN). Model code calls kernels only.
import type { GpuContext, KernelSource, Recorder, Tensor } from '../gpu';
import { add, addSources } from '../kernels/add';
import { argmaxSources } from '../kernels/argmax';
import { attention, attentionSources } from '../kernels/attention';
import { embedding, embeddingSources } from '../kernels/embedding';
import { gatherRows, kvCacheSources } from '../kernels/kv-cache';
import { layerNorm, layerNormSources } from '../kernels/layer-norm';
import { canFuseNorm, type LinearNorm, type LinearOptions, linear, linearSources } from '../kernels/linear';
import { softmaxSources } from '../kernels/softmax';
import type { ModelConfig } from './config';
import { KvCache } from './kv-cache';
import { type LayerPlan, type ModelPlan, modelPlan } from './layer-plan';
import { type MoeRouting, moeLayer, moeSources } from './moe-layer';

/** Looks weights up by state_dict name (a task's own tensors first, then the shared trunk). */
export interface Weights {
  get(name: string): Tensor;
  has(name: string): boolean;
}

/** Gate outputs of one MoE layer in the last forward pass, kept for the activation view. */
export interface GateTrace {
  stack: 'encoder' | 'decoder';
  layer: number;
  kind: 'moe-token' | 'moe-task';
  /** u32 [N, k] and f32 [N, k]; owned by the trace (disposed with it). */
  indices: Tensor;
  weights: Tensor;
}

/** Collects gate outputs when passed to a forward pass; `dispose()` frees them. */
export class Trace {
  readonly gates: GateTrace[] = [];
  dispose(): void {
    for (const g of this.gates) {
      g.indices.dispose();
      g.weights.dispose();
    }
    this.gates.length = 0;
  }
}

/** Every pipeline a model with `dtype` weights can use, for compilation when it loads. */
export function modelSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  return [
    ...linearSources(ctx, dtype),
    ...embeddingSources(ctx, dtype),
    ...layerNormSources(ctx, dtype),
    ...attentionSources(ctx),
    ...kvCacheSources(ctx),
    ...addSources(),
    ...softmaxSources(),
    ...argmaxSources(),
    ...moeSources(ctx, dtype),
  ];
}

/** A linear's input: x itself with the layer norm to fuse, or an already normalised copy (disposed with it). */
interface NormedInput {
  x: Tensor;
  norm?: LinearNorm;
  dispose(): void;
}

/** A padded batch of source sentences on the GPU. */
export interface SourceBatch {
  /** u32 [B, S] token ids, padded with pad_id. */
  ids: Tensor;
  /** u32 [B] real lengths. */
  lengths: Tensor;
  /** u32 [B·S] task id of every token row (task routing). */
  tokenTasks: Tensor;
  /** Task id of each sentence. */
  taskIds: readonly number[];
  B: number;
  S: number;
}

/** The decoder's per-batch state: self-attention caches and the cross-attention keys/values, computed once. */
export class DecoderState {
  readonly caches: KvCache[];
  crossK: Tensor[];
  crossV: Tensor[];
  srcLengths: Tensor;
  /** u32 [B] task id of every decoder row. */
  rowTasks: Tensor;
  batch: number;
  step = 0;

  constructor(
    caches: KvCache[],
    crossK: Tensor[],
    crossV: Tensor[],
    srcLengths: Tensor,
    rowTasks: Tensor,
    batch: number,
  ) {
    this.caches = caches;
    this.crossK = crossK;
    this.crossV = crossV;
    this.srcLengths = srcLengths;
    this.rowTasks = rowTasks;
    this.batch = batch;
  }

  /**
   * Keeps row index[i] of every cache as row i (beam search). Cross-attention tensors, source lengths and tasks are
   * gathered too, so index may also expand sentences into beams.
   */
  reorder(rec: Recorder, index: Tensor): void {
    for (const c of this.caches) c.reorder(rec, index);
    const gather = (t: Tensor): Tensor => {
      const g = gatherRows(rec, t, index);
      t.dispose();
      return g;
    };
    this.crossK = this.crossK.map(gather);
    this.crossV = this.crossV.map(gather);
    this.srcLengths = gather(this.srcLengths);
    this.rowTasks = gather(this.rowTasks);
    this.batch = index.shape[0] as number;
  }

  dispose(): void {
    for (const c of this.caches) c.dispose();
    for (const t of [...this.crossK, ...this.crossV, this.srcLengths, this.rowTasks]) t.dispose();
  }
}

/** The Transformer's forward computations, recorded into a Recorder. Stateless apart from its config. */
export class TransformerModel {
  readonly cfg: ModelConfig;
  /**
   * Fuse where a kernel allows: layer norms into the linears that read them (up to LINEAR_ROWS_MAX rows), residual
   * adds into output projections, decode-step k/v projections straight into the KV cache. false runs the plain
   * sequence of kernels (same results within f32 rounding; kept for benchmarks and tests to compare).
   */
  fuse = true;

  /** Every layer and the form of its FFN (shared with the ONNX exporter). */
  readonly plan: ModelPlan;

  constructor(cfg: ModelConfig) {
    this.cfg = cfg;
    this.plan = modelPlan(cfg);
  }

  private ln(rec: Recorder, w: Weights, name: string, x: Tensor): Tensor {
    return layerNorm(rec, x, w.get(`${name}.weight`), w.get(`${name}.bias`), this.cfg.lnEps);
  }

  /**
   * LN(x) as the input of the linears that read it: fused into each of them where x has few enough rows (a decode
   * step: one dispatch fewer per norm), else computed once here. Dispose the result after the last linear.
   */
  private normed(rec: Recorder, w: Weights, name: string, x: Tensor): NormedInput {
    if (this.fuse && canFuseNorm(x.size / this.cfg.dModel)) {
      const norm = { gamma: w.get(`${name}.weight`), beta: w.get(`${name}.bias`), eps: this.cfg.lnEps };
      return { x, norm, dispose: () => {} };
    }
    const h = this.ln(rec, w, name, x);
    return { x: h, dispose: () => h.dispose() };
  }

  /** linear by state_dict name, reading `input` (see {@link normed}). */
  private lin(rec: Recorder, w: Weights, name: string, input: NormedInput | Tensor, opts: LinearOptions = {}): Tensor {
    const { x, norm } = 'shape' in input ? { x: input, norm: undefined } : input;
    return linear(rec, x, w.get(`${name}.weight`), w.get(`${name}.bias`), { ...opts, norm });
  }

  /** x += linear(input) by state_dict name: fused into the linear's output, or a separate add. */
  private residual(rec: Recorder, w: Weights, name: string, input: Tensor, x: Tensor): void {
    if (this.fuse) {
      this.lin(rec, w, name, input, { out: x, accumulate: true });
      return;
    }
    const o = this.lin(rec, w, name, input);
    add(rec, x, o, { out: x });
    o.dispose();
  }

  /** x += Attn(LN(x), kv) for self-attention (kv = null: LN(x) itself) of an encoder layer. */
  private selfAttentionEncoder(rec: Recorder, w: Weights, p: string, x: Tensor, lengths: Tensor): void {
    const h = this.normed(rec, w, `${p}.self_attn_norm`, x); // [B, S, D]
    const q = this.lin(rec, w, `${p}.self_attn.q`, h);
    const k = this.lin(rec, w, `${p}.self_attn.k`, h);
    const v = this.lin(rec, w, `${p}.self_attn.v`, h);
    h.dispose();
    const a = attention(rec, q, k, v, { heads: this.cfg.nHeads, keyLengths: lengths }); // [B, S, D]
    this.residual(rec, w, `${p}.self_attn.o`, a, x);
    for (const t of [q, k, v, a]) t.dispose();
  }

  /** x += FFN(LN(x)) in the form the layer plan gives. x is [rows, D] viewed flat. */
  private ffnBlock(rec: Recorder, w: Weights, layer: LayerPlan, x: Tensor, rowTasks: Tensor, trace?: Trace): void {
    const p = layer.prefix;
    const D = this.cfg.dModel;
    const rows = x.size / D;
    const flat = x.reshape([rows, D]);
    const kind = layer.ffn;
    if (kind === 'dense' || kind === 'extracted') {
      // An extracted task sub-network carries its gate values as a column scale after the ReLU.
      const scale = kind === 'extracted' ? w.get(`${p}.ffn.wi.scale`) : undefined;
      const h = this.normed(rec, w, `${p}.ffn_norm`, flat); // [rows, D]
      const hid = this.lin(rec, w, `${p}.ffn.wi`, h, { relu: true, scale }); // [rows, F or 2F]
      h.dispose();
      this.residual(rec, w, `${p}.ffn.wo`, hid, flat); // flat += FFN(LN(flat))
      hid.dispose();
      return;
    }
    const h = this.ln(rec, w, `${p}.ffn_norm`, flat); // [rows, D]: read by the gate and the experts
    const experts = {
      wi: w.get(`${p}.moe.wi`),
      bi: w.get(`${p}.moe.bi`),
      wo: w.get(`${p}.moe.wo`),
      bo: w.get(`${p}.moe.bo`),
    };
    const routing: MoeRouting =
      kind === 'moe-token'
        ? { kind: 'token', gate: w.get(`${p}.moe.gate.weight`) }
        : { kind: 'task', table: w.get(`${p}.moe.gate.table`), taskIds: rowTasks };
    // x += Σ_j g_j · FFN_{e_j}(LN(x)): gate, GPU dispatch, grouped experts, combine into the residual in place.
    const r = moeLayer(rec, h, routing, experts, { k: this.cfg.topK as 1 | 2, residual: flat, out: flat });
    if (trace)
      trace.gates.push({ stack: layer.stack, layer: layer.index, kind, indices: r.indices, weights: r.weights });
    else {
      r.indices.dispose();
      r.weights.dispose();
    }
    h.dispose();
  }

  /** Encoder: source batch -> f32 [B, S, D] after the final layer norm. */
  encode(rec: Recorder, w: Weights, src: SourceBatch, trace?: Trace): Tensor {
    const cfg = this.cfg;
    const x = embedding(rec, src.ids, w.get('embed.weight'), { scale: Math.sqrt(cfg.dModel) }); // [B, S, D]
    for (const layer of this.plan.encoder) {
      this.selfAttentionEncoder(rec, w, layer.prefix, x, src.lengths);
      this.ffnBlock(rec, w, layer, x, src.tokenTasks, trace);
    }
    const out = this.ln(rec, w, 'encoder.norm', x);
    x.dispose();
    return out;
  }

  /** Decoder state for `enc` [B, S, D]: empty self-attention caches and each layer's cross-attention keys/values. */
  startDecoder(
    rec: Recorder,
    w: Weights,
    enc: Tensor,
    srcLengths: Tensor,
    rowTasks: Tensor,
    maxSteps: number,
  ): DecoderState {
    const cfg = this.cfg;
    const B = enc.shape[0] as number;
    const caches: KvCache[] = [];
    const crossK: Tensor[] = [];
    const crossV: Tensor[] = [];
    for (let i = 0; i < cfg.decLayers; i++) {
      const p = `decoder.layers.${i}.cross_attn`;
      caches.push(new KvCache(rec.ctx, B, maxSteps, cfg.dModel));
      crossK.push(this.lin(rec, w, `${p}.k`, enc));
      crossV.push(this.lin(rec, w, `${p}.v`, enc));
    }
    return new DecoderState(caches, crossK, crossV, srcLengths, rowTasks, B);
  }

  /** One decoding step: tokens u32 [B] at position state.step -> logits f32 [B, V]. Advances state.step. */
  decodeStep(rec: Recorder, w: Weights, state: DecoderState, tokens: Tensor, trace?: Trace): Tensor {
    const cfg = this.cfg;
    const B = state.batch;
    const t = state.step;
    const x = embedding(rec, tokens.reshape([B, 1]), w.get('embed.weight'), {
      scale: Math.sqrt(cfg.dModel),
      posOffset: t,
    }); // [B, 1, D]
    // Layer norms fuse into the linears that read them and residual adds into the output projections, and k/v are
    // written straight into the cache slot: 10 dispatches per dense decoder layer instead of 18.
    for (const layer of this.plan.decoder) {
      const i = layer.index;
      const p = layer.prefix;
      const cache = state.caches[i] as KvCache;
      // Self-attention over the cache (every cached position is in the past).
      let h = this.normed(rec, w, `${p}.self_attn_norm`, x);
      const q = this.lin(rec, w, `${p}.self_attn.q`, h);
      if (this.fuse) {
        const slot = cache.reserveStep();
        this.lin(rec, w, `${p}.self_attn.k`, h, { out: cache.k, outLayout: slot });
        this.lin(rec, w, `${p}.self_attn.v`, h, { out: cache.v, outLayout: slot });
      } else {
        const k = this.lin(rec, w, `${p}.self_attn.k`, h);
        const v = this.lin(rec, w, `${p}.self_attn.v`, h);
        cache.append(rec, k, v);
        k.dispose();
        v.dispose();
      }
      h.dispose();
      let a = attention(rec, q, cache.k, cache.v, { heads: cfg.nHeads, kvLength: cache.length });
      this.residual(rec, w, `${p}.self_attn.o`, a, x);
      for (const z of [q, a]) z.dispose();
      // Cross-attention over the encoder states.
      h = this.normed(rec, w, `${p}.cross_attn_norm`, x);
      const cq = this.lin(rec, w, `${p}.cross_attn.q`, h);
      h.dispose();
      a = attention(rec, cq, state.crossK[i] as Tensor, state.crossV[i] as Tensor, {
        heads: cfg.nHeads,
        keyLengths: state.srcLengths,
      });
      this.residual(rec, w, `${p}.cross_attn.o`, a, x);
      for (const z of [cq, a]) z.dispose();
      this.ffnBlock(rec, w, layer, x, state.rowTasks, trace);
    }
    const flat = x.reshape([B, cfg.dModel]);
    const h = this.normed(rec, w, 'decoder.norm', flat); // [B, D]
    const logits = linear(rec, h.x, w.get('embed.weight'), null, { norm: h.norm }); // [B, V] (tied)
    x.dispose();
    h.dispose();
    state.step++;
    return logits;
  }
}
