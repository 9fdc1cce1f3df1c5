/** Source of one compute pipeline: a kernel family, its variant and its WGSL. */
export interface KernelSource {
  /** Kernel family, the shader file's name: labels, cache keys and profile rows start with it. */
  readonly name: string;
  /** Variant key inside the family (dtype, fused epilogue, ...). Never a shape: shapes travel as uniforms. */
  readonly variant: string;
  readonly code: string;
  /** Values of the shader's `override` constants (workgroup and tile sizes). */
  readonly constants?: Readonly<Record<string, number>>;
  readonly entryPoint?: string;
}

/** Cache key of a kernel source. */
export function pipelineKey(src: KernelSource): string {
  const c = src.constants
    ? Object.entries(src.constants)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : '';
  return `${src.name}:${src.variant}:${src.entryPoint ?? 'main'}:${c}`;
}

/**
 * Compute pipelines by kernel name and variant, compiled ahead with `createComputePipelineAsync` (`prepare`) when a
 * model loads. `get` on the hot path returns the compiled pipeline; a miss compiles synchronously and is counted, so
 * tests can assert that no pipeline is compiled during a forward step.
 */
export class PipelineCache {
  private readonly device: GPUDevice;
  private readonly ready = new Map<string, GPUComputePipeline>();
  private readonly inFlight = new Map<string, Promise<GPUComputePipeline>>();
  /** Pipelines compiled synchronously on a `get` miss. */
  syncCompiles = 0;

  constructor(device: GPUDevice) {
    this.device = device;
  }

  private descriptor(src: KernelSource, key: string): GPUComputePipelineDescriptor {
    const module = this.device.createShaderModule({ code: src.code, label: src.name });
    return {
      label: key,
      layout: 'auto',
      compute: { module, entryPoint: src.entryPoint ?? 'main', constants: src.constants ?? {} },
    };
  }

  /** Compiles (once) and caches the pipeline of `src`. */
  prepare(src: KernelSource): Promise<GPUComputePipeline> {
    const key = pipelineKey(src);
    const done = this.ready.get(key);
    if (done) return Promise.resolve(done);
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.device.createComputePipelineAsync(this.descriptor(src, key)).then((pipeline) => {
        this.ready.set(key, pipeline);
        this.inFlight.delete(key);
        return pipeline;
      });
      this.inFlight.set(key, p);
    }
    return p;
  }

  /** Compiles many sources concurrently. */
  async prepareAll(sources: Iterable<KernelSource>): Promise<void> {
    await Promise.all([...sources].map((s) => this.prepare(s)));
  }

  /** The compiled pipeline of `src`; compiles synchronously (counted in `syncCompiles`) if `prepare` was not awaited. */
  get(src: KernelSource): GPUComputePipeline {
    const key = pipelineKey(src);
    let p = this.ready.get(key);
    if (!p) {
      p = this.device.createComputePipeline(this.descriptor(src, key));
      this.ready.set(key, p);
      this.syncCompiles++;
    }
    return p;
  }

  get size(): number {
    return this.ready.size;
  }

  clear(): void {
    this.ready.clear();
    this.inFlight.clear();
  }
}
