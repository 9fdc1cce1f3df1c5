// What the throughput page reports besides speed, computed from a model's config and manifest: weight bytes one
// decoder step reads, and download bytes for the first language and for each further one.
import type { ModelConfig } from '../model/config';
import type { Manifest } from '../runtime/manifest';

/** Elements of a tensor of the model (trunk or task shard), 0 when it has none of that name. */
function numel(cfg: ModelConfig, name: string): number {
  const shape = cfg.tensors[name]?.shape ?? cfg.taskTensors?.[name]?.shape;
  return shape ? shape.reduce((a, b) => a * b, 1) : 0;
}

/** Options of {@link weightBytesPerStep}. */
export interface StepBytesOptions {
  /** Bytes per weight element (2 for f16, 4 for the f32 ONNX export). */
  bytesPerWeight: number;
  /**
   * Token-routed decoder layers: the distinct experts one step's batch selects, on average per layer (measured from
   * the gate trace). Each selected expert's wi/bi/wo/bo are read once per step.
   */
  expertsPerLayer?: number;
  /** The decoder recomputes the cross-attention keys and values every step (the ONNX export without a cache). */
  crossKvEachStep?: boolean;
}

/**
 * Weight bytes one decoder step reads: self-attention, cross-attention queries and outputs (keys and values of the
 * encoder output are computed once per batch, unless `crossKvEachStep`), layer norms, each layer's FFN (dense, the
 * extracted sub-network's 2·d_ff FFN, or the router plus every selected expert), and the tied output projection.
 */
export function weightBytesPerStep(cfg: ModelConfig, o: StepBytesOptions): number {
  const D = cfg.dModel;
  let n = numel(cfg, 'decoder.norm.weight') * 2 + cfg.vocabSize * D;
  for (let i = 0; i < cfg.decLayers; i++) {
    const p = `decoder.layers.${i}`;
    const lin = (m: string): number => numel(cfg, `${m}.weight`) + numel(cfg, `${m}.bias`);
    for (const ln of ['self_attn_norm', 'cross_attn_norm', 'ffn_norm']) n += 2 * numel(cfg, `${p}.${ln}.weight`);
    for (const m of ['q', 'k', 'v', 'o']) n += lin(`${p}.self_attn.${m}`);
    for (const m of o.crossKvEachStep ? ['q', 'k', 'v', 'o'] : ['q', 'o']) n += lin(`${p}.cross_attn.${m}`);
    if (numel(cfg, `${p}.ffn.wi.weight`) > 0) {
      n += lin(`${p}.ffn.wi`) + lin(`${p}.ffn.wo`) + numel(cfg, `${p}.ffn.wi.scale`);
    } else {
      const E = cfg.nExperts;
      const perExpert =
        (numel(cfg, `${p}.moe.wi`) +
          numel(cfg, `${p}.moe.bi`) +
          numel(cfg, `${p}.moe.wo`) +
          numel(cfg, `${p}.moe.bo`)) /
        E;
      n += numel(cfg, `${p}.moe.gate.weight`) + perExpert * Math.min(E, o.expertsPerLayer ?? E);
    }
  }
  return n * o.bytesPerWeight;
}

/** Download bytes from a manifest: the first language (config, tokenizer, trunk, its shards) and each further one. */
export function downloadBytes(m: Manifest, lang: string): { firstLoad: number; perExtraLanguage: number } {
  const trunk = m.config.bytes + m.tokenizer.bytes + m.trunk.reduce((s, f) => s + f.bytes, 0);
  const own = m.tasks[lang]?.bytes ?? 0;
  return { firstLoad: trunk + own, perExtraLanguage: own };
}

/** Distinct experts per row group: `indices` is u32 [N, k] of one gate; the average over layers is the caller's. */
export function distinctExperts(indices: ArrayLike<number>): number {
  return new Set(Array.from(indices)).size;
}
