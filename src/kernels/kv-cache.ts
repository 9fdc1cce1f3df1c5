import shader from '../../shaders/kv_cache.wgsl?raw';
import { type GpuContext, KernelInputError, type KernelSource, paramsSchema, type Recorder, type Tensor } from '../gpu';
import { ceilDiv, expectDType, expectLive, expectRank, placeholder } from './common';
import { assembleShader } from './kernel-plan';

/** Threads per workgroup (WG in the shader). */
const WG = 256;
/** Most workgroups along x: the shader's grid-stride loop covers longer rows. */
const MAX_GRID_X = 4096;

/** Flag bits of kv_cache's `flags` uniform (emitted into the WGSL as FLAG_INDEX). */
const KV_CACHE_FLAGS = { INDEX: 1 } as const;

/** kv_cache's uniform struct (emitted into the WGSL as `struct Params`). */
const KV_CACHE_PARAMS = paramsSchema([
  ['rows', 'u32', 'destination rows'],
  ['width', 'u32', 'words copied per row'],
  ['src_rows', 'u32', 'rows of src: a larger source index reads zeros'],
  ['src_stride', 'u32', 'words between source rows'],
  ['src_offset', 'u32', 'first word copied of each source row'],
  ['dst_stride', 'u32', 'words between destination rows'],
  ['dst_offset', 'u32', 'first word written of each destination row'],
  ['flags', 'u32', 'FLAG_INDEX: index given'],
] as const);

/** The pipeline source of kv_cache (a raw 32-bit word copy: one variant serves every dtype). */
export function kvCacheSource(): KernelSource {
  const code = assembleShader('kv_cache:u32', () => ({
    prelude: '',
    params: KV_CACHE_PARAMS,
    flags: KV_CACHE_FLAGS,
    consts: { WG },
    body: shader,
  }));
  return { name: 'kv_cache', variant: 'u32', code };
}

/** Every kv_cache pipeline (for ahead-of-time compilation); `ctx` is taken for symmetry. */
export function kvCacheSources(_ctx?: GpuContext): KernelSource[] {
  return [kvCacheSource()];
}

/** One strided row copy of kv_cache.wgsl (word units). */
export interface RowCopy {
  rows: number;
  /** Words per row. */
  width: number;
  srcRows: number;
  srcStride: number;
  srcOffset: number;
  dstStride: number;
  dstOffset: number;
}

/**
 * Records the strided row copy of kv_cache.wgsl: row i of dst (at dstOffset + i·dstStride) gets `width` words of src
 * row index[i] (or row i without an index; a row >= srcRows gives zeros). Inputs already validated by the caller.
 */
export function rowCopy(rec: Recorder, src: Tensor, index: Tensor | null, dst: Tensor, c: RowCopy): void {
  const uniforms = KV_CACHE_PARAMS.pack({
    rows: c.rows,
    width: c.width,
    src_rows: c.srcRows,
    src_stride: c.srcStride,
    src_offset: c.srcOffset,
    dst_stride: c.dstStride,
    dst_offset: c.dstOffset,
    flags: index ? KV_CACHE_FLAGS.INDEX : 0,
  });
  const gx = Math.min(ceilDiv(c.width, WG), MAX_GRID_X);
  rec.dispatch(kvCacheSource(), uniforms, [src, index ?? placeholder(rec.ctx, 'u32'), dst], [gx, c.rows]);
}

/**
 * Writes src f32 [B, Tnew, D] into rows offset .. offset+Tnew-1 of every batch row of cache f32 [B, Tmax, D].
 * Throws {@link KernelInputError} (before dispatching) if the shapes disagree or offset + Tnew > Tmax.
 */
export function kvWrite(rec: Recorder, src: Tensor, cache: Tensor, offset: number): void {
  const kernel = 'kv_cache';
  expectLive(kernel, src, cache);
  expectDType(kernel, 'src', src, 'f32');
  expectDType(kernel, 'cache', cache, 'f32');
  expectRank(kernel, 'src', src, 3);
  expectRank(kernel, 'cache', cache, 3);
  const [B, Tnew, D] = src.shape as [number, number, number];
  const [Bc, Tmax, Dc] = cache.shape as [number, number, number];
  if (Bc !== B || Dc !== D) {
    throw new KernelInputError(kernel, `src ${src.toString()} does not match cache ${cache.toString()} in B or D`);
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw new KernelInputError(kernel, `offset must be a non-negative integer, got ${offset}`);
  }
  if (offset + Tnew > Tmax) {
    throw new KernelInputError(
      kernel,
      `writing ${Tnew} positions at offset ${offset} overflows the cache of ${Tmax} positions; allocate a longer cache`,
    );
  }
  if (src.buffer === cache.buffer) throw new KernelInputError(kernel, 'src must not share the cache buffer');
  rowCopy(rec, src, null, cache, {
    rows: B,
    width: Tnew * D,
    srcRows: B,
    srcStride: Tnew * D,
    srcOffset: 0,
    dstStride: Tmax * D,
    dstOffset: offset * D,
  });
}

/** Options of {@link gatherRows}. */
export interface GatherRowsOptions {
  /** Write into this tensor (same dtype as src, B2 rows of the same size) instead of a new one. */
  out?: Tensor;
}

/** Words per row of `t` (all dimensions after the first), checking that f16 rows are whole words. */
function rowWords(kernel: string, t: Tensor): number {
  let n = 1;
  for (let i = 1; i < t.shape.length; i++) n *= t.shape[i] as number;
  if (t.dtype === 'f16') {
    if (n % 2 !== 0) throw new KernelInputError(kernel, `f16 rows must have an even size, got ${t.toString()}`);
    return n / 2;
  }
  return n;
}

/**
 * out[i] = src[index[i]] for src [B, ...rest] and index u32 [B2]; returns [B2, ...rest] of src's dtype. An index >= B
 * yields a row of zeros (never an out-of-bounds read). Used to reorder KV caches between beam-search steps.
 */
export function gatherRows(rec: Recorder, src: Tensor, index: Tensor, opts: GatherRowsOptions = {}): Tensor {
  const kernel = 'gather_rows';
  const { out } = opts;
  expectLive(kernel, src, index, ...(out ? [out] : []));
  if (src.shape.length < 1) throw new KernelInputError(kernel, `src must have rank >= 1, got ${src.toString()}`);
  expectDType(kernel, 'index', index, 'u32');
  expectRank(kernel, 'index', index, 1);
  const B = src.shape[0] as number;
  const B2 = index.shape[0] as number;
  const width = rowWords(kernel, src);
  const shape = [B2, ...src.shape.slice(1)];
  if (out) {
    if (out.dtype !== src.dtype) throw new KernelInputError(kernel, `out must be ${src.dtype}, got ${out.toString()}`);
    if (out.shape.length !== shape.length || out.shape.some((d, i) => d !== shape[i])) {
      throw new KernelInputError(kernel, `out must be [${shape.join(', ')}], got ${out.toString()}`);
    }
    if (out.buffer === src.buffer || out.buffer === index.buffer) {
      throw new KernelInputError(kernel, 'out must not share a buffer with src or index (gather into a new tensor)');
    }
  }
  const y = out ?? rec.ctx.empty(shape, src.dtype, 'gather_rows.out');
  try {
    rowCopy(rec, src, index, y, {
      rows: B2,
      width,
      srcRows: B,
      srcStride: width,
      srcOffset: 0,
      dstStride: width,
      dstOffset: 0,
    });
  } catch (e) {
    if (!out) y.dispose();
    throw e;
  }
  return y;
}
