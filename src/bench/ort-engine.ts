// The extracted task sub-network on onnxruntime-web, for the throughput page: the same files as the WebGPU engine,
// turned into ONNX graphs by `exportOnnx` (runtime/onnx-export.ts) and decoded in batches with forced steps. Kept
// small on purpose: when the export gains a cached decoder step, only `decode` changes.
import type { ModelConfig } from '../model/config';
import { readConfig } from '../runtime/load-model';
import type { ModelFiles } from '../runtime/model-files';
import { exportOnnx, shardReader } from '../runtime/onnx-export';
import { parseSafetensors } from '../runtime/safetensors';

type Ort = typeof import('onnxruntime-web');
type Session = import('onnxruntime-web').InferenceSession;
type OrtTensor = import('onnxruntime-web').Tensor;

const NEG = -1e9;

/** A sub-network's encoder and decoder sessions on one onnxruntime-web execution provider. */
export class OrtSubnetwork {
  /** The sessions and what was opened: the config, execution provider, bytes, and why WebGPU was not used if so. */
  private constructor(
    private readonly ort: Ort,
    private readonly s: {
      cfg: ModelConfig;
      encoder: Session;
      decoder: Session;
      backend: 'webgpu' | 'wasm';
      bytes: number;
      reason: string | null;
    },
  ) {}

  get cfg(): ModelConfig {
    return this.s.cfg;
  }

  /** The execution provider the sessions run on ('webgpu', or 'wasm' where WebGPU failed or was not asked). */
  get backend(): 'webgpu' | 'wasm' {
    return this.s.backend;
  }

  /** Bytes of the two ONNX models (their f32 weights). */
  get modelBytes(): number {
    return this.s.bytes;
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
    const shards = [];
    for (const n of names) shards.push(parseSafetensors(await files.read(n), { name: n }));
    const onnx = exportOnnx(cfg, shardReader(shards));
    const bytes = onnx.encoder.byteLength + onnx.decoder.byteLength;
    const open = async (ep: 'webgpu' | 'wasm'): Promise<{ encoder: Session; decoder: Session }> => ({
      encoder: await ort.InferenceSession.create(onnx.encoder, { executionProviders: [ep] }),
      decoder: await ort.InferenceSession.create(onnx.decoder, { executionProviders: [ep] }),
    });
    let reason: string | null = null;
    if (backend === 'webgpu') {
      try {
        return new OrtSubnetwork(ort, { cfg, ...(await open('webgpu')), backend, bytes, reason });
      } catch (e) {
        reason = e instanceof Error ? e.message : String(e);
      }
    }
    return new OrtSubnetwork(ort, { cfg, ...(await open('wasm')), backend: 'wasm', bytes, reason });
  }

  private i64(v: ArrayLike<number>, dims: number[]): OrtTensor {
    return new this.ort.Tensor('int64', BigInt64Array.from(Array.from(v), BigInt), dims);
  }

  /**
   * Greedy decoding of a batch of source id lists for exactly `steps` steps (no early stop); the decoder graph
   * recomputes the whole prefix each step. Every step reads the logits back. Resolves to the milliseconds of steps
   * 2..steps (from the readback of step 1 to that of the last), as the WebGPU engines report.
   */
  async decode(src: readonly number[][], steps: number): Promise<number> {
    const { padId, bosId, vocabSize: V } = this.s.cfg;
    const B = src.length;
    const S = Math.max(1, ...src.map((s) => s.length));
    const ids = new Array<number>(B * S).fill(padId);
    const keyBias = new Float32Array(B * S);
    src.forEach((s, b) => {
      s.forEach((t, j) => {
        ids[b * S + j] = t;
      });
      keyBias.fill(NEG, b * S + s.length, (b + 1) * S);
    });
    const bias = new this.ort.Tensor('float32', keyBias, [B, 1, 1, S]);
    const { enc } = await this.s.encoder.run({
      ids: this.i64(ids, [B, S]),
      pos: this.i64([...Array(S).keys()], [S]),
      key_bias: bias,
    });
    const out: number[][] = src.map(() => []);
    let first = 0;
    for (let t = 1; t <= steps; t++) {
      const tgt = out.flatMap((o) => [bosId, ...o]); // [B, t]
      const causal = new Float32Array(t * t);
      for (let a = 0; a < t; a++) causal.fill(NEG, a * t + a + 1, (a + 1) * t);
      const r = await this.s.decoder.run({
        tgt: this.i64(tgt, [B, t]),
        pos: this.i64([...Array(t).keys()], [t]),
        causal: new this.ort.Tensor('float32', causal, [1, 1, t, t]),
        enc: enc as OrtTensor,
        key_bias: bias,
      });
      const logits = (await (r.logits as OrtTensor).getData()) as Float32Array; // [B, t, V]
      out.forEach((o, b) => {
        const row = (b * t + t - 1) * V;
        let best = 0;
        for (let v = 1; v < V; v++) if ((logits[row + v] as number) > (logits[row + best] as number)) best = v;
        o.push(best);
      });
      if (t === 1) first = performance.now();
    }
    return performance.now() - first;
  }

  async dispose(): Promise<void> {
    await this.s.encoder.release();
    await this.s.decoder.release();
  }
}
