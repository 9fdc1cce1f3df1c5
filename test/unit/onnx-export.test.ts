// The WASM fallback against PyTorch and against the WebGPU engine. Every fixture variant (task_task, token_task,
// token_token, dense_dense) and the shipped models/task_task, exported whole to ONNX (task-routed layers folded per
// language, token-routed layers gated in the graph) and run on onnxruntime-web's WASM backend in Node: encoder output
// and first-step logits within 1e-4 relative error (max |a - e| / max |e|) of PyTorch's, greedy ids identical, beam 4
// identical to the beam references, batched equal to one at a time. Then extracted models and the WasmTranslator
// against the WebGPU engine.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalModel } from '../../src/engine/local-model';
import { openTranslator } from '../../src/engine/open-translator';
import { OrtModel } from '../../src/engine/ort-model';
import { WasmTranslator } from '../../src/engine/wasm-translator';
import type { GpuContext } from '../../src/gpu';
import { WebGPUUnavailableError } from '../../src/gpu';
import type { ModelConfig } from '../../src/model/config';
import { extractModel, writeManifest } from '../../src/runtime/extract-node';
import { readConfig } from '../../src/runtime/load-model';
import { nodeFiles } from '../../src/runtime/node-files';
import { exportOnnx, shardReader } from '../../src/runtime/onnx-export';
import { parseSafetensors } from '../../src/runtime/safetensors';
import { memoryCache } from '../../src/runtime/shard-loader';
import { relErr } from '../reference/compare';
import { testContext } from '../setup/gpu';

ort.env.wasm.numThreads = 1;

const SRC = readFileSync('training/fixtures/de/dev.src', 'utf8').split('\n').filter(Boolean).slice(0, 4);
const FIXTURES = ['dense_dense', 'task_task', 'token_task', 'token_token'].map((v) => join('test/fixtures/models', v));
const MODELS = [...FIXTURES, ...(existsSync('models/task_task/goldens.json') ? ['models/task_task'] : [])];
const REL_TOL = 1e-4;

interface GoldenCase {
  name: string;
  lang: string;
  src_ids: number[];
  greedy_ids: number[];
}
interface BeamFile {
  beam: number;
  max_steps: number;
  cases: Array<{ lang: string; src_ids: number[]; beam_ids: number[] }>;
}

/** The OrtModel of `dir` (whole model, task-routed layers folded for `lang`; or an extracted model's `lang`). */
async function ortModel(dir: string, cfg: ModelConfig, lang: string): Promise<OrtModel> {
  const shards = [...(cfg.taskShards ? [cfg.taskShards[lang] as string] : []), ...cfg.shards];
  const files = shards.map((f) => parseSafetensors(new Uint8Array(readFileSync(join(dir, f))), { name: f }));
  return OrtModel.create(ort, cfg, shardReader(files), { lang });
}

for (const dir of MODELS) {
  describe(`ONNX (WASM) export of ${dir} against PyTorch`, () => {
    const meta = JSON.parse(readFileSync(join(dir, 'goldens.json'), 'utf8')) as {
      max_steps: number;
      cases: GoldenCase[];
    };
    const beamRef = JSON.parse(readFileSync(join(dir, 'beam.json'), 'utf8')) as BeamFile;
    const arrays = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'goldens.safetensors'))));
    const models = new Map<string, OrtModel>();
    let cfg: ModelConfig;
    const model = async (lang: string): Promise<OrtModel> => {
      let m = models.get(lang);
      if (!m) {
        m = await ortModel(dir, cfg, lang);
        models.set(lang, m);
      }
      return m;
    };
    beforeAll(async () => {
      cfg = await readConfig(nodeFiles(dir));
    });
    afterAll(async () => {
      for (const m of models.values()) await m.release();
    });

    it(`encoder output and first-step logits within ${REL_TOL} relative error`, async () => {
      const worst = { enc: 0, logits: 0 };
      for (const c of meta.cases) {
        const m = await model(c.lang);
        const e = await m.encode([c.src_ids]);
        const step = await m.step(await m.startDecoder(e), [cfg.bosId], 0);
        const eEnc = relErr(e.enc.data as Float32Array, arrays.f32(`${c.name}.encoder_out`));
        const eLog = relErr(step.logits, arrays.f32(`${c.name}.logits0`));
        worst.enc = Math.max(worst.enc, eEnc);
        worst.logits = Math.max(worst.logits, eLog);
        expect(eEnc, c.name).toBeLessThanOrEqual(REL_TOL);
        expect(eLog, c.name).toBeLessThanOrEqual(REL_TOL);
      }
      console.log(
        `[taskmoe] WASM ${dir}: max rel err vs PyTorch: encoder ${worst.enc.toExponential(2)}, ` +
          `first-step logits ${worst.logits.toExponential(2)}`,
      );
    });

    it('greedy ids identical to PyTorch, batched and one at a time', async () => {
      for (const lang of [...new Set(meta.cases.map((c) => c.lang))]) {
        const cases = meta.cases.filter((c) => c.lang === lang);
        const m = await model(lang);
        const src = cases.map((c) => c.src_ids);
        const want = cases.map((c) => c.greedy_ids);
        expect((await m.translateIds(src, { maxSteps: meta.max_steps })).ids).toEqual(want);
        expect((await m.translateIds(src, { maxSteps: meta.max_steps, batchSize: 1 })).ids).toEqual(want);
      }
    });

    it(`beam ${beamRef.beam} identical to PyTorch's beam references, batched and one at a time`, async () => {
      for (const lang of [...new Set(beamRef.cases.map((c) => c.lang))]) {
        const cases = beamRef.cases.filter((c) => c.lang === lang);
        const m = await model(lang);
        const src = cases.map((c) => c.src_ids);
        const want = cases.map((c) => c.beam_ids);
        const opts = { beam: beamRef.beam, maxSteps: beamRef.max_steps };
        expect((await m.translateIds(src, { ...opts, batchSize: 1 })).ids).toEqual(want);
        expect((await m.translateIds(src, { ...opts, batchSize: 8 })).ids).toEqual(want);
      }
    });
  });
}

