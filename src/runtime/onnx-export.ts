// ONNX graphs of a model for onnxruntime-web's WASM backend where WebGPU is missing, built in memory (a minimal
// protobuf writer, no dependency). Every layer kind exports: dense FFNs; extracted task sub-networks (a dense FFN with
// a gate scale); unextracted task-routed MoE layers, folded for one language (kernels/fold.ts); and token-routed MoE
// layers, gated in the graph. A token-routed layer computes all E experts for every token and combines the two chosen
// ones with a [tokens, E] weight matrix that is zero elsewhere: E/2 times the FFN work of the WebGPU engine's grouped
// dispatch, but no data-dependent shapes. Two decoders: one step with a KV cache (the default, what the WASM engine
// runs) and one that recomputes the whole prefix (`taskmoe export-onnx` writes it beside the step as decoder.onnx,
// for runtimes without a cache loop). Positions and masks are inputs
// computed by the caller, so the graphs have no shape arithmetic beyond reshapes. Weights are exported as f32.

import { ModelFormatError } from '../errors';
import { foldTaskExperts } from '../kernels/fold';
import { topKGate } from '../kernels/gating-cpu';
import type { ModelConfig } from '../model/config';
import { type LayerPlan, modelPlan } from '../model/layer-plan';
import type { SafetensorsFile } from './safetensors';

/** Reads one tensor of the sub-network as f32 (trunk and task shard merged; names as in a dense model). */
export type F32Reader = (name: string) => { shape: readonly number[]; data: Float32Array };

// --- a minimal protobuf writer (onnx.proto3 field numbers) ---

class Pb {
  // Written bytes as chunks (tensor data is referenced, not copied, until finish()), small fields in `cur`.
  private readonly chunks: Uint8Array[] = [];
  private cur: number[] = [];
  private size = 0;
  private push(x: number): void {
    this.cur.push(x);
    this.size++;
  }
  private flush(): void {
    if (this.cur.length) this.chunks.push(Uint8Array.from(this.cur));
    this.cur = [];
  }
  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.push(Number((x & 0x7fn) | 0x80n));
      x >>= 7n;
    }
    this.push(Number(x));
  }
  int(field: number, v: number | bigint): this {
    this.varint(field << 3);
    this.varint(v);
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(b.byteLength);
    this.flush();
    this.chunks.push(b);
    this.size += b.byteLength;
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb): this {
    this.varint((field << 3) | 2);
    this.varint(m.size);
    this.flush();
    m.flush();
    for (const c of m.chunks) this.chunks.push(c);
    this.size += m.size;
    return this;
  }
  float(field: number, v: number): this {
    this.varint((field << 3) | 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.push(x);
    return this;
  }
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}

const FLOAT = 1;
const INT64 = 7;

type Attr = number | number[] | { f: number };

/** Builds one GraphProto. */
class GraphBuilder {
  private readonly nodes: Pb[] = [];
  private readonly inits: Pb[] = [];
  private readonly inputs: Pb[] = [];
  private readonly outputs: Pb[] = [];
  private n = 0;

  private valueInfo(name: string, elem: number, dims: Array<number | string>): Pb {
    const shape = new Pb();
    for (const d of dims) shape.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
    return new Pb().str(1, name).msg(2, new Pb().msg(1, new Pb().int(1, elem).msg(2, shape)));
  }

  input(name: string, elem: number, dims: Array<number | string>): string {
    this.inputs.push(this.valueInfo(name, elem, dims));
    return name;
  }

  output(name: string, dims: Array<number | string>, elem = FLOAT): void {
    this.outputs.push(this.valueInfo(name, elem, dims));
  }

  f32(name: string, dims: readonly number[], data: Float32Array): string {
    const t = new Pb();
    for (const d of dims) t.int(1, d);
    t.int(2, FLOAT)
      .str(8, name)
      .bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.inits.push(t);
    return name;
  }

  i64(values: readonly number[]): string {
    const name = `const_${this.n++}`;
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    const t = new Pb().int(1, values.length).int(2, INT64).str(8, name);
    t.bytes(9, new Uint8Array(data.buffer));
    this.inits.push(t);
    return name;
  }

