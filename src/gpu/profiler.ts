import { FeatureMissingError } from '../errors';
import type { GpuContext } from './device';

/** GPU time of one kernel family (the shader's name) over a profiled run. */
export interface ProfileRow {
  kernel: string;
  dispatches: number;
  totalMs: number;
}

/**
 * Per-dispatch GPU timestamps (feature `timestamp-query`). Attach to a Recorder with `rec.profiler = p`; each dispatch
 * then runs in its own compute pass with begin/end timestamps, and `read()` sums GPU time by kernel name.
 */
export class Profiler {
  private readonly ctx: GpuContext;
  private readonly capacity: number;
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer;
  private labels: string[] = [];
  private readonly totals = new Map<string, ProfileRow>();

  constructor(ctx: GpuContext, capacity = 2048) {
    if (!ctx.features.has('timestamp-query')) throw new FeatureMissingError('timestamp-query');
    this.ctx = ctx;
    this.capacity = capacity;
    this.querySet = ctx.device.createQuerySet({ type: 'timestamp', count: capacity * 2 });
    this.resolveBuf = ctx.device.createBuffer({
      size: capacity * 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
  }

  /** Timestamp writes for the next dispatch, or undefined when the query set is full (call `read()` more often). */
  next(kernel: string): GPUComputePassTimestampWrites | undefined {
    const i = this.labels.length;
    if (i >= this.capacity) return undefined;
    this.labels.push(kernel);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Reads the timestamps recorded since the last read (submit the recorder first) and adds them to the totals. */
  async read(): Promise<void> {
    const n = this.labels.length;
    if (n === 0) return;
    const enc = this.ctx.device.createCommandEncoder({ label: 'profiler' });
    enc.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuf, 0);
    const staging = this.ctx.device.createBuffer({
      size: n * 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    enc.copyBufferToBuffer(this.resolveBuf, 0, staging, 0, n * 16);
    this.ctx.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    this.labels.forEach((kernel, i) => {
      const ms = Number((t[2 * i + 1] as bigint) - (t[2 * i] as bigint)) / 1e6;
      const row = this.totals.get(kernel) ?? { kernel, dispatches: 0, totalMs: 0 };
      row.dispatches++;
      row.totalMs += Math.max(0, ms);
      this.totals.set(kernel, row);
    });
    this.labels = [];
  }

  /** Totals by kernel, largest first. */
  rows(): ProfileRow[] {
    return [...this.totals.values()].sort((a, b) => b.totalMs - a.totalMs);
  }

  reset(): void {
    this.totals.clear();
    this.labels = [];
  }

  dispose(): void {
    this.querySet.destroy();
    this.resolveBuf.destroy();
  }
}