describe('ONNX (WASM) vs the WebGPU engine', () => {
  let tmp: string;
  let ctx: GpuContext;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'taskmoe-onnx-'));
    ctx = await testContext();
  });
  afterAll(() => {
    ctx?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** A model folder under tmp: extracted (task-routed variants) or the whole model with a manifest. */
  async function folder(variant: string, extract: boolean): Promise<string> {
    const out = join(tmp, `${variant}${extract ? '-extracted' : ''}`);
    if (!existsSync(out)) {
      if (extract) await extractModel(nodeFiles(join('test/fixtures/models', variant)), out);
      else {
        cpSync(join('test/fixtures/models', variant), out, { recursive: true });
        await writeManifest(out);
      }
    }
    return out;
  }

  for (const [variant, extract] of [
    ['task_task', true],
    ['token_task', true],
    ['token_token', false],
  ] as const) {
    it(`${variant}${extract ? ' (extracted)' : ''}: encoder, greedy and beam 4 equal WebGPU’s`, async () => {
      const dir = await folder(variant, extract);
      const gpu = await LocalModel.create(ctx, nodeFiles(dir));
      try {
        const cfg = gpu.loaded.cfg;
        expect(readdirSync(dir)).toContain('manifest.json');
        for (const lang of ['de']) {
          await gpu.load(lang);
          const m = await ortModel(dir, cfg, lang);
          try {
            const src = SRC.map((t) => gpu.sourceIds(t, lang));
            const batch = gpu.makeBatch([src[0] as number[]], cfg.languages.indexOf(lang));
            const rec = ctx.recorder();
            const enc = gpu.loaded.model.encode(rec, gpu.weightsFor(lang), batch);
            rec.submit();
            const want = (await ctx.read(enc)) as Float32Array;
            for (const t of [enc, batch.ids, batch.lengths, batch.tokenTasks]) t.dispose();
            const err = relErr((await m.encode([src[0] as number[]])).enc.data as Float32Array, want);
            console.log(`[taskmoe] WASM vs WebGPU ${variant} ${lang}: encoder max rel err ${err.toExponential(2)}`);
            expect(err).toBeLessThanOrEqual(REL_TOL);
            // 16 steps at most: the untrained fixtures rarely emit </s>, and WebGPU runs on a software rasterizer.
            for (const beam of [1, 4]) {
              const opts = { beam, maxSteps: 16 };
              const { ids: expected } = await gpu.translateIds(src, { ...opts, to: lang, batchSize: 1 });
              expect((await m.translateIds(src, { ...opts, batchSize: 1 })).ids).toEqual(expected);
              expect((await m.translateIds(src, opts)).ids).toEqual(
                (await gpu.translateIds(src, { ...opts, to: lang })).ids,
              );
            }
          } finally {
            await m.release();
          }
        }
      } finally {
        gpu.dispose();
      }
    }, 300_000);
  }

  it('the WASM engine (backend "wasm", and "auto" without WebGPU) translates like the WebGPU engine', async () => {
    const dir = await folder('task_task', true);
    const ext = await LocalModel.create(ctx, nodeFiles(dir));
    const requests: string[] = [];
    const fetch: typeof globalThis.fetch = async (u) => {
      const name = String(u).slice('http://models.test/'.length);
      requests.push(name);
      return new Response(readFileSync(join(dir, name)));
    };
    const texts = [...SRC, '', SRC[1] as string];
    const expected = await ext.translate(texts, { to: 'de', batchSize: 1 });
    const expectedFr = await ext.translate(texts, { to: 'fr' });
    const expectedBeam = await ext.translate(texts, { to: 'fr', beam: 4 });
    ext.dispose();
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
      expect(await t.translate(texts, { to: 'de', batchSize: 1, onPartial: (p) => partials.push(p.texts) })).toEqual(
        expected,
      );
      expect(partials.length).toBeGreaterThan(0);
      expect(await t.translate(texts, { to: 'fr' })).toEqual(expectedFr);
      expect(await t.translate(texts, { to: 'fr', beam: 4 })).toEqual(expectedBeam);
      expect(requests.filter((r) => r.startsWith('task-')).sort()).toEqual([
        'task-de.safetensors',
        'task-fr.safetensors',
      ]);
      const st = await t.stats();
      expect(st.backend).toBe('wasm');
      expect(st.resident).toEqual(['de', 'fr']);
      expect(st.tokens).toBeGreaterThan(0);
      const act = await t.activation();
      expect(act?.layers.every((l) => l.routing === 'task' && l.task?.experts.length === 2)).toBe(true);
      await expect(t.translate(['x'], { to: 'xx' })).rejects.toMatchObject({ code: 'unknown-language' });
      await expect(t.translate(SRC, { to: 'de', signal: AbortSignal.abort() })).rejects.toMatchObject({
        name: 'AbortError',
      });
      await t.dispose();
    }
    expect(warnings.some((w) => w.includes('Falling back to the WASM engine'))).toBe(true);
  });

  it('the WASM engine runs an unextracted token_token model, beam 4 included, like the WebGPU engine', async () => {
    const dir = await folder('token_token', false);
    const gpu = await LocalModel.create(ctx, nodeFiles(dir));
    const texts = [...SRC, ''];
    const expected = await gpu.translate(texts, { to: 'es', beam: 4 });
    gpu.dispose();
    const t = await openTranslator({
      model: 'http://models.test/manifest.json',
      backend: 'wasm',
      fetch: async (u) => new Response(readFileSync(join(dir, String(u).slice('http://models.test/'.length)))),
      cache: memoryCache(),
    });
    expect(await t.translate(texts, { to: 'es', beam: 4 })).toEqual(expected);
    await t.dispose();
  });

  it('the prefix decoder (export-onnx’s decoder.onnx) gives the cached decoder’s logits', async () => {
    const dir = await folder('token_task', true);
    const cfg = await readConfig(nodeFiles(dir));
    const files = [cfg.taskShards?.de as string, ...cfg.shards].map((f) =>
      parseSafetensors(new Uint8Array(readFileSync(join(dir, f))), { name: f }),
    );
    const onnx = exportOnnx(cfg, shardReader(files), { decoder: 'prefix' });
    const enc = await ort.InferenceSession.create(onnx.encoder);
    const dec = await ort.InferenceSession.create(onnx.decoder);
    const m = await ortModel(dir, cfg, 'de');
    const i64 = (v: number[], dims: number[]): ort.Tensor =>
      new ort.Tensor('int64', BigInt64Array.from(v, BigInt), dims);
    const src = [cfg.langTagIds.de as number, 10, 11, 12, cfg.eosId];
    const S = src.length;
    const keyBias = new ort.Tensor('float32', new Float32Array(S), [1, 1, 1, S]);
    const e = await enc.run({ ids: i64(src, [1, S]), pos: i64([...Array(S).keys()], [S]), key_bias: keyBias });
    const tgt = [cfg.bosId, 20, 21];
    const T = tgt.length;
    const causal = new Float32Array(T * T);
    for (let a = 0; a < T; a++) for (let b = a + 1; b < T; b++) causal[a * T + b] = -1e9;
    const r = await dec.run({
      tgt: i64(tgt, [1, T]),
      pos: i64([...Array(T).keys()], [T]),
      causal: new ort.Tensor('float32', causal, [1, 1, T, T]),
      enc: e.enc as ort.Tensor,
      key_bias: keyBias,
    });
    const all = (r.logits as ort.Tensor).data as Float32Array;
    const s = await m.startDecoder(await m.encode([src]));
    const V = cfg.vocabSize;
    for (let t = 0; t < T; t++) {
      const { logits } = await m.step(s, [tgt[t] as number], t);
      expect(relErr(logits, all.subarray(t * V, (t + 1) * V))).toBeLessThanOrEqual(REL_TOL);
    }
    await enc.release();
    await dec.release();
    await m.release();
  });
});
