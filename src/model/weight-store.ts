import { ModelFormatError } from '../errors';
import type { GpuContext, Tensor } from '../gpu';

/** Host data of one tensor: raw f16 bits (Uint16Array) or f32 values. */
export interface HostTensor {
  shape: readonly number[];
  dtype: 'f16' | 'f32';
  data: Uint16Array | Float32Array;
}

/**
 * The weights of a model on the GPU, by their PyTorch state_dict names. Owns its tensors: `dispose()` frees them.
 * Weights are grouped (the trunk, one group per task) so that a task's tensors can be released alone.
 */
export class WeightStore {
  readonly ctx: GpuContext;
  private readonly tensors = new Map<string, { tensor: Tensor; group: string }>();

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
  }

  /** Uploads `t` as weight `name` of `group`, replacing a tensor of that name. */
  add(name: string, t: HostTensor, group = 'trunk'): Tensor {
    this.remove(name);
    const tensor = this.ctx.createWeight(t.data, t.shape, t.dtype, name);
    this.tensors.set(name, { tensor, group });
    return tensor;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The weight `name`; a missing weight is a malformed model. */
  get(name: string): Tensor {
    const e = this.tensors.get(name);
    if (!e) throw new ModelFormatError(`the model has no tensor "${name}"`);
    return e.tensor;
  }

  /** Frees one weight. */
  remove(name: string): void {
    const e = this.tensors.get(name);
    if (e) {
      e.tensor.dispose();
      this.tensors.delete(name);
    }
  }

  /** Frees every weight of `group`. */
  removeGroup(group: string): void {
    for (const [name, e] of this.tensors) if (e.group === group) this.remove(name);
  }

  /** Names of the weights of `group` (all groups when omitted). */
  names(group?: string): string[] {
    return [...this.tensors].filter(([, e]) => group === undefined || e.group === group).map(([n]) => n);
  }

  /** Bytes of GPU memory held, in all or in one group. */
  bytes(group?: string): number {
    let n = 0;
    for (const e of this.tensors.values()) if (group === undefined || e.group === group) n += e.tensor.byteSize;
    return n;
  }

  dispose(): void {
    for (const e of this.tensors.values()) e.tensor.dispose();
    this.tensors.clear();
  }
}