  scalar(v: number): string {
    return this.f32(`const_${this.n++}`, [], Float32Array.of(v));
  }

  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string): string {
    const name = out ?? `${type.toLowerCase()}_${this.n++}`;
    const node = new Pb();
    for (const i of inputs) node.str(1, i);
    node.str(2, name).str(3, `${name}_node`).str(4, type);
    for (const [k, v] of Object.entries(attrs)) {
      const a = new Pb().str(1, k);
      if (typeof v === 'number') a.int(3, v).int(20, 2);
      else if (Array.isArray(v)) {
        for (const x of v) a.int(8, x);
        a.int(20, 7);
      } else a.float(2, v.f).int(20, 1);
      node.msg(5, a);
    }
    this.nodes.push(node);
    return name;
  }

  /** ModelProto bytes (IR 8, opset 17). */
  model(name: string): Uint8Array {
    const g = new Pb();
    for (const n of this.nodes) g.msg(1, n);
    g.str(2, name);
    for (const t of this.inits) g.msg(5, t);
    for (const i of this.inputs) g.msg(11, i);
    for (const o of this.outputs) g.msg(12, o);
    return new Pb().int(1, 8).str(2, 'taskmoe').msg(7, g).msg(8, new Pb().str(1, '').int(2, 17)).finish();
  }
}

/** Sinusoidal positions with interleaved columns, as shaders/embedding.wgsl (computed in f64). */
export function positionTable(maxLen: number, D: number): Float32Array {
  const pe = new Float32Array(maxLen * D);
  for (let p = 0; p < maxLen; p++) {
    for (let d = 0; d < D; d++) {
      const i = Math.floor(d / 2);
      const f = 10000 ** ((-2 * i) / D);
      pe[p * D + d] = d % 2 === 0 ? Math.sin(p * f) : Math.cos(p * f);
    }
  }
  return pe;
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c] as number;
  return t;
}

/** The experts and gate weights a language uses in one task-routed layer folded into the graphs. */
export interface FoldedGate {
  stack: 'encoder' | 'decoder';
  layer: number;
  experts: number[];
  weights: number[];
}

class ModelGraph {
  readonly g = new GraphBuilder();
  private readonly cfg: ModelConfig;
  private readonly read: F32Reader;
  private readonly lang: string | undefined;
  private readonly done = new Map<string, string>();
  /** Task-routed layers folded for `lang`, in graph order. */
  readonly gates: FoldedGate[] = [];

  constructor(cfg: ModelConfig, read: F32Reader, lang?: string) {
    this.cfg = cfg;
    this.read = read;
    this.lang = lang;
  }

  private w(name: string, transposed = false): string {
    const key = `${name}${transposed ? ':T' : ''}`;
    const have = this.done.get(key);
    if (have) return have;
    const t = this.read(name);
    const data = transposed ? transpose(t.data, t.shape[0] as number, t.shape[1] as number) : t.data;
    const dims = transposed ? [t.shape[1] as number, t.shape[0] as number] : [...t.shape];
    const out = this.g.f32(key, dims, data);
    this.done.set(key, out);
    return out;
  }

  /** A weight computed here (folded or re-laid-out), stored once under `key`. */
  private derived(key: string, dims: number[], make: () => Float32Array): string {
    const have = this.done.get(key);
    if (have) return have;
    const out = this.g.f32(key, dims, make());
    this.done.set(key, out);
    return out;
  }

  lin(x: string, name: string, relu = false, scale?: string): string {
    let y = this.g.op('Add', [this.g.op('MatMul', [x, this.w(`${name}.weight`, true)]), this.w(`${name}.bias`)]);
    if (relu) y = this.g.op('Relu', [y]);
    if (scale) y = this.g.op('Mul', [y, this.w(scale)]);
    return y;
  }

  ln(x: string, name: string, out?: string): string {
    return this.g.op(
      'LayerNormalization',
      [x, this.w(`${name}.weight`), this.w(`${name}.bias`)],
      { axis: -1, epsilon: { f: this.cfg.lnEps } },
      out,
    );
  }

  embed(ids: string, pos: string): string {
    const cfg = this.cfg;
    const pe = this.derived('pe', [cfg.maxLen, cfg.dModel], () => positionTable(cfg.maxLen, cfg.dModel));
    const e = this.g.op('Mul', [
      this.g.op('Gather', [this.w('embed.weight'), ids]),
      this.g.scalar(Math.sqrt(cfg.dModel)),
    ]);
    return this.g.op('Add', [e, this.g.op('Gather', [pe, pos])]);
  }

