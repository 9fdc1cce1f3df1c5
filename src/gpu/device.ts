import { DeviceLostError, FeatureMissingError, LimitExceededError, WebGPUUnavailableError } from '../errors';
import { BufferPool, type PoolStats } from './buffer-pool';
import { PipelineCache } from './pipeline-cache';
import type { Profiler } from './profiler';
import { Recorder } from './recorder';
import { byteSizeOf, type DType, numel, packF16, Tensor, unpackF16 } from './tensor';

/** Optional features taskmoe uses when the adapter has them. */
export const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;
export type OptionalFeature = (typeof OPTIONAL_FEATURES)[number];

/** What the adapter says about itself, for logs and benchmark rows. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

/** Options of {@link createGpuContext}. */
export interface GpuContextOptions {
  /** The WebGPU entry point; defaults to `navigator.gpu`. In Node pass `await nodeGpu()` from `taskmoe/gpu/node`. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Features that must be present: a missing one throws {@link FeatureMissingError}. */
  requireFeatures?: readonly OptionalFeature[];
  /** Optional features not to enable even if present (to test fallbacks). */
  disableFeatures?: readonly OptionalFeature[];
  /** Called once when the device is lost (not when `dispose` destroys it). */
  onLost?: (error: DeviceLostError) => void;
  /**
   * Which kernel variants to use where a kernel has several: 'gpu' (coalesced loads, workgroup-memory reductions)
   * or 'emulated' (no barriers, one thread per output: what CPU emulations of a GPU such as SwiftShader and lavapipe
   * run fastest). Default: 'emulated' on a fallback adapter, else 'gpu'.
   */
  kernelProfile?: KernelProfile;
}

/** See {@link GpuContextOptions.kernelProfile}. */
export type KernelProfile = 'gpu' | 'emulated';

/** Short human-readable name of an adapter, e.g. "mesa llvmpipe (cpu)". */
export function adapterName(a: AdapterDescription): string {
  const parts = [a.vendor, a.architecture, a.device].filter((s) => s.length > 0);
  const name = parts.length ? parts.join(' ') : 'unknown adapter';
  return a.isFallbackAdapter ? `${name} (fallback)` : name;
}

/**
 * A WebGPU device with what taskmoe hangs on it: the buffer pool, the pipeline cache and the enabled features.
 * Holds GPU memory: call `dispose()`.
 */
export class GpuContext {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  readonly features: ReadonlySet<OptionalFeature>;
  readonly limits: GPUSupportedLimits;
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  /** Kernel variants chosen for this adapter (see {@link GpuContextOptions.kernelProfile}). */
  readonly kernelProfile: KernelProfile;
  /** When set, new recorders time every dispatch with it (benchmarks; see Profiler). */
  profiler: Profiler | null = null;
  private lostError: DeviceLostError | null = null;
  private disposed = false;

  constructor(
    device: GPUDevice,
    adapter: AdapterDescription,
    features: ReadonlySet<OptionalFeature>,
    onLost?: (e: DeviceLostError) => void,
    kernelProfile?: KernelProfile,
  ) {
    this.device = device;
    this.adapter = adapter;
    this.kernelProfile = kernelProfile ?? (adapter.isFallbackAdapter ? 'emulated' : 'gpu');
    this.features = features;
    this.limits = device.limits;
    this.pool = new BufferPool(device);
    this.pipelines = new PipelineCache(device);
    device.lost.then((info) => {
      if (this.disposed) return;
      this.lostError = new DeviceLostError(info.reason, info.message || 'no message');
      onLost?.(this.lostError);
    });
  }

  /** Whether the adapter's `shader-f16` feature is enabled on this device. */
  get hasF16(): boolean {
    return this.features.has('shader-f16');
  }

  get isLost(): boolean {
    return this.lostError !== null;
  }

  /** Throws the {@link DeviceLostError} if the device was lost. */
  assertAlive(): void {
    if (this.lostError) throw this.lostError;
    if (this.disposed) throw new DeviceLostError('destroyed', 'the GPU context was disposed');
  }

  /** Throws {@link LimitExceededError} if `t` cannot be bound as one storage buffer on this device. */
  checkBinding(t: Tensor, what: string): void {
    const max = this.limits.maxStorageBufferBindingSize;
    if (t.byteSize > max) {
      throw new LimitExceededError('maxStorageBufferBindingSize', t.byteSize, max, `${what}: tensor ${t.toString()}`);
    }
  }

  /** A pooled activation tensor with undefined contents. */
  empty(shape: readonly number[], dtype: DType = 'f32', label?: string): Tensor {
    this.assertAlive();
    const bytes = byteSizeOf(numel(shape), dtype);
    this.checkBufferSize(bytes, label ?? 'activation');
    const buf = this.pool.acquire(
      bytes,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label,
    );
    return new Tensor(buf, shape, dtype, this.pool);
  }

  /** A pooled tensor filled from `data` (f16 tensors take f32 values and are rounded on upload). */
  upload(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32', label?: string): Tensor {
    const t = this.empty(shape, dtype, label);
    this.device.queue.writeBuffer(t.buffer, 0, toBytes(data, numel(shape), dtype));
    return t;
  }

