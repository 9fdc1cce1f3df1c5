import { ModelFormatError } from '../errors';
import { checkFileName, MAX_FILE_NAME_LENGTH } from '../runtime/paths';
import { dict, type Fail, int, LANGUAGE_CODE, list, num, obj, oneOf, optional, str } from '../runtime/schema';

/** How a stack's MoE layers route: by token state, by task (target language), or none (dense FFNs). */
export type Routing = 'token' | 'task' | 'dense';

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

/** Bounds on config.json's values (sizes a file controls are limited before anything is allocated). */
export const CONFIG_LIMITS = {
  dModel: 16_384,
  nHeads: 256,
  dFF: 131_072,
  layers: 128,
  nExperts: 4096,
  vocabSize: 1_048_576,
  /** max_len: at least 3 (language tag, one token, </s>). */
  maxLen: 8192,
  minMaxLen: 3,
  languages: 1024,
  tensors: 100_000,
  shards: 10_000,
  tensorRank: 8,
  tensorDim: 2 ** 31 - 1,
} as const;

const L = CONFIG_LIMITS;
const LANG = LANGUAGE_CODE;
const nonNeg = int(0, L.vocabSize - 1);
const layerList = list(int(0, L.layers - 1), 0, L.layers);
const shape = list(int(0, L.tensorDim), 0, L.tensorRank);
const dtype = oneOf('F16', 'F32');
const routingRule = oneOf<Routing>('token', 'task', 'dense');

/** The declaration of config.json: every field the engine reads, with its type and bounds. */
const CONFIG_FIELDS = {
  variant: optional(str(200)),
  d_model: int(1, L.dModel),
  n_heads: int(1, L.nHeads),
  d_ff: int(1, L.dFF),
  enc_layers: int(1, L.layers),
  dec_layers: int(1, L.layers),
  n_experts: int(1, L.nExperts),
  top_k: int(1, 2),
  enc_routing: routingRule,
  dec_routing: routingRule,
  moe_layers: optional(obj({ encoder: optional(layerList), decoder: optional(layerList) })),
  vocab_size: int(1, L.vocabSize),
  max_len: int(L.minMaxLen, L.maxLen),
  languages: list(str(35, LANG, 'a language code'), 1, L.languages),
  lang_tag_ids: dict(nonNeg, L.languages, LANG),
  pad_id: nonNeg,
  bos_id: nonNeg,
  eos_id: nonNeg,
  unk_id: nonNeg,
  ln_eps: num(0, 1),
  tokenizer: optional(str(MAX_FILE_NAME_LENGTH)),
  shards: list(str(MAX_FILE_NAME_LENGTH), 1, L.shards),
  tensors: dict(obj({ shape, dtype, shard: str(MAX_FILE_NAME_LENGTH) }), L.tensors),
  task_shards: optional(dict(str(MAX_FILE_NAME_LENGTH), L.languages, LANG)),
  task_tensors: optional(dict(obj({ shape, dtype }), L.tensors)),
  task_gates: optional(
    dict(
      list(
        obj({
          stack: oneOf('encoder', 'decoder'),
          layer: int(0, L.layers - 1),
          experts: list(int(0, L.nExperts - 1), 1, 2),
          weights: list(num(-1, 1), 1, 2),
        }),
        0,
        2 * L.layers,
      ),
      L.languages,
    ),
  ),
};
const CONFIG_SCHEMA = obj(CONFIG_FIELDS);

/** Fields the engine reads; everything else config.json carries is kept in `extra`. */
const KNOWN = new Set(Object.keys(CONFIG_FIELDS));

const failConfig: Fail = (field, problem) => {
  throw new ModelFormatError(`config.json: "${field}" ${problem}`);
};

/**
 * Validates the parsed config.json of an exported model against its declaration, then its values against each
 * other and against the tensor index (shapes, expert counts, vocabulary, token ids, routing), so that a config that
 * does not match its weights fails here, before anything is read or allocated. File names are checked to stay inside
 * the model's folder ({@link UnsafePathError}).
 */