  /** [B, T, D] -> [B, H, T, dh]: head j takes dims [j·dh, (j+1)·dh). */
  heads(x: string, out?: string): string {
    const H = this.cfg.nHeads;
    const split = this.g.i64([0, 0, H, this.cfg.dModel / H]);
    return this.g.op('Transpose', [this.g.op('Reshape', [x, split])], { perm: [0, 2, 1, 3] }, out);
  }

  /** Attention of heads q [B, H, Tq, dh] over k, v [B, H, Tk, dh], optional additive bias; returns [B, Tq, D]. */
  attend(q: string, k: string, v: string, bias?: string): string {
    const dh = this.cfg.dModel / this.cfg.nHeads;
    let s = this.g.op('Mul', [
      this.g.op('MatMul', [q, this.g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]),
      this.g.scalar(1 / Math.sqrt(dh)),
    ]); // [B, H, Tq, Tk]
    if (bias) s = this.g.op('Add', [s, bias]);
    const o = this.g.op('MatMul', [this.g.op('Softmax', [s], { axis: -1 }), v]); // [B, H, Tq, dh]
    return this.g.op('Reshape', [
      this.g.op('Transpose', [o], { perm: [0, 2, 1, 3] }),
      this.g.i64([0, 0, this.cfg.dModel]),
    ]);
  }

  /** Multi-head attention of q [B, Tq, D] over k, v [B, Tk, D] with an additive bias broadcast to [B, H, Tq, Tk]. */
  attn(q: string, k: string, v: string, bias: string): string {
    return this.attend(this.heads(q), this.heads(k), this.heads(v), bias);
  }

  /** x + SelfAttn(LN1(x)) of layer prefix `p` over the whole sequence, masked by the additive `bias`. */
  selfAttn(x: string, p: string, bias: string): string {
    const h = this.ln(x, `${p}.self_attn_norm`);
    const a = this.attn(
      this.lin(h, `${p}.self_attn.q`),
      this.lin(h, `${p}.self_attn.k`),
      this.lin(h, `${p}.self_attn.v`),
      bias,
    );
    return this.g.op('Add', [x, this.lin(a, `${p}.self_attn.o`)]);
  }

  /** x + FFN_or_MoE(LN2(x)) of one layer, in the form the layer plan gives. */
  ffn(x: string, layer: LayerPlan): string {
    const p = layer.prefix;
    const h = this.ln(x, `${p}.ffn_norm`);
    let y: string;
    if (layer.ffn === 'dense' || layer.ffn === 'extracted') {
      const scale = layer.ffn === 'extracted' ? `${p}.ffn.wi.scale` : undefined;
      y = this.lin(this.lin(h, `${p}.ffn.wi`, true, scale), `${p}.ffn.wo`);
    } else if (layer.ffn === 'moe-task') y = this.taskMoe(h, layer);
    else y = this.tokenMoe(h, p);
    return this.g.op('Add', [x, y]);
  }

  private experts(p: string): { wi: Float32Array; bi: Float32Array; wo: Float32Array; bo: Float32Array } {
    return {
      wi: this.read(`${p}.moe.wi`).data,
      bi: this.read(`${p}.moe.bi`).data,
      wo: this.read(`${p}.moe.wo`).data,
      bo: this.read(`${p}.moe.bo`).data,
    };
  }

  /** A task-routed layer: the language's gate is a constant, its two experts fold into one dense FFN of width 2F. */
  private taskMoe(h: string, layer: LayerPlan): string {
    const p = layer.prefix;
    const cfg = this.cfg;
    const task = this.lang === undefined ? -1 : cfg.languages.indexOf(this.lang);
    if (task < 0) {
      throw new ModelFormatError(
        `${p} is a task-routed MoE layer: the ONNX export folds it for one language, pass one of the model's ` +
          `(${cfg.languages.join(', ')}) as opts.lang`,
        'Pass the target language to exportOnnx, or export an extracted model (taskmoe extract).',
      );
    }
    const E = cfg.nExperts;
    const D = cfg.dModel;
    const F = cfg.dFF;
    const table = this.read(`${p}.moe.gate.table`).data; // [T, E]
    const gate = topKGate(table.subarray(task * E, (task + 1) * E), cfg.topK);
    this.gates.push({ stack: layer.stack, layer: layer.index, experts: gate.indices, weights: gate.weights });
    const x = this.experts(p);
    const f = foldTaskExperts(x.wi, x.bi, x.wo, x.bo, { E, D, F }, gate.indices, gate.weights);
    const wiT = this.derived(`${p}.folded.wi:T`, [D, f.F], () => transpose(f.wi, f.F, D));
    const bi = this.derived(`${p}.folded.bi`, [f.F], () => f.bi);
    const woT = this.derived(`${p}.folded.wo:T`, [f.F, D], () => transpose(f.wo, D, f.F));
    const bo = this.derived(`${p}.folded.bo`, [D], () => f.bo);
    const hid = this.g.op('Relu', [this.g.op('Add', [this.g.op('MatMul', [h, wiT]), bi])]); // [B, T, 2F]
    return this.g.op('Add', [this.g.op('MatMul', [hid, woT]), bo]); // [B, T, D]
  }

