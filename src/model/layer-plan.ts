import type { ModelConfig } from './config';

/** One of the model's two stacks. */
export type Stack = 'encoder' | 'decoder';

/**
 * How one layer's FFN is computed: a dense FFN (`ffn.wi`, `ffn.wo`); an extracted task sub-network, a dense FFN of
 * width top_k·d_ff whose hidden columns are scaled by the language's gate values (`ffn.wi.scale`); or an MoE layer
 * routed per token (`moe.gate.weight`) or per task (`moe.gate.table`) over the experts `moe.wi/bi/wo/bo`.
 */
export type FfnKind = 'dense' | 'extracted' | 'moe-token' | 'moe-task';

/** One layer of a stack: where its tensors live and the form of its FFN. */
export interface LayerPlan {
  stack: Stack;
  index: number;
  /** State-dict prefix of the layer's tensors, `<stack>.layers.<index>`. */
  prefix: string;
  ffn: FfnKind;
}

/** Every layer of the model, in order, as its config declares them. */
export interface ModelPlan {
  encoder: LayerPlan[];
  decoder: LayerPlan[];
}

/**
 * The model's layer plan, from its config alone (routing per stack, `moe_layers`, and whether the task-routed layers
 * were extracted into per-language shards), as training/model.py builds the network. The WebGPU model and the ONNX
 * exporter both follow it; the config was checked against the tensor index when it was read (checkAgainstTensors),
 * so every tensor a plan names exists.
 */
export function modelPlan(cfg: ModelConfig): ModelPlan {
  const stack = (s: Stack, n: number, routing: ModelConfig['encRouting']): LayerPlan[] => {
    const moe = new Set(cfg.moeLayers[s]);
    return Array.from({ length: n }, (_, index) => {
      let ffn: FfnKind = 'dense';
      if (moe.has(index) && routing === 'token') ffn = 'moe-token';
      else if (moe.has(index) && routing === 'task') ffn = cfg.taskTensors !== undefined ? 'extracted' : 'moe-task';
      return { stack: s, index, prefix: `${s}.layers.${index}`, ffn };
    });
  };
  return {
    encoder: stack('encoder', cfg.encLayers, cfg.encRouting),
    decoder: stack('decoder', cfg.decLayers, cfg.decRouting),
  };
}
