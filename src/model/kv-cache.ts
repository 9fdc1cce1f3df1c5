import { type GpuContext, KernelInputError, type Recorder, type Tensor } from '../gpu';
import { expectDType, expectLive, expectRank } from '../kernels/common';
import { kvWrite, type RowCopy, rowCopy } from '../kernels/kv-cache';
import type { OutLayout } from '../kernels/linear';

/**
 * A preallocated self-attention KV cache of one decoder layer: k and v f32 [batch, maxLen, dModel], of which positions
 * 0 .. length-1 are filled. Feed `k`, `v` and `length` to `attention` as `kvLength` (with `qOffset` = the position of
 * the first new query). Holds GPU memory: call `dispose()`.
 */
export class KvCache {
  /** The context whose pool holds k and v. */
  readonly ctx: GpuContext;
  /** Positions the cache can hold. */
  readonly maxLen: number;
  /** Width of a position (H·dh). */
  readonly dModel: number;
  /** Batch rows (beams × sentences); changes when `reorder` gathers a different number of rows. */
  batch: number;
  /** Keys, f32 [batch, maxLen, dModel]. Replaced (not rewritten) by `reorder`. */
  k: Tensor;
  /** Values, f32 [batch, maxLen, dModel]. Replaced (not rewritten) by `reorder`. */
  v: Tensor;
  /** Filled positions. */
  length = 0;

  constructor(ctx: GpuContext, batch: number, maxLen: number, dModel: number) {
    for (const [name, n] of [
      ['batch', batch],
      ['maxLen', maxLen],
      ['dModel', dModel],
    ] as const) {
      if (!Number.isInteger(n) || n < 1) {
        throw new KernelInputError('kv_cache', `${name} must be a positive integer, got ${n}`);
      }
    }
    this.ctx = ctx;
    this.batch = batch;
    this.maxLen = maxLen;
    this.dModel = dModel;
    this.k = ctx.empty([batch, maxLen, dModel], 'f32', 'kv_cache.k');
    this.v = ctx.empty([batch, maxLen, dModel], 'f32', 'kv_cache.v');
  }

  /**
   * Appends kNew and vNew f32 [batch, Tnew, dModel] at position `length`, then advances `length`. Both are checked
   * before either is written.
   */
  append(rec: Recorder, kNew: Tensor, vNew: Tensor): void {
    const kernel = 'kv_cache';
    expectLive(kernel, kNew, vNew, this.k, this.v);
    if (kNew.shape.length !== vNew.shape.length || kNew.shape.some((d, i) => d !== vNew.shape[i])) {
      throw new KernelInputError(kernel, `kNew ${kNew.toString()} and vNew ${vNew.toString()} must have one shape`);
    }
    expectDType(kernel, 'vNew', vNew, 'f32');
    expectRank(kernel, 'kNew', kNew, 3);
    const tNew = kNew.shape[1] as number;
    if (kNew.shape[0] !== this.batch || kNew.shape[2] !== this.dModel) {
      throw new KernelInputError(kernel, `kNew ${kNew.toString()} must be [${this.batch}, Tnew, ${this.dModel}]`);
    }
    if (this.length + tNew > this.maxLen) {
      throw new KernelInputError(
        kernel,
        `appending ${tNew} positions to ${this.length} overflows the cache of ${this.maxLen}; allocate a longer cache`,
      );
    }
    kvWrite(rec, kNew, this.k, this.length);
    kvWrite(rec, vNew, this.v, this.length);
    this.length += tNew;
  }

  /**
   * Reserves the next position for one new key/value row per batch row, advances `length`, and returns where a
   * linear writes them (`linear(..., { out: cache.k, outLayout })`, same for v): a decode step's k/v projections land
   * in the cache directly, with no copy. Throws {@link KernelInputError} if the cache is full.
   */
  reserveStep(): OutLayout {
    expectLive('kv_cache', this.k, this.v);
    if (this.length + 1 > this.maxLen) {
      throw new KernelInputError(
        'kv_cache',
        `appending 1 position to ${this.length} overflows the cache of ${this.maxLen}; allocate a longer cache`,
      );
    }
    const layout = { offset: this.length * this.dModel, rowStride: this.maxLen * this.dModel };
    this.length += 1;
    return layout;
  }

  /**
   * Replaces row i of k and v by the old row index[i] (index u32 [B2]; an index >= batch gives zeros), copying only
   * the filled positions. `batch` becomes B2 (so one sentence can be expanded to its beams). The old tensors are
   * disposed.
   */
  reorder(rec: Recorder, index: Tensor): void {
    const kernel = 'kv_cache';
    expectLive(kernel, index, this.k, this.v);
    expectDType(kernel, 'index', index, 'u32');
    expectRank(kernel, 'index', index, 1);
    const b2 = index.shape[0] as number;
    if (b2 < 1) throw new KernelInputError(kernel, `index must have at least one row, got ${index.toString()}`);
    const stride = this.maxLen * this.dModel;
    const k = this.ctx.empty([b2, this.maxLen, this.dModel], 'f32', 'kv_cache.k');
    const v = this.ctx.empty([b2, this.maxLen, this.dModel], 'f32', 'kv_cache.v');
    const copy: RowCopy = {
      rows: b2,
      width: this.length * this.dModel,
      srcRows: this.batch,
      srcStride: stride,
      srcOffset: 0,
      dstStride: stride,
      dstOffset: 0,
    };
    try {
      rowCopy(rec, this.k, index, k, copy);
      rowCopy(rec, this.v, index, v, copy);
    } catch (e) {
      k.dispose();
      v.dispose();
      throw e;
    }
    this.k.dispose();
    this.v.dispose();
    this.k = k;
    this.v = v;
    this.batch = b2;
  }

  /** Forgets the filled positions (the memory is kept for the next sentence). */
  reset(): void {
    this.length = 0;
  }

  /** Returns k and v to the buffer pool. */
  dispose(): void {
    this.k.dispose();
    this.v.dispose();
  }
}