  /**
   * A token-routed layer (model.py's MoE at inference): softmax over E of h·Wgᵀ, e1 = first argmax, e2 = first argmax
   * with e1 masked out (ArgMax keeps the first maximal index, so ties go to the lower index), g = p / (p1 + p2). Every
   * expert runs on every token; the combine weights are zero but for e1 and e2.
   */
  private tokenMoe(h: string, p: string): string {
    const cfg = this.cfg;
    const g = this.g;
    const E = cfg.nExperts;
    const D = cfg.dModel;
    const F = cfg.dFF;
    const hf = g.op('Reshape', [h, g.i64([1, -1, D])]); // [1, N, D]
    const probs = g.op('Softmax', [g.op('MatMul', [hf, this.w(`${p}.moe.gate.weight`, true)])], { axis: -1 }); // [1, N, E]
    const range = g.i64([...Array(E).keys()]); // [E]
    const e1 = g.op('ArgMax', [probs], { axis: -1, keepdims: 1, select_last_index: 0 }); // [1, N, 1]
    const m1 = g.op('Equal', [e1, range]); // [1, N, E]
    let combine: string;
    if (cfg.topK === 1) combine = g.op('Cast', [m1], { to: FLOAT });
    else {
      const p1 = g.op('ReduceMax', [probs], { axes: [-1], keepdims: 1 }); // [1, N, 1] = probs[e1]
      // Probabilities are >= 0, so -1 removes e1 from the second argmax.
      const rest = g.op('Where', [m1, g.scalar(-1), probs]);
      const e2 = g.op('ArgMax', [rest], { axis: -1, keepdims: 1, select_last_index: 0 });
      const m2 = g.op('Equal', [e2, range]);
      const p2 = g.op('ReduceMax', [rest], { axes: [-1], keepdims: 1 }); // = probs[e2]
      const den = g.op('Add', [p1, p2]);
      combine = g.op('Add', [
        g.op('Mul', [g.op('Cast', [m1], { to: FLOAT }), g.op('Div', [p1, den])]),
        g.op('Mul', [g.op('Cast', [m2], { to: FLOAT }), g.op('Div', [p2, den])]),
      ]); // [1, N, E]
    }
    const x = this.experts(p);
    const wiT = this.derived(`${p}.moe.wi:T`, [E, D, F], () => transposeEach(x.wi, E, F, D));
    const bi = this.derived(`${p}.moe.bi:3`, [E, 1, F], () => x.bi);
    const woT = this.derived(`${p}.moe.wo:T`, [E, F, D], () => transposeEach(x.wo, E, D, F));
    const bo = this.derived(`${p}.moe.bo:3`, [E, 1, D], () => x.bo);
    const hid = g.op('Relu', [g.op('Add', [g.op('MatMul', [hf, wiT]), bi])]); // [E, N, F]
    const ye = g.op('Add', [g.op('MatMul', [hid, woT]), bo]); // [E, N, D]
    const wts = g.op('Transpose', [combine], { perm: [2, 1, 0] }); // [E, N, 1]
    const y = g.op('ReduceSum', [g.op('Mul', [ye, wts]), g.i64([0])], { keepdims: 0 }); // [N, D]
    return g.op('Reshape', [y, g.op('Shape', [h])]); // [B, T, D]
  }

  /** The tied output projection: logits = h · embedᵀ. */
  logits(h: string, out: string): string {
    const cfg = this.cfg;
    const embT = this.derived('embed.weight:T', [cfg.dModel, cfg.vocabSize], () =>
      transpose(this.read('embed.weight').data, cfg.vocabSize, cfg.dModel),
    );
    return this.g.op('MatMul', [h, embT], {}, out);
  }
}

