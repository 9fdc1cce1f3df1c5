// ONNX graphs of a dense sub-network (an extracted task model's trunk plus one language's shard, or a dense model), for
// onnxruntime-web's WASM backend where WebGPU is missing. Two graphs: the encoder, and a decoder that recomputes the
// whole target prefix (no cache) and returns logits for every position. Positions, padding and causal masks are
// inputs computed by the caller, so the graphs have no shape arithmetic. Weights are exported as f32.
import { type ModelConfig, ModelFormatError } from '../model/config';
import type { SafetensorsFile } from './safetensors';

/** Reads one tensor of the sub-network as f32 (trunk and task shard merged; names as in a dense model). */
export type F32Reader = (name: string) => { shape: readonly number[]; data: Float32Array };

// --- a minimal protobuf writer (onnx.proto3 field numbers) ---

class Pb {
  private readonly parts: number[] = [];
  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.parts.push(Number((x & 0x7fn) | 0x80n));
      x >>= 7n;
    }
    this.parts.push(Number(x));
  }
  int(field: number, v: number | bigint): this {
    this.varint(field << 3);
    this.varint(v);
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(b.byteLength);
    for (const x of b) this.parts.push(x);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }
  float(field: number, v: number): this {
    this.varint((field << 3) | 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.parts.push(x);
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
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

  output(name: string, dims: Array<number | string>): void {
    this.outputs.push(this.valueInfo(name, FLOAT, dims));
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

class ModelGraph {
  readonly g = new GraphBuilder();
  private readonly cfg: ModelConfig;
  private readonly read: F32Reader;
  private readonly done = new Map<string, string>();

  constructor(cfg: ModelConfig, read: F32Reader) {
    this.cfg = cfg;
    this.read = read;
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

  private has(name: string): boolean {
    try {
      this.read(name);
      return true;
    } catch {
      return false;
    }
  }

  lin(x: string, name: string, relu = false, scale?: string): string {
    let y = this.g.op('Add', [this.g.op('MatMul', [x, this.w(`${name}.weight`, true)]), this.w(`${name}.bias`)]);
    if (relu) y = this.g.op('Relu', [y]);
    if (scale) y = this.g.op('Mul', [y, this.w(scale)]);
    return y;
  }

  ln(x: string, name: string): string {
    return this.g.op('LayerNormalization', [x, this.w(`${name}.weight`), this.w(`${name}.bias`)], {
      axis: -1,
      epsilon: { f: this.cfg.lnEps },
    });
  }

  embed(ids: string, pos: string): string {
    const cfg = this.cfg;
    const pe = this.done.get('pe') ?? this.g.f32('pe', [cfg.maxLen, cfg.dModel], positionTable(cfg.maxLen, cfg.dModel));
    this.done.set('pe', pe);
    const e = this.g.op('Mul', [
      this.g.op('Gather', [this.w('embed.weight'), ids]),
      this.g.scalar(Math.sqrt(cfg.dModel)),
    ]);
    return this.g.op('Add', [e, this.g.op('Gather', [pe, pos])]);
  }

  /** Multi-head attention of q [B, Tq, D] over k, v [B, Tk, D] with an additive bias broadcast to [B, H, Tq, Tk]. */
  attn(q: string, k: string, v: string, bias: string): string {
    const H = this.cfg.nHeads;
    const dh = this.cfg.dModel / H;
    const split = this.g.i64([0, 0, H, dh]);
    const heads = (x: string, perm: number[]): string =>
      this.g.op('Transpose', [this.g.op('Reshape', [x, split])], { perm });
    const s = this.g.op('Add', [
      this.g.op('Mul', [
        this.g.op('MatMul', [heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])]),
        this.g.scalar(1 / Math.sqrt(dh)),
      ]),
      bias,
    ]);
    const o = this.g.op('MatMul', [this.g.op('Softmax', [s], { axis: -1 }), heads(v, [0, 2, 1, 3])]);
    return this.g.op('Reshape', [
      this.g.op('Transpose', [o], { perm: [0, 2, 1, 3] }),
      this.g.i64([0, 0, this.cfg.dModel]),
    ]);
  }

  ffn(x: string, p: string): string {
    if (!this.has(`${p}.ffn.wi.weight`)) {
      throw new ModelFormatError(
        `${p} is an MoE layer: only dense sub-networks (extracted task models, dense models) export to ONNX`,
      );
    }
    const h = this.ln(x, `${p}.ffn_norm`);
    const scale = this.has(`${p}.ffn.wi.scale`) ? `${p}.ffn.wi.scale` : undefined;
    return this.g.op('Add', [x, this.lin(this.lin(h, `${p}.ffn.wi`, true, scale), `${p}.ffn.wo`)]);
  }
}

/** The two ONNX models of a dense sub-network. */
export interface OnnxModels {
  /**
   * Inputs ids int64 [B, S], pos int64 [S] (0..S-1), key_bias f32 [B, 1, 1, S] (0, or -1e9 at padding); output enc
   * f32 [B, S, D] (after the final layer norm).
   */
  encoder: Uint8Array;
  /**
   * Inputs tgt int64 [B, T] (<s> then the tokens so far), pos int64 [T], causal f32 [1, 1, T, T] (0 on and below the
   * diagonal, -1e9 above), enc f32 [B, S, D], key_bias f32 [B, 1, 1, S]; output logits f32 [B, T, V].
   */
  decoder: Uint8Array;
}

/** Builds the encoder and decoder graphs of the sub-network whose tensors `read` returns. */
export function exportOnnx(cfg: ModelConfig, read: F32Reader): OnnxModels {
  const enc = new ModelGraph(cfg, read);
  {
    const g = enc.g;
    const ids = g.input('ids', INT64, ['B', 'S']);
    const pos = g.input('pos', INT64, ['S']);
    const bias = g.input('key_bias', FLOAT, ['B', 1, 1, 'S']);
    let x = enc.embed(ids, pos);
    for (let i = 0; i < cfg.encLayers; i++) {
      const p = `encoder.layers.${i}`;
      const h = enc.ln(x, `${p}.self_attn_norm`);
      const a = enc.attn(
        enc.lin(h, `${p}.self_attn.q`),
        enc.lin(h, `${p}.self_attn.k`),
        enc.lin(h, `${p}.self_attn.v`),
        bias,
      );
      x = g.op('Add', [x, enc.lin(a, `${p}.self_attn.o`)]);
      x = enc.ffn(x, p);
    }
    g.op(
      'LayerNormalization',
      [x, 'encoder.norm.weight', 'encoder.norm.bias'],
      { axis: -1, epsilon: { f: cfg.lnEps } },
      'enc',
    );
    g.f32('encoder.norm.weight', [cfg.dModel], read('encoder.norm.weight').data);
    g.f32('encoder.norm.bias', [cfg.dModel], read('encoder.norm.bias').data);
    g.output('enc', ['B', 'S', cfg.dModel]);
  }
  const dec = new ModelGraph(cfg, read);
  {
    const g = dec.g;
    const tgt = g.input('tgt', INT64, ['B', 'T']);
    const pos = g.input('pos', INT64, ['T']);
    const causal = g.input('causal', FLOAT, [1, 1, 'T', 'T']);
    const encIn = g.input('enc', FLOAT, ['B', 'S', cfg.dModel]);
    const bias = g.input('key_bias', FLOAT, ['B', 1, 1, 'S']);
    let x = dec.embed(tgt, pos);
    for (let i = 0; i < cfg.decLayers; i++) {
      const p = `decoder.layers.${i}`;
      let h = dec.ln(x, `${p}.self_attn_norm`);
      let a = dec.attn(
        dec.lin(h, `${p}.self_attn.q`),
        dec.lin(h, `${p}.self_attn.k`),
        dec.lin(h, `${p}.self_attn.v`),
        causal,
      );
      x = g.op('Add', [x, dec.lin(a, `${p}.self_attn.o`)]);
      h = dec.ln(x, `${p}.cross_attn_norm`);
      a = dec.attn(
        dec.lin(h, `${p}.cross_attn.q`),
        dec.lin(encIn, `${p}.cross_attn.k`),
        dec.lin(encIn, `${p}.cross_attn.v`),
        bias,
      );
      x = g.op('Add', [x, dec.lin(a, `${p}.cross_attn.o`)]);
      x = dec.ffn(x, p);
    }
    const h = dec.ln(x, 'decoder.norm');
    // Tied output projection: logits = h · embedᵀ.
    const embT = g.f32(
      'embed.weight:T',
      [cfg.dModel, cfg.vocabSize],
      transpose(read('embed.weight').data, cfg.vocabSize, cfg.dModel),
    );
    g.op('MatMul', [h, embT], {}, 'logits');
    g.output('logits', ['B', 'T', cfg.vocabSize]);
  }
  return { encoder: enc.g.model('taskmoe-encoder'), decoder: dec.g.model('taskmoe-decoder') };
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