export function parseModelConfig(json: unknown): ModelConfig {
  const c = CONFIG_SCHEMA(json, '', failConfig);
  const fail = (message: string): never => {
    throw new ModelFormatError(`config.json: ${message}`);
  };
  if (c.d_model % c.n_heads !== 0) fail(`d_model ${c.d_model} is not divisible by n_heads ${c.n_heads}`);
  const vocabSize = c.vocab_size;
  for (const k of ['pad_id', 'bos_id', 'eos_id', 'unk_id'] as const) {
    if (c[k] >= vocabSize) fail(`"${k}" ${c[k]} is past the vocabulary (vocab_size ${vocabSize})`);
  }
  const languages = c.languages;
  if (new Set(languages).size !== languages.length) fail('"languages" lists a language twice');
  const langTagIds: Record<string, number> = {};
  for (const l of languages) {
    const id = c.lang_tag_ids[l];
    if (id === undefined || id >= vocabSize) fail(`no valid tag id for language "${l}" in "lang_tag_ids"`);
    langTagIds[l] = id as number;
  }
  const moeLayers = { encoder: c.moe_layers?.encoder ?? [], decoder: c.moe_layers?.decoder ?? [] };
  if (moeLayers.encoder.some((i) => i >= c.enc_layers) || moeLayers.decoder.some((i) => i >= c.dec_layers)) {
    fail('an MoE layer index is past the number of layers');
  }
  const tokenizer = checkFileName(c.tokenizer ?? 'spm.model', 'config.json', 'tokenizer');
  const shards = c.shards.map((s, i) => checkFileName(s, 'config.json', `shards[${i}]`));
  const tensors: Record<string, TensorEntry> = {};
  for (const [name, t] of Object.entries(c.tensors)) {
    if (!shards.includes(t.shard)) fail(`tensor "${name}" names shard "${t.shard}", which "shards" does not list`);
    tensors[name] = { shape: t.shape, dtype: t.dtype, shard: t.shard };
  }
  let taskShards: Record<string, string> | undefined;
  let taskTensors: Record<string, Omit<TensorEntry, 'shard'>> | undefined;
  if (c.task_shards !== undefined) {
    taskShards = {};
    for (const l of languages) {
      const f = c.task_shards[l];
      if (f === undefined) fail(`no task shard for language "${l}" in "task_shards"`);
      taskShards[l] = checkFileName(f, 'config.json', `task_shards.${l}`);
    }
    taskTensors = {};
    for (const [name, t] of Object.entries(c.task_tensors ?? {}))
      taskTensors[name] = { shape: t.shape, dtype: t.dtype };
  }
  const extra = Object.fromEntries(Object.entries(json as Record<string, unknown>).filter(([k]) => !KNOWN.has(k)));
  for (const [l, gates] of Object.entries(c.task_gates ?? {})) {
    for (const g of gates) {
      if (g.experts.some((e) => e >= c.n_experts))
        fail(`task_gates.${l}: an expert index is past n_experts ${c.n_experts}`);
    }
  }
  const cfg: ModelConfig = {
    ...(taskShards ? { taskShards, taskTensors } : {}),
    ...(c.task_gates ? { taskGates: c.task_gates } : {}),
    variant: c.variant ?? 'unnamed',
    dModel: c.d_model,
    nHeads: c.n_heads,
    dFF: c.d_ff,
    encLayers: c.enc_layers,
    decLayers: c.dec_layers,
    nExperts: c.n_experts,
    topK: c.top_k,
    encRouting: c.enc_routing,
    decRouting: c.dec_routing,
    moeLayers,
    vocabSize,
    maxLen: c.max_len,
    languages,
    langTagIds,
    padId: c.pad_id,
    bosId: c.bos_id,
    eosId: c.eos_id,
    unkId: c.unk_id,
    lnEps: c.ln_eps,
    tokenizer,
    shards,
    tensors,
    extra,
  };
  checkAgainstTensors(cfg);
  return cfg;
}

function shapeIs(actual: readonly number[], want: readonly number[]): boolean {
  return actual.length === want.length && actual.every((d, i) => d === want[i]);
}

/**
 * Checks the config's values against its tensor index: embedding [vocab_size, d_model], attention [d_model, d_model],
 * FFN widths, expert counts and gates of every MoE layer its routing declares, and no layer past enc/dec_layers.
 * (The index itself is checked against each shard's header when the shard is read.)
 */
export function checkAgainstTensors(cfg: ModelConfig): void {
  const fail = (message: string): never => {
    throw new ModelFormatError(`config.json: ${message}; the config does not match the model's tensors`);
  };
  const D = cfg.dModel;
  const F = cfg.dFF;
  const E = cfg.nExperts;
  const all: Record<string, { shape: number[] }> = { ...cfg.tensors, ...(cfg.taskTensors ?? {}) };
  const want = (name: string, shape: number[], where: Record<string, { shape: number[] }> = all): void => {
    const t = where[name];
    if (!t) fail(`tensor "${name}" is missing`);
    else if (!shapeIs(t.shape, shape))
      fail(`tensor "${name}" is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  };
  want('embed.weight', [cfg.vocabSize, D]);
  for (const [stack, n, routing] of [
    ['encoder', cfg.encLayers, cfg.encRouting],
    ['decoder', cfg.decLayers, cfg.decRouting],
  ] as const) {
    const moe = new Set(cfg.moeLayers[stack]);
    if (routing === 'dense' && moe.size > 0) fail(`${stack} routing is dense but moe_layers.${stack} lists layers`);
    for (const name of Object.keys(all)) {
      const m = new RegExp(`^${stack}\\.layers\\.(\\d+)\\.`).exec(name);
      if (m && Number(m[1]) >= n) fail(`tensor "${name}" is past ${stack === 'encoder' ? 'enc' : 'dec'}_layers ${n}`);
    }
    for (let i = 0; i < n; i++) {
      const p = `${stack}.layers.${i}`;
      want(`${p}.self_attn.q.weight`, [D, D]);
      if (moe.has(i) && routing !== 'dense') {
        const extractedTask = routing === 'task' && cfg.taskTensors !== undefined;
        if (extractedTask) {
          want(`${p}.ffn.wi.weight`, [cfg.topK * F, D], cfg.taskTensors);
          continue;
        }
        want(`${p}.moe.wi`, [E, F, D]);
        want(`${p}.moe.wo`, [E, D, F]);
        if (routing === 'token') want(`${p}.moe.gate.weight`, [E, D]);
        else {
          const table = all[`${p}.moe.gate.table`];
          if (table?.shape.length !== 2 || table.shape[1] !== E || (table.shape[0] as number) < 1) {
            fail(`tensor "${p}.moe.gate.table" must be [tasks, ${E}]`);
          }
        }
      } else {
        // A dense FFN is d_ff wide, or up to top_k x d_ff (a dense model matched to an MoE model's active size).
        const wi = all[`${p}.ffn.wi.weight`];
        const width = wi?.shape[0] ?? 0;
        if (wi?.shape.length !== 2 || wi.shape[1] !== D || width % F !== 0 || width < F || width > cfg.topK * F) {
          fail(`tensor "${p}.ffn.wi.weight" must be [d_ff or up to top_k x d_ff, ${D}] (d_ff ${F})`);
        }
        want(`${p}.ffn.wo.weight`, [D, width]);
      }
    }
  }
}
