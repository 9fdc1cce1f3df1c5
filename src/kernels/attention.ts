import shader from '../../shaders/attention.wgsl?raw';
import { type GpuContext, KernelInputError, type KernelSource, paramsSchema, type Recorder, type Tensor } from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, placeholder } from './common';
import { assembleShader, type KernelPlan, type ProfileTable } from './kernel-plan';

/** Queries per batch row at or below which the decode entry point (one workgroup per query) is used. */
export const ATTENTION_DECODE_MAX_QUERIES = 4;

/** Queries per workgroup of the tiled entry point `main` (BQ in the shader). */
const QUERY_TILE = 16;

/** Output columns of a head per workgroup (DV in the shader); wider heads take several column chunks (grid y). */
const HEAD_CHUNK = 64;

/** Flag bits of attention's `flags` uniform (emitted into the WGSL as FLAG_CAUSAL, FLAG_KEY_LENGTHS). */
export const ATTENTION_FLAGS = { CAUSAL: 1, KEY_LENGTHS: 2 } as const;

/** attention's uniform struct (emitted into the WGSL as `struct Params`). */
const ATTENTION_PARAMS = paramsSchema([
  ['B', 'u32', 'batch rows'],
  ['Tq', 'u32', 'queries per batch row'],
  ['Tk', 'u32', 'key rows per batch row (the row stride of k and v)'],
  ['D', 'u32', 'model width, H·dh'],
  ['H', 'u32', 'heads'],
  ['dh', 'u32', 'head width'],
  ['kv_len', 'u32', 'keys 0 .. kv_len-1 are valid'],
  ['q_offset', 'u32', 'absolute position of query 0 (causal masking)'],
  ['flags', 'u32', 'FLAG_* bits'],
  ['scale', 'f32', 'score scale, usually 1/sqrt(dh)'],
] as const);

/** Entry points of attention.wgsl: `main` tiles 16 queries per workgroup, `main_decode` serves one query each. */
export type AttentionEntry = 'main' | 'main_decode' | 'main_decode_serial';

/** Each entry point's override constants (`main_decode_serial`: threads per workgroup, SERIAL_WG). */
const ATTENTION_ENTRIES: Readonly<Record<AttentionEntry, Readonly<Record<string, number>>>> = {
  main: {},
  main_decode: {},
  main_decode_serial: { SERIAL_WG: 64 },
};

/**
 * The entry point for up to {@link ATTENTION_DECODE_MAX_QUERIES} queries per batch row (`decode`) and for more
 * (`many`) per kernel profile: CPU emulations take the barrier-free `main_decode_serial` (a thread per row, query,
 * head and column chunk) for any query count.
 */
const ATTENTION_PROFILES: ProfileTable<'decode' | 'many', AttentionEntry> = {
  gpu: { decode: 'main_decode', many: 'main' },
  emulated: { decode: 'main_decode_serial', many: 'main_decode_serial' },
};

/** Entry point, constants and grid of attention over B batch rows of Tq queries, H heads of width dh, on `ctx`. */
export function attentionPlan(
  ctx: GpuContext,
  B: number,
  Tq: number,
  H: number,
  dh: number,
): KernelPlan<AttentionEntry> {
  let entry = ATTENTION_PROFILES[ctx.kernelProfile][Tq <= ATTENTION_DECODE_MAX_QUERIES ? 'decode' : 'many'];
  const chunks = H * ceilDiv(dh, HEAD_CHUNK);
  const constants = ATTENTION_ENTRIES[entry];
  if (entry === 'main_decode_serial') {
    const groups = ceilDiv(B * Tq * chunks, constants.SERIAL_WG as number);
    // Past the grid limit the tiled `main` takes over (compiled then).
    if (groups <= ctx.limits.maxComputeWorkgroupsPerDimension) return { entry, constants, grid: [groups] };
    entry = 'main';
  }
  return {
    entry,
    constants: ATTENTION_ENTRIES[entry],
    grid: [entry === 'main' ? ceilDiv(Tq, QUERY_TILE) : Tq, chunks, B],
  };
}

/** The pipeline source of attention for an entry point (activations are always f32: there is one variant). */
export function attentionSource(entry: AttentionEntry): KernelSource {
  const code = assembleShader('attention:f32', () => ({
    prelude: '',
    params: ATTENTION_PARAMS,
    flags: ATTENTION_FLAGS,
    consts: { BQ: QUERY_TILE, DV: HEAD_CHUNK },
    body: shader,
  }));
  return { name: 'attention', variant: 'f32', entryPoint: entry, code, constants: ATTENTION_ENTRIES[entry] };
}

