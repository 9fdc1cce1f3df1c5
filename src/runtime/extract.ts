// Task sub-network extraction (Kudugunta et al. 2021, PAPER.md): in a task-routed MoE layer the gate depends only on
// the task, so its top-2 experts and their weights are constants per task and the layer is one dense FFN of width
// 2·d_ff:  g1·FFN_e1(x) + g2·FFN_e2(x) = [wo_e1 | wo_e2] · (s ⊙ ReLU([wi_e1; wi_e2]·x + [bi_e1; bi_e2])) + g1·bo_e1
// + g2·bo_e2, with s = [g1 (d_ff times), g2 (d_ff times)]. The experts' f16 weights are copied bit for bit; only the
// gate values (s, f32) and the combined output bias (f32) are new, so the folding is exact up to f32 rounding.
import { ModelFormatError } from '../errors';
import { f16BitsToF32 } from '../gpu/tensor';
import { topKGate } from '../kernels/gating-cpu';
import type { ModelConfig } from '../model/config';
import type { HostTensor } from '../model/weight-store';

/** Reads a tensor of the source model by name (f16 as raw bits). */
export type TensorReader = (name: string) => HostTensor;

/** The experts and gate weights a task uses in one task-routed layer. */
export interface TaskLayerGate {
  stack: 'encoder' | 'decoder';
  layer: number;
  experts: number[];
  weights: number[];
}

/** The task-routed MoE layers of a model: (stack, layer index) pairs. */
export function taskRoutedLayers(cfg: ModelConfig): Array<{ stack: 'encoder' | 'decoder'; layer: number }> {
  const out: Array<{ stack: 'encoder' | 'decoder'; layer: number }> = [];
  if (cfg.encRouting === 'task') for (const i of cfg.moeLayers.encoder) out.push({ stack: 'encoder', layer: i });
  if (cfg.decRouting === 'task') for (const i of cfg.moeLayers.decoder) out.push({ stack: 'decoder', layer: i });
  return out;
}

/** Gate of `lang` in every task-routed layer, evaluated once on the CPU (the same rule as the GPU gate). */
export function taskGates(cfg: ModelConfig, read: TensorReader, lang: string): TaskLayerGate[] {
  const task = cfg.languages.indexOf(lang);
  if (task < 0)
    throw new ModelFormatError(`language "${lang}" is not one of the model's (${cfg.languages.join(', ')})`);
  return taskRoutedLayers(cfg).map(({ stack, layer }) => {
    const table = toF32(read(`${stack}.layers.${layer}.moe.gate.table`)); // [T, E]
    const E = cfg.nExperts;
    const g = topKGate(table.subarray(task * E, task * E + E), cfg.topK);
    return { stack, layer, experts: g.indices, weights: g.weights };
  });
}

/** Whether `name` is a tensor that extraction replaces (the experts and gate of a task-routed layer). */
export function isTaskRoutedTensor(cfg: ModelConfig, name: string): boolean {
  return taskRoutedLayers(cfg).some(({ stack, layer }) => name.startsWith(`${stack}.layers.${layer}.moe.`));
}

/** Copies rows [r0, r1) of the last-two-dims matrix `e` of a stacked tensor into `dst` at element `at`. */
function copyElements(src: HostTensor, from: number, count: number, dst: Uint16Array | Float32Array, at: number): void {
  if (src.data instanceof Uint16Array !== dst instanceof Uint16Array) {
    throw new ModelFormatError('extraction: mixed f16/f32 expert tensors are not supported');
  }
  dst.set(src.data.subarray(from, from + count) as never, at);
}

/** f32 values of a host tensor (f16 bits converted). */
export function toF32(t: HostTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f16BitsToF32(t.data[i] as number);
  return out;
}

/**
 * The dense FFN tensors of `lang`'s sub-network, named like a dense layer's FFN
 * (`<stack>.layers.<i>.ffn.wi.weight` [k·F, D], `.ffn.wi.bias` [k·F], `.ffn.wi.scale` [k·F] f32, `.ffn.wo.weight`
 * [D, k·F], `.ffn.wo.bias` [D] f32).
 */
export function extractTask(cfg: ModelConfig, read: TensorReader, lang: string): Map<string, HostTensor> {
  const D = cfg.dModel;
  const F = cfg.dFF;
  const out = new Map<string, HostTensor>();
  for (const g of taskGates(cfg, read, lang)) {
    const p = `${g.stack}.layers.${g.layer}`;
    const wi = read(`${p}.moe.wi`); // [E, F, D]
    const bi = read(`${p}.moe.bi`); // [E, F]
    const wo = read(`${p}.moe.wo`); // [E, D, F]
    const bo = toF32(read(`${p}.moe.bo`)); // [E, D]
    const k = g.experts.length;
    const make = (n: number, like: HostTensor): Uint16Array | Float32Array =>
      like.data instanceof Uint16Array ? new Uint16Array(n) : new Float32Array(n);
    const wiOut = make(k * F * D, wi); // [kF, D]
    const biOut = make(k * F, bi); // [kF]
    const woOut = make(D * k * F, wo); // [D, kF]
    const scale = new Float32Array(k * F); // [kF]
    const boOut = new Float32Array(D); // [D]
    g.experts.forEach((e, j) => {
      copyElements(wi, e * F * D, F * D, wiOut, j * F * D);
      copyElements(bi, e * F, F, biOut, j * F);
      for (let d = 0; d < D; d++) copyElements(wo, (e * D + d) * F, F, woOut, d * k * F + j * F);
      scale.fill(g.weights[j] as number, j * F, (j + 1) * F);
      for (let d = 0; d < D; d++)
        boOut[d] = Math.fround(
          (boOut[d] as number) + Math.fround((g.weights[j] as number) * (bo[e * D + d] as number)),
        );
    });
    const dtype = wi.dtype;
    out.set(`${p}.ffn.wi.weight`, { shape: [k * F, D], dtype, data: wiOut });
    out.set(`${p}.ffn.wi.bias`, { shape: [k * F], dtype: bi.dtype, data: biOut });
    out.set(`${p}.ffn.wi.scale`, { shape: [k * F], dtype: 'f32', data: scale });
    out.set(`${p}.ffn.wo.weight`, { shape: [D, k * F], dtype: wo.dtype, data: woOut });
    out.set(`${p}.ffn.wo.bias`, { shape: [D], dtype: 'f32', data: boOut });
  }
  return out;
}
