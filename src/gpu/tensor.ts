import { KernelInputError } from '../errors';

/** Element types a tensor can hold. `f16` is stored packed, two values per 32-bit word. */
export type DType = 'f32' | 'f16' | 'u32' | 'i32';

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Bytes needed to store `n` elements of `dtype`, rounded up to a multiple of 4 (WebGPU's copy alignment). */
export function byteSizeOf(n: number, dtype: DType): number {
  const raw = dtype === 'f16' ? n * 2 : n * 4;
  return Math.max(4, Math.ceil(raw / 4) * 4);
}

/** Owner that takes a tensor's buffer back when the tensor is disposed. */
export interface BufferOwner {
  releaseBuffer(buffer: GPUBuffer): void;
}

/**
 * A view of a GPU buffer as an n-dimensional array. Activations are owned by the buffer pool (returned to it on
 * dispose, after the submit that used them); weights are owned by a weight store.
 */
export class Tensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: DType;
  private owner: BufferOwner | null;
  private disposed = false;
  private isView = false;

  constructor(buffer: GPUBuffer, shape: readonly number[], dtype: DType, owner: BufferOwner | null) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new KernelInputError('tensor', `invalid shape [${shape.join(', ')}]`);
    }
    if (byteSizeOf(numel(shape), dtype) > buffer.size) {
      throw new KernelInputError(
        'tensor',
        `shape [${shape.join(', ')}] ${dtype} does not fit a ${buffer.size}-byte buffer`,
      );
    }
    this.buffer = buffer;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.owner = owner;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** Bytes the elements occupy (not the buffer's size, which may be larger). */
  get byteSize(): number {
    return byteSizeOf(this.size, this.dtype);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * A view of the same buffer with another shape of the same element count. The view does not own the buffer:
   * disposing it does nothing, and it must not be used after the tensor it came from is disposed.
   */
  reshape(shape: readonly number[]): Tensor {
    if (numel(shape) !== this.size) {
      throw new KernelInputError('tensor', `cannot reshape ${this.toString()} to [${shape.join(', ')}]`);
    }
    const view = new Tensor(this.buffer, shape, this.dtype, null);
    view.isView = true;
    return view;
  }

  /** Returns the buffer to its owner (or destroys it). Idempotent; a no-op on views. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.isView) return;
    if (this.owner) this.owner.releaseBuffer(this.buffer);
    else this.buffer.destroy();
    this.owner = null;
  }

  toString(): string {
    return `Tensor<${this.dtype}>[${this.shape.join(', ')}]`;
  }
}

/** Packs f32 values into IEEE half floats, two per u32 (little end first), rounding to nearest even. */
export function packF16(values: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    const h = f32ToF16Bits(values[i] as number);
    out[i >> 1] = (out[i >> 1] as number) | (h << ((i & 1) * 16));
  }
  return out;
}

/** Unpacks `n` half floats from a packed u32 array. */
export function unpackF16(packed: Uint32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f16BitsToF32(((packed[i >> 1] as number) >>> ((i & 1) * 16)) & 0xffff);
  return out;
}

const f32Buf = new Float32Array(1);
const u32Buf = new Uint32Array(f32Buf.buffer);

/** IEEE 754 binary16 bits of `v`, round to nearest even, with overflow to infinity and subnormals. */
export function f32ToF16Bits(v: number): number {
  f32Buf[0] = v;
  const x = u32Buf[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** f32 value of IEEE binary16 bits. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
