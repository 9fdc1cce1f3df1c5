import { TaskmoeError } from '../gpu/errors';

/** How a stack's MoE layers route: by token state, by task (target language), or none (dense FFNs). */
export type Routing = 'token' | 'task' | 'dense';

/** A model file that does not describe a model taskmoe can run. */
export class ModelFormatError extends TaskmoeError {
  /** `hint` says what to do; by default, to re-export the model or check its files. */
  constructor(message: string, hint = 'Re-export the model (training/taskmoe_train/export.py) or check its files.') {
    super('malformed-model', `${message}. ${hint}`);
  }
}

/** Where one tensor lives: its shard file, shape and dtype. */
export interface TensorEntry {
  shape: number[];
  dtype: 'F16' | 'F32';
  shard: string;
}

/** The model's hyper-parameters and ids, as written by the exporter into config.json. */
export interface ModelConfig {
  variant: string;
  dModel: number;
  nHeads: number;
  dFF: number;
  encLayers: number;
  decLayers: number;
  nExperts: number;
  topK: number;
  encRouting: Routing;
  decRouting: Routing;
  /** Odd layer indices of each stack that hold an MoE FFN (empty for a dense stack). */
  moeLayers: { encoder: number[]; decoder: number[] };
  vocabSize: number;
  maxLen: number;
  languages: string[];
  langTagIds: Record<string, number>;
  padId: number;
  bosId: number;
  eosId: number;
  unkId: number;
  lnEps: number;
  tokenizer: string;
  shards: string[];
  tensors: Record<string, TensorEntry>;
  /** Extracted models: each language's own shard (its folded task-routed layers). */
  taskShards?: Record<string, string>;
  /** Extracted models: the tensors every task shard holds (same names and shapes for every language). */
  taskTensors?: Record<string, Omit<TensorEntry, 'shard'>>;
  /** Extracted models: the experts and gate weights each language uses per task-routed layer. */
  taskGates?: Record<
    string,
    Array<{ stack: 'encoder' | 'decoder'; layer: number; experts: number[]; weights: number[] }>
  >;
  /** Everything else config.json carried (parameter counts, training budget). */
  extra: Record<string, unknown>;
}

