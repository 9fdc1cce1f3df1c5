import { LimitExceededError } from '../errors';
import type { GpuContext } from './device';
import type { KernelSource } from './pipeline-cache';
import type { Profiler } from './profiler';
import type { Tensor } from './tensor';

/** A workgroup grid: x, and optionally y and z. */
export type Grid = readonly [number, number?, number?];

/**
 * Records one forward step into a single command encoder and compute pass, and submits it once. Binding convention
 * of every taskmoe shader: `@binding(0)` is the uniform struct of shapes and scalars, then the tensors in the order
 * the wrapper passes them, at bindings 1, 2, ...
 */
export class Recorder {
  readonly ctx: GpuContext;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly uniformBuffers: GPUBuffer[] = [];
  private dispatches = 0;
  /** When set, every dispatch runs in its own pass with GPU timestamps (see Profiler). */
  profiler: Profiler | null = null;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.profiler = ctx.profiler;
  }

  private getEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.ctx.device.createCommandEncoder({ label: 'taskmoe-step' });
    return this.encoder;
  }

  private getPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.getEncoder().beginComputePass({ label: 'taskmoe-compute' });
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Number of dispatches recorded since the last submit. */
  get pendingDispatches(): number {
    return this.dispatches;
  }

  /**
   * Records one dispatch of `src` with `uniforms` at binding 0 and `tensors` at bindings 1..n. Checks every binding
   * against the device's storage-binding limit and the grid against the workgroup-count limit before recording.
   */
  dispatch(src: KernelSource, uniforms: ArrayBuffer, tensors: readonly Tensor[], grid: Grid): void {
    const ctx = this.ctx;
    ctx.assertAlive();
    const limits = ctx.limits;
    for (const t of tensors) ctx.checkBinding(t, src.name);
    const [x, y = 1, z = 1] = grid;
    for (const d of [x, y, z]) {
      if (d > limits.maxComputeWorkgroupsPerDimension) {
        throw new LimitExceededError(
          'maxComputeWorkgroupsPerDimension',
          d,
          limits.maxComputeWorkgroupsPerDimension,
          `${src.name} (${src.variant})`,
        );
      }
    }
    if (x === 0 || y === 0 || z === 0) return;
    const pipeline = ctx.pipelines.get(src);
    const ub = ctx.pool.acquire(uniforms.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'uniforms');
    ctx.device.queue.writeBuffer(ub, 0, uniforms);
    this.uniformBuffers.push(ub);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: ub, size: uniforms.byteLength } }];
    tensors.forEach((t, i) => {
      entries.push({ binding: i + 1, resource: { buffer: t.buffer, size: t.byteSize } });
    });
    const bindGroup = ctx.device.createBindGroup({
      label: src.name,
      layout: pipeline.getBindGroupLayout(0),
      entries,
    });
    // Profiles group dispatches by kernel, entry point and grid (which linear of a step is which).
    const timestampWrites = this.profiler?.next(
      `${src.name}${src.entryPoint ? `.${src.entryPoint}` : ''} [${x}x${y}x${z}]`,
    );
    if (timestampWrites) this.endPass();
    const pass = timestampWrites
      ? this.getEncoder().beginComputePass({ label: src.name, timestampWrites })
      : this.getPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (timestampWrites) pass.end();
    this.dispatches++;
  }

  /** Records a buffer-to-buffer copy (ends the current compute pass). */
  copy(src: Tensor, dst: Tensor, bytes = Math.min(src.byteSize, dst.byteSize), srcOffset = 0, dstOffset = 0): void {
    this.endPass();
    this.getEncoder().copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
  }

  /** Finishes and submits the step; buffers released while recording become reusable afterwards. */
  submit(): void {
    this.endPass();
    if (this.encoder) {
      this.ctx.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
    }
    for (const ub of this.uniformBuffers) this.ctx.pool.releaseBuffer(ub);
    this.uniformBuffers.length = 0;
    this.dispatches = 0;
    this.ctx.pool.onSubmitted();
  }
}
