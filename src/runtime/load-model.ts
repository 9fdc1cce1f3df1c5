import type { GpuContext } from '../gpu';
import { type ModelConfig, ModelFormatError, parseModelConfig } from '../model/config';
import { modelSources, TransformerModel } from '../model/transformer';
import { WeightStore } from '../model/weight-store';
import { SentencePieceTokenizer } from '../tokenizer';
import type { ModelFiles } from './model-files';
import { parseSafetensors, SafetensorsError } from './safetensors';

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
 * Uploads the tensors of one safetensors shard into `store` (as `group`), checking each against the config's
 * tensor index (shape and dtype) before anything reaches the GPU.
 */
export function loadShard(
  store: WeightStore,
  cfg: ModelConfig,
  shardName: string,
  bytes: Uint8Array,
  group = 'trunk',
): number {
  const file = parseSafetensors(bytes);
  let n = 0;
  for (const [name, info] of file.tensors) {
    const want = cfg.tensors[name];
    if (!want) continue; // tensors the engine does not use (none today) are ignored
    if (want.shard !== shardName || want.dtype !== info.dtype || want.shape.join(',') !== info.shape.join(',')) {
      throw new SafetensorsError(
        `${shardName}: tensor "${name}" is ${info.dtype} [${info.shape.join(', ')}], config.json says ${want.dtype} [${want.shape.join(', ')}] in ${want.shard}`,
      );
    }
    if (info.dtype === 'F16') store.add(name, { shape: info.shape, dtype: 'f16', data: file.f16Bits(name) }, group);
    else store.add(name, { shape: info.shape, dtype: 'f32', data: file.f32(name) }, group);
    n++;
  }
  for (const [name, e] of Object.entries(cfg.tensors)) {
    if (e.shard === shardName && !file.tensors.has(name)) {
      throw new SafetensorsError(`${shardName}: tensor "${name}" listed in config.json is missing`);
    }
  }
  return n;
}

/** Loads a whole (unextracted) model folder: config, tokenizer, every shard; compiles its pipelines. */
export async function loadModel(ctx: GpuContext, files: ModelFiles): Promise<LoadedModel> {
  const cfg = await readConfig(files);
  const tokenizer = SentencePieceTokenizer.fromBytes(await files.read(cfg.tokenizer));
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