/** Transposes each of `n` row-major [rows, cols] matrices. */
function transposeEach(w: Float32Array, n: number, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  const m = rows * cols;
  for (let e = 0; e < n; e++) t.set(transpose(w.subarray(e * m, (e + 1) * m), rows, cols), e * m);
  return t;
}

/** Options of {@link exportOnnx}. */
export interface OnnxOptions {
  /**
   * Target language: required for a model with unextracted task-routed MoE layers (they are folded for it), ignored
   * otherwise.
   */
  lang?: string;
  /** Which decoder to build: `'step'` (default, one step with a KV cache) or `'prefix'` (recomputes the prefix). */
  decoder?: 'prefix' | 'step';
}

/** The two ONNX models of a model (for one language where it has unextracted task-routed layers). */
export interface OnnxModels {
  /**
   * Inputs ids int64 [B, S], pos int64 [S] (0..S-1), key_bias f32 [B, 1, 1, S] (0, or -1e9 at padding); outputs enc
   * f32 [B, S, D] (after the final layer norm) and, for each decoder layer i, its cross-attention keys and values
   * `cross_k.i`, `cross_v.i` f32 [B, H, S, dh].
   */
  encoder: Uint8Array;
  /**
   * `'prefix'`: inputs tgt int64 [B, T] (<s> then the tokens so far), pos int64 [T], causal f32 [1, 1, T, T] (0 on and
   * below the diagonal, -1e9 above), enc f32 [B, S, D], key_bias f32 [B, 1, 1, S]; output logits f32 [B, T, V].
   *
   * `'step'`: one decoding step of every row. Inputs tok int64 [B, 1] (the last token), pos int64 [1] (the step),
   * key_bias, `cross_k.i`/`cross_v.i` from the encoder, `past_k.i`/`past_v.i` f32 [B, H, P, dh] (P = the step, empty
   * at the first); outputs logits and logp (log-softmax) f32 [B, 1, V] and `present_k.i`/`present_v.i` [B, H, P+1, dh].
   */
  decoder: Uint8Array;
  /** The task-routed layers folded for `opts.lang` (empty for extracted and dense models). */
  gates: FoldedGate[];
}

function encoderGraph(cfg: ModelConfig, read: F32Reader, lang: string | undefined): ModelGraph {
  const enc = new ModelGraph(cfg, read, lang);
  const g = enc.g;
  const ids = g.input('ids', INT64, ['B', 'S']);
  const pos = g.input('pos', INT64, ['S']);
  const bias = g.input('key_bias', FLOAT, ['B', 1, 1, 'S']);
  let x = enc.embed(ids, pos); // [B, S, D]
  for (const layer of modelPlan(cfg).encoder) x = enc.ffn(enc.selfAttn(x, layer.prefix, bias), layer);
  const out = enc.ln(x, 'encoder.norm', 'enc');
  g.output('enc', ['B', 'S', cfg.dModel]);
  const H = cfg.nHeads;
  for (let i = 0; i < cfg.decLayers; i++) {
    const p = `decoder.layers.${i}.cross_attn`;
    enc.heads(enc.lin(out, `${p}.k`), `cross_k.${i}`);
    enc.heads(enc.lin(out, `${p}.v`), `cross_v.${i}`);
    g.output(`cross_k.${i}`, ['B', H, 'S', cfg.dModel / H]);
    g.output(`cross_v.${i}`, ['B', H, 'S', cfg.dModel / H]);
  }
  return enc;
}

function prefixDecoderGraph(cfg: ModelConfig, read: F32Reader, lang: string | undefined): ModelGraph {
  const dec = new ModelGraph(cfg, read, lang);
  const g = dec.g;
  const tgt = g.input('tgt', INT64, ['B', 'T']);
  const pos = g.input('pos', INT64, ['T']);
  const causal = g.input('causal', FLOAT, [1, 1, 'T', 'T']);
  const encIn = g.input('enc', FLOAT, ['B', 'S', cfg.dModel]);
  const bias = g.input('key_bias', FLOAT, ['B', 1, 1, 'S']);
  let x = dec.embed(tgt, pos);
  for (const layer of modelPlan(cfg).decoder) {
    const p = layer.prefix;
    x = dec.selfAttn(x, p, causal);
    const h = dec.ln(x, `${p}.cross_attn_norm`);
    const a = dec.attn(
      dec.lin(h, `${p}.cross_attn.q`),
      dec.lin(encIn, `${p}.cross_attn.k`),
      dec.lin(encIn, `${p}.cross_attn.v`),
      bias,
    );
    x = g.op('Add', [x, dec.lin(a, `${p}.cross_attn.o`)]);
    x = dec.ffn(x, layer);
  }
  dec.logits(dec.ln(x, 'decoder.norm'), 'logits');
  g.output('logits', ['B', 'T', cfg.vocabSize]);
  return dec;
}

