import type { BufferOwner } from './tensor';

/** Bytes in use and allocated by a pool. */
export interface PoolStats {
  /** Bytes of buffers handed out and not yet released. */
  bytesInUse: number;
  /** Bytes of every buffer the pool holds, in use or free. */
  bytesAllocated: number;
  /** Buffers released but waiting for the submit that used them. */
  pendingRelease: number;
  /** Buffers created since the pool was made (a rising number in steady state means reuse fails). */
  created: number;
}

/**
 * Rounds a size up to its class: powers of two split in quarters (at most 25 % waste), 256 bytes at least.
 * Sizes stay multiples of 16 so they are valid uniform and storage sizes.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes - 1));
  const step = p / 4;
  return p + Math.ceil((bytes - p) / step) * step;
}

/**
 * Pool of activation buffers keyed by size class and usage. A released buffer is reused only after the submit that
 * used it (`onSubmitted`), so a `queue.writeBuffer` into a reused buffer can never race a pending command.
 */
export class BufferPool implements BufferOwner {
  private readonly device: GPUDevice;
  private readonly free = new Map<string, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private readonly inUse = new Set<GPUBuffer>();
  private allocated = 0;
  private used = 0;
  private created = 0;

  constructor(device: GPUDevice) {
    this.device = device;
  }

  /** A buffer of at least `bytes` bytes with `usage`. Its contents are undefined. */
  acquire(bytes: number, usage: GPUBufferUsageFlags, label = 'activation'): GPUBuffer {
    const size = sizeClass(bytes);
    const key = `${size}:${usage}`;
    const list = this.free.get(key);
    let buffer = list?.pop();
    if (!buffer) {
      buffer = this.device.createBuffer({ size, usage, label });
      this.allocated += size;
      this.created++;
    }
    this.inUse.add(buffer);
    this.used += buffer.size;
    return buffer;
  }

  /** Gives a buffer back; it becomes reusable after the next submit. */
  releaseBuffer(buffer: GPUBuffer): void {
    if (!this.inUse.delete(buffer)) return;
    this.used -= buffer.size;
    this.pending.push(buffer);
  }

  /** Called after each queue submit: buffers released before it may be reused by later commands. */
  onSubmitted(): void {
    for (const b of this.pending) {
      const key = `${b.size}:${b.usage}`;
      let list = this.free.get(key);
      if (!list) {
        list = [];
        this.free.set(key, list);
      }
      list.push(b);
    }
    this.pending = [];
  }

  /** Destroys free buffers (not those in use), returning memory to the device. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.allocated -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }

  stats(): PoolStats {
    return {
      bytesInUse: this.used,
      bytesAllocated: this.allocated,
      pendingRelease: this.pending.length,
      created: this.created,
    };
  }

  /** Destroys every buffer the pool made. */
  dispose(): void {
    this.onSubmitted();
    this.trim();
    for (const b of this.inUse) b.destroy();
    this.inUse.clear();
    this.used = 0;
    this.allocated = 0;
  }
}
