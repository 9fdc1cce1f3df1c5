import shader from '../../shaders/embedding.wgsl?raw';
import { type GpuContext, KernelInputError, type KernelSource, paramsSchema, type Recorder, type Tensor } from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, placeholder, splitGrid } from './common';
import { assembleShader } from './kernel-plan';
import { type WeightVariant, weightPrelude, weightVariant } from './weights';

/** Invocations per workgroup (one output element each). */
export const EMBEDDING_WG = 256;

/** Flag bits of embedding's `flags` uniform (emitted into the WGSL as FLAG_POSITIONS). */
const EMBEDDING_FLAGS = { POSITIONS: 1 } as const;

/** embedding's uniform struct (emitted into the WGSL as `struct Params`). */
const EMBEDDING_PARAMS = paramsSchema([
  ['n_tokens', 'u32', 'ids'],
  ['T', 'u32', 'last dimension of ids: positions run along it'],
  ['D', 'u32', 'model width'],
  ['V', 'u32', 'vocabulary rows of the table'],
  ['scale', 'f32', "the model's sqrt(D)"],
  ['flags', 'u32', 'FLAG_POSITIONS: add positions'],
  ['pos_offset', 'u32', 'position of column 0 (decoding step t passes t)'],
] as const);

/** The pipeline source of embedding for a weight variant of the table. */
export function embeddingSource(variant: WeightVariant): KernelSource {
  const code = assembleShader(`embedding:${variant}`, () => ({
    prelude: weightPrelude(variant, ['table']),
    params: EMBEDDING_PARAMS,
    flags: EMBEDDING_FLAGS,
    body: shader,
  }));
  return { name: 'embedding', variant, code, constants: { WG: EMBEDDING_WG } };
}

/** Every embedding pipeline a model with `dtype` weights may use on `ctx` (for ahead-of-time compilation). */
export function embeddingSources(ctx: GpuContext, dtype: 'f32' | 'f16'): KernelSource[] {
  return [embeddingSource(weightVariant(ctx, dtype))];
}

/**
 * Frequencies f_i = 10000^(-2i/D) of the sinusoidal positions, i < ceil(D/2), each split as [hi, lo]: hi is f_i
 * rounded to 12 significant bits (so position · hi is exact in f32 below 4096) and lo = f32(f_i - hi).
 */
export function sinusoidFrequencies(D: number): Float32Array {
  const pairs = Math.ceil(D / 2);
  const out = new Float32Array(2 * pairs);
  for (let i = 0; i < pairs; i++) {
    const f = 10000 ** (-(2 * i) / D);
    const unit = 2 ** (Math.floor(Math.log2(f)) - 11);
    const hi = Math.round(f / unit) * unit;
    out[2 * i] = hi;
    out[2 * i + 1] = f - hi;
  }
  return out;
}

const freqTables = new WeakMap<GpuContext, Map<number, Tensor>>();

/** The frequency table of width D on ctx, made once and kept (a few KiB) until the context is disposed. */
function frequencyTable(ctx: GpuContext, D: number): Tensor {
  let m = freqTables.get(ctx);
  if (!m) {
    m = new Map();
    freqTables.set(ctx, m);
  }
  let t = m.get(D);
  if (!t || t.isDisposed) {
    t = ctx.createWeight(sinusoidFrequencies(D), [Math.ceil(D / 2), 2], 'f32', `embedding.freqs-${D}`);
    m.set(D, t);
  }
  return t;
}

/** Options of {@link embedding}. */
export interface EmbeddingOptions {
  /** Factor on the looked-up rows; the model passes sqrt(D). Default 1. */
  scale?: number;
  /** Add sinusoidal positions (interleaved sin/cos, Vaswani et al.). Default true. */
  positions?: boolean;
  /** Position of the first column of ids; decoding step t passes t. Default 0. */
  posOffset?: number;
}

/**
 * Token embedding: y[..., t, :] = table[ids[..., t], :] · scale + PE[posOffset + t, :] for ids u32 [..., T] and a
 * table [V, D] of f32 or f16; y is f32 [..., T, D]. An id >= V reads nothing and gives a zero row.
 */
export function embedding(rec: Recorder, ids: Tensor, table: Tensor, opts: EmbeddingOptions = {}): Tensor {
  const kernel = 'embedding';
  expectLive(kernel, ids, table);
  expectDType(kernel, 'ids', ids, 'u32');
  expectDType(kernel, 'table', table, 'f32', 'f16');
  expectRank(kernel, 'table', table, 2);
  if (ids.shape.length < 1) throw new KernelInputError(kernel, `ids must have rank >= 1, got ${ids.toString()}`);
  const [V, D] = table.shape as [number, number];
  if (D < 1) throw new KernelInputError(kernel, `table must have at least one column, got ${table.toString()}`);
  const scale = opts.scale ?? 1;
  const positions = opts.positions ?? true;
  const posOffset = opts.posOffset ?? 0;
  if (!Number.isFinite(scale)) throw new KernelInputError(kernel, `scale must be finite, got ${scale}`);
  const T = ids.shape[ids.shape.length - 1] as number;
  if (!Number.isInteger(posOffset) || posOffset < 0 || posOffset + T > 2 ** 24) {
    throw new KernelInputError(
      kernel,
      `posOffset must be an integer with 0 <= posOffset + T <= 2^24, got ${posOffset}`,
    );
  }
  const nTokens = ids.size;
  if (nTokens * D > 0xffffffff) {
    throw new KernelInputError(kernel, `${nTokens} tokens x ${D} features exceed 2^32 elements`);
  }
  const ctx = rec.ctx;
  const y = ctx.empty([...ids.shape, D], 'f32', 'embedding.y');
  const uniforms = EMBEDDING_PARAMS.pack({
    n_tokens: nTokens,
    T: Math.max(T, 1),
    D,
    V,
    scale,
    flags: positions ? EMBEDDING_FLAGS.POSITIONS : 0,
    pos_offset: posOffset,
  });
  const freqs = positions ? frequencyTable(ctx, D) : placeholder(ctx, 'f32');
  const src = embeddingSource(weightVariant(ctx, table.dtype));
  rec.dispatch(src, uniforms, [ids, table, freqs, y], splitGrid(ctx, ceilDiv(nTokens * D, EMBEDDING_WG)));
  return y;
}
