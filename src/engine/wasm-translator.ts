// The WASM fallback: the same verified, cached files as the WebGPU engine, turned into ONNX graphs in memory
// (runtime/onnx-export.ts) and run by onnxruntime-web's WASM backend (engine/ort-model.ts): batched greedy or beam
// search with a KV cache, split and batched as the WebGPU engine does. Slower than WebGPU, for machines without it.

import type { ModelConfig } from '../model/config';
import { checkShardIndex, readConfig, readTokenizer, shardIndex, taskShardIndex } from '../runtime/load-model';
import { filesForTask, type Manifest, type ManifestFile } from '../runtime/manifest';
import type { ModelFiles } from '../runtime/model-files';
import { shardReader } from '../runtime/onnx-export';
import { readShards, type SafetensorsFile } from '../runtime/safetensors';
import type { ShardLoader } from '../runtime/shard-loader';
import type { SentencePieceTokenizer } from '../tokenizer';
import { taskActivation } from './activation';
import { sourcePieces } from './batching';
import { type BackendStats, type BackendTranslateOptions, type EngineBackend, EngineSession } from './engine-session';
import { listedFiles } from './language-progress';
import { loadOnnxRuntime } from './onnxruntime';
import { OrtModel } from './ort-model';
import type { Activation } from './translator';
import type { WasmOptions } from './wasm-options';

type Ort = typeof import('onnxruntime-web');

/** The onnxruntime-web engine behind {@link WasmTranslator}: one OrtModel (encoder and decoder step) per language. */
class WasmBackend implements EngineBackend {
  private readonly manifest: Manifest;
  private readonly ort: Ort;
  private cfg: ModelConfig | null = null;
  private tokenizer: SentencePieceTokenizer | null = null;
  private trunk: SafetensorsFile[] = [];
  /** Loaded languages, least recently used first. */
  private readonly sessions = new Map<string, OrtModel>();

  constructor(manifest: Manifest, ort: Ort) {
    this.manifest = manifest;
    this.ort = ort;
  }

  isLoaded(lang: string): boolean {
    return this.sessions.has(lang);
  }

  filesToLoad(lang: string): readonly ManifestFile[] {
    return this.cfg ? (this.manifest.tasks[lang]?.shards ?? []) : filesForTask(this.manifest, lang);
  }

  async load(lang: string, files: ModelFiles): Promise<void> {
    const loaded = this.sessions.get(lang);
    if (loaded) {
      this.sessions.delete(lang);
      this.sessions.set(lang, loaded);
      return;
    }
    if (!this.cfg) {
      const cfg = await readConfig(files);
      this.tokenizer = readTokenizer(cfg, await files.read(cfg.tokenizer));
      const trunk = await readShards(files, cfg.shards);
      trunk.forEach((f, i) => {
        const name = cfg.shards[i] as string;
        checkShardIndex(f, name, shardIndex(cfg, name));
      });
      this.trunk = trunk;
      this.cfg = cfg;
    }
    const cfg = this.cfg;
    const shard = cfg.taskShards?.[lang];
    const own = await readShards(files, shard ? [shard] : []);
    if (shard) checkShardIndex(own[0] as SafetensorsFile, shard, taskShardIndex(cfg));
    this.sessions.set(lang, await OrtModel.create(this.ort, cfg, shardReader([...own, ...this.trunk]), { lang }));
  }

  async unload(lang: string): Promise<void> {
    const s = this.sessions.get(lang);
    this.sessions.delete(lang);
    await s?.release();
  }

  async translate(texts: string[], opts: BackendTranslateOptions): Promise<{ texts: string[]; outputTokens: number }> {
    const model = this.sessions.get(opts.to) as OrtModel;
    const { pieces, join, onStep } = sourcePieces(texts, opts.to, model.cfg, this.tokenizer as SentencePieceTokenizer);
    const { ids, outputTokens } = await model.translateIds(pieces, {
      ...(opts.beam !== undefined ? { beam: opts.beam } : {}),
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onPartial ? { onStep: onStep(opts.onPartial, (opts.beam ?? 1) <= 1) } : {}),
    });
    return { texts: join(ids), outputTokens };
  }

  async activation(to: string): Promise<Activation | null> {
    return this.cfg ? taskActivation(this.cfg, to, this.sessions.get(to)?.gates ?? []) : null;
  }

  stats(): BackendStats {
    return {
      backend: 'wasm',
      adapter: 'wasm',
      bytesResident: [...this.sessions.values()].reduce((n, s) => n + s.bytes, 0),
      memoryBudget: Number.POSITIVE_INFINITY,
      resident: [...this.sessions.keys()],
      evictions: 0,
      deviceLosses: 0,
    };
  }

  guard<T>(call: () => Promise<T>): Promise<T> {
    return call();
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await s.release();
    this.sessions.clear();
  }
}

/**
 * A {@link Translator} on onnxruntime-web's WASM backend. Obtain it with `createTranslator({ backend: 'wasm' })` (or
 * `'auto'` without WebGPU). Runs every model variant (dense, task-routed extracted or not, token-routed), one ONNX
 * encoder and one cached decoder step per loaded language; `beam` (beam search, GNMT length penalty 0.6) and
 * `batchSize` (default 16, length-sorted batches) are honoured as on WebGPU, and translations equal the WebGPU
 * engine's. Limits: a token-routed MoE layer runs all E experts on every token (E/2 times the FFN work of top-2
 * routing); each loaded language holds its own f32 copy of the whole network in its ONNX sessions, trunk included
 * (`stats().bytesResident`; unextracted task-routed layers are folded for it); `activation()` reports task-routed
 * layers only (token routing is not traced);
 * `memoryBudget` is not enforced (no eviction) and `deviceLosses` is always 0.
 */
export class WasmTranslator extends EngineSession<WasmBackend> {
  /**
   * A WASM translator over the manifest already read by `loader`. Loads onnxruntime-web. Deletes the cached files of
   * the model's folder that the manifest does not list (older versions) unless `opts.evictStale` is false.
   */
  static async create(
    manifest: Manifest,
    loader: ShardLoader,
    opts: { evictStale?: boolean; wasm?: WasmOptions } = {},
  ): Promise<WasmTranslator> {
    if (opts.evictStale !== false) await loader.evictStale(listedFiles(manifest));
    const ort = await loadOnnxRuntime(opts.wasm);
    return new WasmTranslator(manifest, loader, new WasmBackend(manifest, ort));
  }
}
