import code from '../../shaders/attention.wgsl?raw';
import {
  type GpuContext,
  KernelInputError,
  type KernelSource,
  type Recorder,
  type Tensor,
  UniformBuilder,
} from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, placeholder } from './common';

/** Queries per batch row at or below which the decode entry point (one workgroup per query) is used. */
export const ATTENTION_DECODE_MAX_QUERIES = 4;

/** Queries per workgroup of the tiled entry point (`main`). */
const QUERY_TILE = 16;

/** Output columns of a head per workgroup; wider heads take several column chunks (grid y). */
const HEAD_CHUNK = 64;

/** Entry points of attention.wgsl: `main` tiles 16 queries per workgroup, `main_decode` serves one query each. */
export type AttentionEntry = 'main' | 'main_decode' | 'main_decode_serial';

/** The pipeline source of attention for an entry point (activations are always f32: there is one variant). */
export function attentionSource(entry: AttentionEntry): KernelSource {
  return { name: 'attention', variant: 'f32', entryPoint: entry, code };
}

/** Every attention pipeline a model may use (for ahead-of-time compilation); `ctx` is taken for symmetry. */
export function attentionSources(ctx?: GpuContext): KernelSource[] {
  // CPU emulations use the serial entry point for every query count (`main` only past the grid limit: compiled then).
  if (ctx?.kernelProfile === 'emulated') return [attentionSource('main_decode_serial')];
  return [attentionSource('main'), attentionSource('main_decode')];
}

/** The decode entry point for a context's kernel profile (barrier-free `main_decode_serial` on CPU emulations). */
function decodeEntry(ctx?: GpuContext): AttentionEntry {
  return ctx?.kernelProfile === 'emulated' ? 'main_decode_serial' : 'main_decode';
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
  // CPU emulations take the barrier-free serial entry point for any query count (a thread per row/query/head chunk).
  const serialThreads = B * Tq * H * ceilDiv(dh, HEAD_CHUNK);
  const serial =
    ctx.kernelProfile === 'emulated' && ceilDiv(serialThreads, 64) <= ctx.limits.maxComputeWorkgroupsPerDimension;
  const entry: AttentionEntry = Tq <= ATTENTION_DECODE_MAX_QUERIES || serial ? decodeEntry(ctx) : 'main';
  const uniforms = new UniformBuilder()
    .u32(B)
    .u32(Tq)
    .u32(Tk)
    .u32(D)
    .u32(H)
    .u32(dh)
    .u32(kvLength)
    .u32(qOffset)
    .u32((causal ? 1 : 0) | (keyLengths ? 2 : 0))
    .f32(scale)
    .u32(0)
    .u32(0)
    .build();
  const grid =
    entry === 'main_decode_serial'
      ? ([ceilDiv(B * Tq * H * ceilDiv(dh, HEAD_CHUNK), 64)] as const)
      : ([entry === 'main' ? ceilDiv(Tq, QUERY_TILE) : Tq, H * ceilDiv(dh, HEAD_CHUNK), B] as const);
  try {
    rec.dispatch(attentionSource(entry), uniforms, [q, k, v, keyLengths ?? placeholder(ctx, 'u32'), y], grid);
  } catch (e) {
    if (!out) y.dispose();
    throw e;
  }
  return y;
}
