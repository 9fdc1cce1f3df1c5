// ONNX export of an extracted sub-network, run on onnxruntime-web's WASM backend in Node: encoder outputs and greedy
// translations equal the WebGPU engine's.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTranslator } from '../../src/engine/local-translator';
import { openTranslator } from '../../src/engine/open-translator';
import { WasmTranslator } from '../../src/engine/wasm-translator';
import type { GpuContext } from '../../src/gpu';
import { WebGPUUnavailableError } from '../../src/gpu';
import { extractModel } from '../../src/runtime/extract-node';
import { nodeFiles } from '../../src/runtime/node-files';
import { exportOnnx, type F32Reader } from '../../src/runtime/onnx-export';
import { parseSafetensors } from '../../src/runtime/safetensors';
import { memoryCache } from '../../src/runtime/shard-loader';
import { testContext } from '../setup/gpu';

const SRC = readFileSync('training/fixtures/de/dev.src', 'utf8').split('\n').filter(Boolean).slice(0, 4);
const NEG = -1e9;

describe('ONNX export of the extracted task_task model (WASM backend)', () => {
  let dir: string;
  let ctx: GpuContext;
  let ext: LocalTranslator;
  let encoder: ort.InferenceSession;
  let decoder: ort.InferenceSession;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'taskmoe-onnx-'));
    await extractModel(nodeFiles('test/fixtures/models/task_task'), dir);
    ctx = await testContext();
    ext = await LocalTranslator.create(ctx, nodeFiles(dir));
    const cfg = ext.loaded.cfg;
    const files = [...cfg.shards, cfg.taskShards?.de as string].map((f) =>
      parseSafetensors(new Uint8Array(readFileSync(join(dir, f))), { name: f }),
    );
    const read: F32Reader = (name) => {
      for (const f of files) {
        const info = f.tensors.get(name);
        if (info) return { shape: info.shape, data: f.f32(name) };
      }
      throw new Error(`no tensor ${name}`);
    };
    const onnx = exportOnnx(cfg, read);
    ort.env.wasm.numThreads = 1;
    encoder = await ort.InferenceSession.create(onnx.encoder);
    decoder = await ort.InferenceSession.create(onnx.decoder);
  });
  afterAll(() => {
    ext?.dispose();
    ctx?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const i64 = (v: number[], dims: number[]): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), dims);

  async function encode(src: number[]): Promise<ort.Tensor> {
    const S = src.length;
    const r = await encoder.run({
      ids: i64(src, [1, S]),
      pos: i64([...Array(S).keys()], [S]),
      key_bias: new ort.Tensor('float32', new Float32Array(S), [1, 1, 1, S]),
    });
    return r.enc as ort.Tensor;
  }

  it('encoder output equals the WebGPU encoder within 1e-4 relative error', async () => {
    await ext.load('de');
    const src = ext.sourceIds(SRC[0] as string, 'de');
    const task = ext.languages().indexOf('de');
    const batch = ext.makeBatch([src], task);
    const rec = ctx.recorder();
    const enc = ext.loaded.model.encode(rec, ext.weightsFor('de'), batch);
    rec.submit();
    const gpu = (await ctx.read(enc)) as Float32Array;
    for (const t of [enc, batch.ids, batch.lengths, batch.tokenTasks]) t.dispose();
    const cpu = (await encode(src)).data as Float32Array;
    expect(cpu.length).toBe(gpu.length);
    let num = 0;
    let den = 0;
    for (let i = 0; i < gpu.length; i++) {
      num = Math.max(num, Math.abs((cpu[i] as number) - (gpu[i] as number)));
      den = Math.max(den, Math.abs(gpu[i] as number));
    }
    console.log(`[taskmoe] ONNX (WASM) vs WebGPU encoder: max rel err ${(num / den).toExponential(2)}`);
    expect(num / den).toBeLessThan(1e-4);
  });

  it('greedy translations equal the WebGPU engine’s', async () => {
    const cfg = ext.loaded.cfg;
    for (const text of SRC) {
      const src = ext.sourceIds(text, 'de');
      const S = src.length;
      const enc = await encode(src);
      const out: number[] = [];
      const steps = Math.min(cfg.maxLen, 2 * S + 10);
      for (let t = 0; t < steps; t++) {
        const tgt = [cfg.bosId, ...out];
        const T = tgt.length;
        const causal = new Float32Array(T * T);
        for (let a = 0; a < T; a++) for (let b = a + 1; b < T; b++) causal[a * T + b] = NEG;
        const r = await decoder.run({
          tgt: i64(tgt, [1, T]),
          pos: i64([...Array(T).keys()], [T]),
          causal: new ort.Tensor('float32', causal, [1, 1, T, T]),
          enc,
          key_bias: new ort.Tensor('float32', new Float32Array(S), [1, 1, 1, S]),
        });
        const logits = (r.logits as ort.Tensor).data as Float32Array;
        const V = cfg.vocabSize;
        let best = 0;
        for (let v = 1; v < V; v++)
          if ((logits[(T - 1) * V + v] as number) > (logits[(T - 1) * V + best] as number)) best = v;
        if (best === cfg.eosId) break;
        out.push(best);
      }
      const [gpu] = await ext.translateIds([src], { to: 'de' });
      expect(out).toEqual(gpu);
    }
  });

  it('the WASM engine (backend "wasm", and "auto" without WebGPU) translates like the WebGPU engine', async () => {
    const requests: string[] = [];
    const fetch: typeof globalThis.fetch = async (u) => {
      const name = String(u).slice('http://models.test/'.length);
      requests.push(name);
      return new Response(readFileSync(join(dir, name)));
    };
    const texts = [...SRC, '', SRC[1] as string];
    const expected = await ext.translate(texts, { to: 'de', batchSize: 1 });
    const expectedFr = await ext.translate(texts, { to: 'fr', batchSize: 1 });
    const warnings: string[] = [];
    for (const backend of ['wasm', 'auto'] as const) {
      requests.length = 0;
      const t = await openTranslator({
        model: 'http://models.test/manifest.json',
        backend,
        fetch,
        cache: memoryCache(),
        warn: (m) => warnings.push(m),
        createContext: async () => {
          throw new WebGPUUnavailableError('no adapter in this test');
        },
      });
      expect(t).toBeInstanceOf(WasmTranslator);
      const partials: string[][] = [];
      expect(await t.translate(texts, { to: 'de', onPartial: (p) => partials.push(p.texts) })).toEqual(expected);
      expect(partials.length).toBeGreaterThan(0);
      expect(await t.translate(texts, { to: 'fr' })).toEqual(expectedFr);
      expect(requests.filter((r) => r.startsWith('task-')).sort()).toEqual([
        'task-de.safetensors',
        'task-fr.safetensors',
      ]);
      const st = await t.stats();
      expect(st.backend).toBe('wasm');
      expect(st.resident).toEqual(['de', 'fr']);
      const act = await t.activation();
      expect(act?.layers.every((l) => l.routing === 'task' && l.task?.experts.length === 2)).toBe(true);
      await expect(t.translate(['x'], { to: 'xx' })).rejects.toMatchObject({ code: 'unknown-language' });
      await expect(t.translate(SRC, { to: 'de', signal: AbortSignal.abort() })).rejects.toMatchObject({
        code: 'aborted',
      });
      await t.dispose();
    }
    expect(warnings.some((w) => w.includes('Falling back to the WASM engine'))).toBe(true);
  });
});
