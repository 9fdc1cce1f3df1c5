import { ModelFormatError, SafetensorsError } from '../errors';
import type { GpuContext } from '../gpu';
import { type ModelConfig, parseModelConfig } from '../model/config';
import { modelSources, TransformerModel } from '../model/transformer';
import { WeightStore } from '../model/weight-store';
import { SentencePieceTokenizer } from '../tokenizer';
import type { ModelFiles } from './model-files';
import { parseSafetensors, type SafetensorsFile } from './safetensors';

/** A model on the GPU: its config, tokenizer, weights and forward code. `dispose()` frees its GPU memory. */
export interface LoadedModel {
  cfg: ModelConfig;
  tokenizer: SentencePieceTokenizer;
  store: WeightStore;
  model: TransformerModel;
  dispose(): void;
}

/** Reads and validates config.json of a model folder. */
export async function readConfig(files: ModelFiles): Promise<ModelConfig> {
  const bytes = await files.read('config.json');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ModelFormatError(`${files.location}: config.json is not valid JSON`);
  }
  return parseModelConfig(json);
}

/**
 * The model's tokenizer from its bytes, checked against config.json: every id it produces must have an embedding
 * row (vocabulary at most vocab_size), and the language tags must be its pieces.
 */
export function readTokenizer(cfg: ModelConfig, bytes: Uint8Array): SentencePieceTokenizer {
  const tok = SentencePieceTokenizer.fromBytes(bytes);
  if (tok.vocabSize > cfg.vocabSize) {
    throw new ModelFormatError(
      `${cfg.tokenizer} has ${tok.vocabSize} pieces but config.json's vocab_size is ${cfg.vocabSize}; the tokenizer does not belong to this model`,
    );
  }
  return tok;
}

/**
 * Uploads the tensors of one trunk shard into `store`, checking each against config.json's tensor index (shape and
 * dtype) before anything reaches the GPU.
 */
export function loadShard(store: WeightStore, cfg: ModelConfig, shardName: string, bytes: Uint8Array): number {
  const expected = new Map(
    Object.entries(cfg.tensors)
      .filter(([, e]) => e.shard === shardName)
      .map(([n, e]) => [n, e] as const),
  );
  return uploadShard(store, shardName, bytes, expected, 'trunk', '');
}

/** Name prefix of a task's own tensors in the weight store. */
export function taskPrefix(lang: string): string {
  return `task:${lang}/`;
}

/**
 * Uploads the task shard of an extracted model for `lang` (group `task:<lang>`), checking it against config.json's
 * task tensor index.
 */
export function loadTaskShard(store: WeightStore, cfg: ModelConfig, lang: string, bytes: Uint8Array): number {
  const shard = cfg.taskShards?.[lang];
  if (!shard) throw new ModelFormatError(`model "${cfg.variant}" has no task shard for "${lang}"`);
  const expected = new Map(Object.entries(cfg.taskTensors ?? {}).map(([n, e]) => [n, { ...e, shard }] as const));
  store.removeGroup(`task:${lang}`);
  return uploadShard(store, shard, bytes, expected, `task:${lang}`, taskPrefix(lang));
}

/**
 * Checks a parsed shard against config.json's index of it: every tensor the index lists is present with the listed
 * dtype and shape (the index itself was checked against the config's values when config.json was parsed). Throws
 * `SafetensorsError` naming the shard and tensor.
 */
export function checkShardIndex(
  file: SafetensorsFile,
  shardName: string,
  expected: ReadonlyMap<string, { shape: readonly number[]; dtype: 'F16' | 'F32' }>,
): void {
  for (const [name, want] of expected) {
    const info = file.tensors.get(name);
    if (!info) throw new SafetensorsError(`${shardName}: tensor "${name}" listed in config.json is missing`);
    if (want.dtype !== info.dtype || want.shape.join(',') !== info.shape.join(',')) {
      throw new SafetensorsError(
        `${shardName}: tensor "${name}" is ${info.dtype} [${info.shape.join(', ')}], config.json says ${want.dtype} [${want.shape.join(', ')}]`,
      );
    }
  }
}

/** config.json's index of trunk shard `shard`: its tensors' names, shapes and dtypes. */
export function shardIndex(cfg: ModelConfig, shard: string): Map<string, { shape: number[]; dtype: 'F16' | 'F32' }> {
  return new Map(Object.entries(cfg.tensors).filter(([, e]) => e.shard === shard));
}

/** config.json's index of a task shard (the same tensors for every language). */
export function taskShardIndex(cfg: ModelConfig): Map<string, { shape: number[]; dtype: 'F16' | 'F32' }> {
  return new Map(Object.entries(cfg.taskTensors ?? {}));
}

function uploadShard(
  store: WeightStore,
  shardName: string,
  bytes: Uint8Array,
  expected: ReadonlyMap<string, { shape: number[]; dtype: 'F16' | 'F32' }>,
  group: string,
  prefix: string,
): number {
  const file = parseSafetensors(bytes, { name: shardName });
  // Check the whole shard before uploading any of it.
  checkShardIndex(file, shardName, expected);
  for (const name of expected.keys()) {
    const info = file.tensors.get(name) as { dtype: string; shape: readonly number[] };
    if (info.dtype === 'F16')
      store.add(prefix + name, { shape: info.shape, dtype: 'f16', data: file.f16Bits(name) }, group);
    else store.add(prefix + name, { shape: info.shape, dtype: 'f32', data: file.f32(name) }, group);
  }
  return expected.size;
}

/**
 * Loads a model folder: config, tokenizer and every trunk shard, and compiles its pipelines. An extracted model's
 * task shards are loaded separately ({@link loadTaskShard}).
 */
export async function loadModel(ctx: GpuContext, files: ModelFiles): Promise<LoadedModel> {
  const cfg = await readConfig(files);
  const tokenizer = readTokenizer(cfg, await files.read(cfg.tokenizer));
  const store = new WeightStore(ctx);
  try {
    for (const shard of cfg.shards) loadShard(store, cfg, shard, await files.read(shard));
    const dtype = Object.values(cfg.tensors).some((t) => t.dtype === 'F16') ? 'f16' : 'f32';
    await ctx.pipelines.prepareAll(modelSources(ctx, dtype));
  } catch (e) {
    store.dispose();
    throw e;
  }
  return { cfg, tokenizer, store, model: new TransformerModel(cfg), dispose: () => store.dispose() };
}