/** Every attention pipeline a model may use on `ctx` (the entry points {@link attentionPlan} picks, for compiling ahead). */
export function attentionSources(ctx: GpuContext): KernelSource[] {
  const entries = new Set([
    attentionPlan(ctx, 1, 1, 1, 1).entry,
    attentionPlan(ctx, 1, ATTENTION_DECODE_MAX_QUERIES + 1, 1, 1).entry,
  ]);
  return [...entries].map(attentionSource);
}

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** Number of heads H; D must be divisible by it (head width dh = D / H). */
  heads: number;
  /** Mask keys after the query's absolute position (decoder self-attention). */
  causal?: boolean;
  /**
   * Absolute position of query 0, for causal masking with a KV cache: key j is visible to query i iff
   * j <= qOffset + i. Default 0.
   */
  qOffset?: number;
  /** Keys 0..kvLength-1 are valid (the filled part of a preallocated cache). Default Tk. */
  kvLength?: number;
  /** u32 [B] padding mask: key j of batch row b is visible iff j < keyLengths[b]. */
  keyLengths?: Tensor;
  /** Score scale; default 1/sqrt(dh). */
  scale?: number;
  /** Write into this f32 tensor of B·Tq·D elements instead of a new one (must not share q, k or v's buffer). */
  out?: Tensor;
}

function expectIndex(kernel: string, what: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new KernelInputError(kernel, `${what} must be an integer in [${lo}, ${hi}], got ${v}`);
  }
}

/**
 * Multi-head scaled dot-product attention: out[b, i, head h] = Σ_j softmax_j(q_h·k_hᵀ·scale)·v_h[j] over the visible
 * keys j, with q f32 [B, Tq, D], k and v f32 [B, Tk, D], D = heads·dh, head h in columns h·dh .. h·dh+dh-1. Returns
 * f32 [B, Tq, D]. Self-attention (causal, optionally over a KV cache with `qOffset`/`kvLength`) and cross-attention
 * (over encoder states, `keyLengths` padding) both use it. A query with no visible key outputs zeros. The softmax is
 * an online (running-max) softmax in f32; shapes travel as uniforms, so no sequence length compiles a new pipeline.
 */
export function attention(rec: Recorder, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  const kernel = 'attention';
  const { keyLengths, out } = opts;
  expectLive(kernel, q, k, v, ...(keyLengths ? [keyLengths] : []), ...(out ? [out] : []));
  for (const [name, t] of [
    ['q', q],
    ['k', k],
    ['v', v],
  ] as const) {
    expectDType(kernel, name, t, 'f32');
    expectRank(kernel, name, t, 3);
  }
  const [B, Tq, D] = q.shape as [number, number, number];
  const Tk = k.shape[1] as number;
  if (k.shape[0] !== B || k.shape[2] !== D) {
    throw new KernelInputError(kernel, `k ${k.toString()} must be [${B}, Tk, ${D}] to match q ${q.toString()}`);
  }
  if (v.shape[0] !== B || v.shape[1] !== Tk || v.shape[2] !== D) {
    throw new KernelInputError(kernel, `v ${v.toString()} must have k's shape [${k.shape.join(', ')}]`);
  }
  const H = opts.heads;
  if (!Number.isInteger(H) || H < 1 || D < H || D % H !== 0) {
    throw new KernelInputError(kernel, `heads must be a positive integer dividing D = ${D}, got ${H}`);
  }
  const dh = D / H;
  const causal = opts.causal ?? false;
  const qOffset = opts.qOffset ?? 0;
  expectIndex(kernel, 'qOffset', qOffset, 0, 0x7fffffff - Tq);
  const kvLength = opts.kvLength ?? Tk;
  expectIndex(kernel, 'kvLength', kvLength, 0, Tk);
  const scale = opts.scale ?? 1 / Math.sqrt(dh);
  if (!Number.isFinite(scale)) throw new KernelInputError(kernel, `scale must be finite, got ${scale}`);
  if (keyLengths) {
    expectDType(kernel, 'keyLengths', keyLengths, 'u32');
    if (keyLengths.shape.length !== 1 || keyLengths.shape[0] !== B) {
      throw new KernelInputError(kernel, `keyLengths must be u32 [${B}], got ${keyLengths.toString()}`);
    }
  }
  if (out) {
    expectDType(kernel, 'out', out, 'f32');
    if (out.size !== B * Tq * D) {
      throw new KernelInputError(kernel, `out ${out.toString()} must hold [${B}, ${Tq}, ${D}]`);
    }
    if (out.buffer === q.buffer || out.buffer === k.buffer || out.buffer === v.buffer) {
      throw new KernelInputError(kernel, 'out must not share a buffer with q, k or v');
    }
  }
  const ctx = rec.ctx;
  const y = out ?? ctx.empty([B, Tq, D], 'f32', 'attention.out');
  const plan = attentionPlan(ctx, B, Tq, H, dh);
  const F = ATTENTION_FLAGS;
  const uniforms = ATTENTION_PARAMS.pack({
    B,
    Tq,
    Tk,
    D,
    H,
    dh,
    kv_len: kvLength,
    q_offset: qOffset,
    flags: (causal ? F.CAUSAL : 0) | (keyLengths ? F.KEY_LENGTHS : 0),
    scale,
  });
  try {
    rec.dispatch(attentionSource(plan.entry), uniforms, [q, k, v, keyLengths ?? placeholder(ctx, 'u32'), y], plan.grid);
  } catch (e) {
    if (!out) y.dispose();
    throw e;
  }
  return y;
}