  /**
   * A tensor with its own exact-size buffer (weights): not pooled, destroyed on dispose. Data is written at
   * creation, so nothing else needs to be submitted first.
   */
  createWeight(data: ArrayLike<number>, shape: readonly number[], dtype: DType, label = 'weight'): Tensor {
    this.assertAlive();
    const n = numel(shape);
    const bytes = byteSizeOf(n, dtype);
    this.checkBufferSize(bytes, label);
    const buf = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      mappedAtCreation: true,
      label,
    });
    new Uint8Array(buf.getMappedRange()).set(new Uint8Array(toBytes(data, n, dtype)));
    buf.unmap();
    return new Tensor(buf, shape, dtype, null);
  }

  private checkBufferSize(bytes: number, what: string): void {
    if (bytes > this.limits.maxBufferSize) {
      throw new LimitExceededError('maxBufferSize', bytes, this.limits.maxBufferSize, what);
    }
  }

  /** A new recorder: one command encoder per forward step. */
  recorder(): Recorder {
    return new Recorder(this);
  }

  /**
   * Reads a tensor back (f16 unpacked to f32). Submit the recorder that produced it first. Float tensors come back as
   * Float32Array, u32 as Uint32Array, i32 as Int32Array.
   */
  async read(t: Tensor): Promise<Float32Array | Uint32Array | Int32Array> {
    this.assertAlive();
    const bytes = t.byteSize;
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder({ label: 'readback' });
    enc.copyBufferToBuffer(t.buffer, 0, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    this.pool.onSubmitted();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      staging.destroy();
      this.assertAlive();
      throw e;
    }
    const copy = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    switch (t.dtype) {
      case 'f32':
        return new Float32Array(copy, 0, t.size);
      case 'f16':
        return unpackF16(new Uint32Array(copy), t.size);
      case 'u32':
        return new Uint32Array(copy, 0, t.size);
      case 'i32':
        return new Int32Array(copy, 0, t.size);
    }
  }

  /** Resolves when every submitted command has finished. */
  async sync(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
  }

  /** Releases the pool and destroys the device. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pool.dispose();
    this.pipelines.clear();
    this.device.destroy();
  }
}

/**
 * Bytes of `n` elements of `dtype`. For f16, a Uint16Array is taken as raw half-float bits (as safetensors stores
 * them); any other array holds values that are rounded to half precision.
 */
function toBytes(data: ArrayLike<number>, n: number, dtype: DType): ArrayBuffer {
  if (data.length !== n) throw new RangeError(`data has ${data.length} elements, the shape needs ${n}`);
  let view: ArrayBufferView;
  switch (dtype) {
    case 'f32':
      view = data instanceof Float32Array ? data : Float32Array.from(data);
      break;
    case 'f16':
      view = data instanceof Uint16Array ? data : packF16(data);
      break;
    case 'u32':
      view = data instanceof Uint32Array ? data : Uint32Array.from(data);
      break;
    case 'i32':
      view = data instanceof Int32Array ? data : Int32Array.from(data);
      break;
  }
  const out = new Uint8Array(byteSizeOf(n, dtype));
  out.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  return out.buffer;
}

/**
 * Requests an adapter and a device with the adapter's full limits and the optional features it offers
 * (shader-f16, subgroups, timestamp-query).
 */
export async function createGpuContext(options: GpuContextOptions = {}): Promise<GpuContext> {
  const gpu = options.gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  if (!gpu) {
    throw new WebGPUUnavailableError(
      'WebGPU is not available here (no navigator.gpu). Use a browser with WebGPU enabled, serve the page from https or localhost, or in Node pass { gpu: await nodeGpu() }.',
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(
      options.powerPreference ? { powerPreference: options.powerPreference } : undefined,
    );
  } catch (cause) {
    throw new WebGPUUnavailableError('requestAdapter failed.', { cause });
  }
  if (!adapter) {
    throw new WebGPUUnavailableError(
      'No WebGPU adapter was found. On a machine without a GPU install a software Vulkan driver (scripts/install-system-deps.sh).',
    );
  }
  const disabled = new Set(options.disableFeatures ?? []);
  for (const f of options.requireFeatures ?? []) {
    if (!adapter.features.has(f) || disabled.has(f)) throw new FeatureMissingError(f);
  }
  const enabled = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));
  const requiredLimits: Record<string, number> = {};
  const lim = adapter.limits as unknown as Record<string, number>;
  for (const name of [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupsPerDimension',
  ]) {
    const v = lim[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: 'taskmoe',
      requiredFeatures: enabled as GPUFeatureName[],
      requiredLimits,
    });
  } catch (cause) {
    throw new WebGPUUnavailableError('requestDevice failed.', { cause });
  }
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const description: AdapterDescription = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: Boolean(
      (info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined)?.isFallbackAdapter ??
        (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter,
    ),
  };
  return new GpuContext(device, description, new Set(enabled), options.onLost, options.kernelProfile);
}

export type { PoolStats };