function int(o: Record<string, unknown>, key: string, min = 0): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new ModelFormatError(`config.json: "${key}" must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function routing(o: Record<string, unknown>, key: string): Routing {
  const v = o[key];
  if (v !== 'token' && v !== 'task' && v !== 'dense')
    throw new ModelFormatError(`config.json: "${key}" must be token, task or dense, got ${JSON.stringify(v)}`);
  return v;
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0)) {
    throw new ModelFormatError(`config.json: ${what} must be a list of layer indices`);
  }
  return v as number[];
}

/** Validates the parsed config.json of an exported model. */
export function parseModelConfig(json: unknown): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ModelFormatError('config.json is not a JSON object');
  const o = json as Record<string, unknown>;
  const dModel = int(o, 'd_model', 1);
  const nHeads = int(o, 'n_heads', 1);
  if (dModel % nHeads !== 0)
    throw new ModelFormatError(`config.json: d_model ${dModel} is not divisible by n_heads ${nHeads}`);
  const languages = o.languages;
  if (!Array.isArray(languages) || languages.length === 0 || languages.some((l) => typeof l !== 'string')) {
    throw new ModelFormatError('config.json: "languages" must be a non-empty list of language codes');
  }
  const tags = o.lang_tag_ids as Record<string, unknown> | undefined;
  const vocabSize = int(o, 'vocab_size', 1);
  const langTagIds: Record<string, number> = {};
  for (const l of languages as string[]) {
    const id = tags?.[l];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new ModelFormatError(`config.json: no valid tag id for language "${l}"`);
    }
    langTagIds[l] = id;
  }
  const moe = o.moe_layers as Record<string, unknown> | undefined;
  const encLayers = int(o, 'enc_layers', 1);
  const decLayers = int(o, 'dec_layers', 1);
  const moeLayers = {
    encoder: intList(moe?.encoder ?? [], 'moe_layers.encoder'),
    decoder: intList(moe?.decoder ?? [], 'moe_layers.decoder'),
  };
  if (moeLayers.encoder.some((i) => i >= encLayers) || moeLayers.decoder.some((i) => i >= decLayers)) {
    throw new ModelFormatError('config.json: an MoE layer index is past the number of layers');
  }
  const shards = o.shards;
  if (!Array.isArray(shards) || shards.some((s) => typeof s !== 'string' || s.includes('..') || s.startsWith('/'))) {
    throw new ModelFormatError('config.json: "shards" must be a list of relative file names');
  }
  const tensorsIn = o.tensors;
  if (typeof tensorsIn !== 'object' || tensorsIn === null)
    throw new ModelFormatError('config.json: "tensors" is missing');
  const tensors: Record<string, TensorEntry> = {};
  for (const [name, e] of Object.entries(tensorsIn as Record<string, unknown>)) {
    const t = e as Record<string, unknown>;
    if (
      !Array.isArray(t.shape) ||
      (t.dtype !== 'F16' && t.dtype !== 'F32') ||
      typeof t.shard !== 'string' ||
      !shards.includes(t.shard)
    ) {
      throw new ModelFormatError(`config.json: tensor "${name}" has no valid shape, dtype (F16/F32) and listed shard`);
    }
    tensors[name] = { shape: intList(t.shape, `shape of ${name}`), dtype: t.dtype, shard: t.shard };
  }
  const known = new Set([
    'variant',
    'd_model',
    'n_heads',
    'd_ff',
    'enc_layers',
    'dec_layers',
    'n_experts',
    'top_k',
    'enc_routing',
    'dec_routing',
    'moe_layers',
    'vocab_size',
    'max_len',
    'languages',
    'lang_tag_ids',
    'pad_id',
    'bos_id',
    'eos_id',
    'unk_id',
    'ln_eps',
    'tokenizer',
    'shards',
    'tensors',
  ]);
  const extra = Object.fromEntries(Object.entries(o).filter(([k]) => !known.has(k)));
  const lnEps = o.ln_eps;
  if (typeof lnEps !== 'number' || !(lnEps > 0))
    throw new ModelFormatError('config.json: "ln_eps" must be a positive number');
  const topK = int(o, 'top_k', 1);
  if (topK > 2) throw new ModelFormatError(`config.json: top_k ${topK} is not supported (1 or 2)`);
  let taskShards: Record<string, string> | undefined;
  let taskTensors: Record<string, Omit<TensorEntry, 'shard'>> | undefined;
  if (o.task_shards !== undefined) {
    const ts = o.task_shards as Record<string, unknown>;
    taskShards = {};
    for (const l of languages as string[]) {
      const f = ts?.[l];
      if (typeof f !== 'string' || f.includes('..') || f.startsWith('/')) {
        throw new ModelFormatError(`config.json: no valid task shard for language "${l}"`);
      }
      taskShards[l] = f;
    }
    taskTensors = {};
    for (const [name, e] of Object.entries((o.task_tensors ?? {}) as Record<string, Record<string, unknown>>)) {
      if (!Array.isArray(e.shape) || (e.dtype !== 'F16' && e.dtype !== 'F32')) {
        throw new ModelFormatError(`config.json: task tensor "${name}" has no valid shape and dtype`);
      }
      taskTensors[name] = { shape: intList(e.shape, `shape of ${name}`), dtype: e.dtype };
    }
  }
  return {
    ...(taskShards ? { taskShards, taskTensors } : {}),
    ...(o.task_gates ? { taskGates: o.task_gates as ModelConfig['taskGates'] } : {}),
    variant: typeof o.variant === 'string' ? o.variant : 'unnamed',
    dModel,
    nHeads,
    dFF: int(o, 'd_ff', 1),
    encLayers,
    decLayers,
    nExperts: int(o, 'n_experts', 1),
    topK,
    encRouting: routing(o, 'enc_routing'),
    decRouting: routing(o, 'dec_routing'),
    moeLayers,
    vocabSize,
    maxLen: int(o, 'max_len', 2),
    languages: languages as string[],
    langTagIds,
    padId: int(o, 'pad_id'),
    bosId: int(o, 'bos_id'),
    eosId: int(o, 'eos_id'),
    unkId: int(o, 'unk_id'),
    lnEps,
    tokenizer: typeof o.tokenizer === 'string' ? o.tokenizer : 'spm.model',
    shards: shards as string[],
    tensors,
    extra,
  };
}
