// The four engines the throughput page compares, behind one small interface: token-routed MoE (the whole model, WGSL
// routing), the extracted task sub-network, the dense model of the same active size (all three on taskmoe's WebGPU
// engine, sharing one GpuContext so that pipelines compile once), and the extracted sub-network on onnxruntime-web.
import { LocalModel } from '../engine/local-model';
import { adapterName, type GpuContext } from '../gpu';
import { Trace } from '../model/transformer';
import { type Manifest, parseManifest } from '../runtime/manifest';
import { fetchFiles } from '../runtime/model-files';
import { distinctExperts, downloadBytes, weightBytesPerStep } from './metrics';
import { OrtSubnetwork } from './ort-engine';
import type { EngineKind } from './plan';

/** Row labels of the engines. */
export const ENGINE_LABELS: Readonly<Record<EngineKind, string>> = {
  token: 'token-MoE',
  extracted: 'task-MoE extracted',
  dense: 'dense (same active size)',
  ort: 'onnxruntime-web',
};

/** One engine with one model loaded, ready to decode batches of source ids. */
export interface BenchEngine {
  kind: EngineKind;
  /** The model's folder, e.g. "E32/token_token". */
  model: string;
  /** The adapter (or onnxruntime-web backend) it runs on. */
  adapter: string;
  /**
   * Greedy decoding of `src` (source id lists) for exactly `steps` steps. Resolves to the milliseconds of decoder
   * steps 2..steps: from the readback of step 1 (which follows the encoder) to the readback of the last step.
   */
  decode(src: number[][], steps: number): Promise<number>;
  /** Weight bytes one decoder step reads at this batch (token-MoE: experts counted from the gates of one run). */
  stepBytes(src: number[][], steps: number): Promise<number>;
  /** GPU memory of its weights (onnxruntime-web on WebGPU: its models' f32 weight bytes; 0 on wasm). */
  gpuBytes(): number;
  downloads: { firstLoad: number; perExtraLanguage: number };
  dispose(): Promise<void>;
}

async function readManifest(url: string): Promise<Manifest> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return parseManifest(await res.json());
}

function folderOf(url: string): string {
  return url.slice(0, url.lastIndexOf('/') + 1);
}

/** A model on taskmoe's WebGPU engine (LocalModel) on `ctx`. */
export async function webgpuEngine(
  ctx: GpuContext,
  kind: EngineKind,
  manifestUrl: string,
  model: string,
  lang: string,
  extraLang: string,
  fuse = true,
): Promise<BenchEngine & { translator: LocalModel }> {
  const manifest = await readManifest(manifestUrl);
  const tr = await LocalModel.create(ctx, fetchFiles(folderOf(manifestUrl)));
  await tr.load(lang);
  tr.loaded.model.fuse = fuse;
  const cfg = tr.cfg;
  const opts = (batch: number, steps: number) =>
    ({ to: lang, batchSize: batch, maxSteps: steps, forceSteps: true }) as const;
  return {
    kind,
    model,
    adapter: adapterName(ctx.adapter),
    translator: tr,
    downloads: downloadBytes(manifest, manifest.extracted ? extraLang : lang),
    async decode(src, steps) {
      const t: number[] = [];
      await tr.translateIds(src, { ...opts(src.length, steps), onStep: () => t.push(performance.now()) });
      return (t[t.length - 1] as number) - (t[0] as number);
    },
    async stepBytes(src, steps) {
      if (cfg.decRouting !== 'token' || cfg.moeLayers.decoder.length === 0) {
        return weightBytesPerStep(cfg, { bytesPerWeight: 2 });
      }
      const trace = new Trace();
      const counts: number[] = [];
      try {
        await tr.translateIds(src, { ...opts(src.length, steps), trace, traceDecoder: true });
        for (const g of trace.gates) {
          if (g.stack === 'decoder' && g.kind === 'moe-token') counts.push(distinctExperts(await ctx.read(g.indices)));
        }
      } finally {
        trace?.dispose();
      }
      const mean = counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length);
      return weightBytesPerStep(cfg, { bytesPerWeight: 2, expertsPerLayer: mean });
    },
    gpuBytes: () => tr.bytes(),
    async dispose() {
      tr.dispose();
    },
  };
}

/** The extracted sub-network of `manifestUrl` on onnxruntime-web. */
export async function ortEngine(
  manifestUrl: string,
  model: string,
  lang: string,
  extraLang: string,
  backend: 'webgpu' | 'wasm',
  gpuAdapter: string,
): Promise<BenchEngine & { fallbackReason: string | null }> {
  const manifest = await readManifest(manifestUrl);
  const sub = await OrtSubnetwork.create(fetchFiles(folderOf(manifestUrl)), lang, backend);
  return {
    kind: 'ort',
    model,
    adapter:
      sub.backend === 'webgpu' ? `onnxruntime-web webgpu on ${gpuAdapter}` : 'onnxruntime-web wasm (CPU, 1 thread)',
    fallbackReason: sub.fallbackReason,
    downloads: downloadBytes(manifest, extraLang),
    decode: (src, steps) => sub.decode(src, steps),
    async stepBytes() {
      return weightBytesPerStep(sub.cfg, { bytesPerWeight: 4, crossKvEachStep: true });
    },
    gpuBytes: () => (sub.backend === 'webgpu' ? sub.modelBytes : 0),
    dispose: () => sub.dispose(),
  };
}
