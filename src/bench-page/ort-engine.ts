// The extracted task sub-network on onnxruntime-web, for the throughput page: the same files as the WebGPU engine,
// turned into ONNX graphs by `exportOnnx` (runtime/onnx-export.ts) and decoded by OrtModel (engine/ort-model.ts, the
// WASM fallback's engine: encoder plus one KV-cached decoder step) with forced greedy steps, on the execution
// provider asked for.
import { OrtModel } from '../engine/ort-model';
import type { ModelConfig } from '../model/config';
import { readConfig } from '../runtime/load-model';
import type { ModelFiles } from '../runtime/model-files';
import { shardReader } from '../runtime/onnx-export';
import { readShards } from '../runtime/safetensors';

type Ort = typeof import('onnxruntime-web');

/** A sub-network's OrtModel on one onnxruntime-web execution provider. */
export class OrtSubnetwork {
  private constructor(
    private readonly s: {
      model: OrtModel;
      backend: 'webgpu' | 'wasm';
      reason: string | null;
    },
  ) {}

  get cfg(): ModelConfig {
    return this.s.model.cfg;
  }

  /** The execution provider the sessions run on ('webgpu', or 'wasm' where WebGPU failed or was not asked). */
  get backend(): 'webgpu' | 'wasm' {
    return this.s.backend;
  }

  /** Bytes of the two ONNX models (their f32 weights). */
  get modelBytes(): number {
    return this.s.model.bytes;
  }

  /** Why WebGPU was not used, when it was asked for and failed. */
  get fallbackReason(): string | null {
    return this.s.reason;
  }

  /** Exports `lang`'s sub-network of the extracted model in `files` and opens it on `backend` (webgpu: else wasm). */
  static async create(files: ModelFiles, lang: string, backend: 'webgpu' | 'wasm'): Promise<OrtSubnetwork> {
    const ort = (await import('onnxruntime-web')) as Ort;
    ort.env.wasm.numThreads = 1; // no cross-origin isolation here, so no threads: say so instead of warning
    const cfg = await readConfig(files);
    const names = [...(cfg.taskShards?.[lang] ? [cfg.taskShards[lang] as string] : []), ...cfg.shards];
    const shards = await readShards(files, names);
    const open = (ep: 'webgpu' | 'wasm') =>
      OrtModel.create(ort, cfg, shardReader(shards), { lang, executionProviders: [ep], stateOnGpu: ep === 'webgpu' });
    let reason: string | null = null;
    if (backend === 'webgpu') {
      try {
        return new OrtSubnetwork({ model: await open('webgpu'), backend, reason });
      } catch (e) {
        reason = e instanceof Error ? e.message : String(e);
      }
    }
    return new OrtSubnetwork({ model: await open('wasm'), backend: 'wasm', reason });
  }

  /**
   * Greedy decoding of a batch of source id lists for exactly `steps` steps (no early stop), one cached decoder step
   * at a time, each reading its logits back. Resolves to the milliseconds of steps 2..steps (from the readback of
   * step 1 to that of the last), as the WebGPU engines report.
   */
  async decode(src: readonly number[][], steps: number): Promise<number> {
    const t: number[] = [];
    await this.s.model.translateIds(src, {
      batchSize: src.length,
      maxSteps: steps,
      forceSteps: true,
      onStep: () => t.push(performance.now()),
    });
    return (t[t.length - 1] as number) - (t[0] as number);
  }

  async dispose(): Promise<void> {
    await this.s.model.release();
  }
}