function stepDecoderGraph(cfg: ModelConfig, read: F32Reader, lang: string | undefined): ModelGraph {
  const dec = new ModelGraph(cfg, read, lang);
  const g = dec.g;
  const H = cfg.nHeads;
  const dh = cfg.dModel / H;
  const tok = g.input('tok', INT64, ['B', 1]);
  const pos = g.input('pos', INT64, [1]);
  const bias = g.input('key_bias', FLOAT, ['B', 1, 1, 'S']);
  let x = dec.embed(tok, pos); // [B, 1, D]
  for (const layer of modelPlan(cfg).decoder) {
    const i = layer.index;
    const p = layer.prefix;
    const pastK = g.input(`past_k.${i}`, FLOAT, ['B', H, 'P', dh]);
    const pastV = g.input(`past_v.${i}`, FLOAT, ['B', H, 'P', dh]);
    const crossK = g.input(`cross_k.${i}`, FLOAT, ['B', H, 'S', dh]);
    const crossV = g.input(`cross_v.${i}`, FLOAT, ['B', H, 'S', dh]);
    let h = dec.ln(x, `${p}.self_attn_norm`);
    // The new position sees every earlier one and itself: no causal mask in a single step.
    const k = g.op('Concat', [pastK, dec.heads(dec.lin(h, `${p}.self_attn.k`))], { axis: 2 }, `present_k.${i}`);
    const v = g.op('Concat', [pastV, dec.heads(dec.lin(h, `${p}.self_attn.v`))], { axis: 2 }, `present_v.${i}`);
    g.output(`present_k.${i}`, ['B', H, 'P1', dh]);
    g.output(`present_v.${i}`, ['B', H, 'P1', dh]);
    let a = dec.attend(dec.heads(dec.lin(h, `${p}.self_attn.q`)), k, v);
    x = g.op('Add', [x, dec.lin(a, `${p}.self_attn.o`)]);
    h = dec.ln(x, `${p}.cross_attn_norm`);
    a = dec.attend(dec.heads(dec.lin(h, `${p}.cross_attn.q`)), crossK, crossV, bias);
    x = g.op('Add', [x, dec.lin(a, `${p}.cross_attn.o`)]);
    x = dec.ffn(x, layer);
  }
  const logits = dec.logits(dec.ln(x, 'decoder.norm'), 'logits'); // [B, 1, V]
  g.op('LogSoftmax', [logits], { axis: -1 }, 'logp');
  g.output('logits', ['B', 1, cfg.vocabSize]);
  g.output('logp', ['B', 1, cfg.vocabSize]);
  return dec;
}

/**
 * Builds the encoder and decoder graphs of the model whose tensors `read` returns (trunk and task shard merged for an
 * extracted model). A model with unextracted task-routed layers needs `opts.lang`.
 */
export function exportOnnx(cfg: ModelConfig, read: F32Reader, opts: OnnxOptions = {}): OnnxModels {
  const enc = encoderGraph(cfg, read, opts.lang);
  const prefix = opts.decoder === 'prefix';
  const dec = (prefix ? prefixDecoderGraph : stepDecoderGraph)(cfg, read, opts.lang);
  return {
    encoder: enc.g.model('taskmoe-encoder'),
    decoder: dec.g.model(prefix ? 'taskmoe-decoder' : 'taskmoe-decoder-step'),
    gates: [...enc.gates, ...dec.gates],
  };
}

/** A reader over parsed shards, first match wins (a task's own shard before the trunk). */
export function shardReader(sources: readonly SafetensorsFile[]): F32Reader {
  return (name) => {
    for (const f of sources) {
      const info = f.tensors.get(name);
      if (info) return { shape: info.shape, data: f.f32(name) };
    }
    throw new ModelFormatError(`the model has no tensor "${name}"`);
  };
}
