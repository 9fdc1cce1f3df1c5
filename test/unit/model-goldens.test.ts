// The whole model against PyTorch: tokenizer ids, encoder output, first-step logits and greedy translations of the
// goldens exported with each fixture model (test/fixtures/models/<variant>, made by make.py from the training code).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalModel } from '../../src/engine/local-model';
import type { GpuContext } from '../../src/gpu';
import { nodeFiles } from '../../src/runtime/node-files';
import { parseSafetensors } from '../../src/runtime/safetensors';
import { relErr } from '../reference/compare';
import { testContext } from '../setup/gpu';

const ROOT = 'test/fixtures/models';
const VARIANTS = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();
// Shipped models (trained, d_model 256) are checked against their own goldens as well.
const SHIPPED = existsSync('models')
  ? readdirSync('models', { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join('models', d.name, 'goldens.json')))
      .map((d) => join('models', d.name))
  : [];

interface GoldenCase {
  name: string;
  lang: string;
  task_id: number;
  text: string;
  src_ids: number[];
  greedy_ids: number[];
  greedy_text: string;
  argmax0: number;
}

const REL_TOL = 1e-4;

it('has fixture models for every routing variant', () => {
  expect(VARIANTS).toEqual(['dense_dense', 'task_task', 'token_task', 'token_token']);
});

it('checks the shipped task_task model too', () => {
  expect(SHIPPED).toContain(join('models', 'task_task'));
});

for (const dir of [...VARIANTS.map((v) => join(ROOT, v)), ...SHIPPED]) {
  const variant = dir;
  describe(`model ${variant} against PyTorch goldens`, () => {
    let ctx: GpuContext;
    let tr: LocalModel;
    const meta = JSON.parse(readFileSync(join(dir, 'goldens.json'), 'utf8')) as {
      max_steps: number;
      cases: GoldenCase[];
    };
    const arrays = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'goldens.safetensors'))));
    beforeAll(async () => {
      ctx = await testContext();
      tr = await LocalModel.create(ctx, nodeFiles(dir));
    });
    afterAll(() => {
      tr.dispose();
      ctx.dispose();
    });

    it('has golden cases', () => expect(meta.cases.length).toBeGreaterThan(0));

    for (const c of meta.cases) {
      it(`${c.name}: source ids, encoder output, first-step logits`, async () => {
        expect(tr.sourceIds(c.text, c.lang)).toEqual(c.src_ids);
        const m = tr.loaded.model;
        const w = tr.weightsFor(c.lang);
        const batch = tr.makeBatch([c.src_ids], c.task_id);
        const rec = ctx.recorder();
        const enc = m.encode(rec, w, batch);
        const rowTasks = ctx.upload([c.task_id], [1], 'u32');
        const state = m.startDecoder(rec, w, enc, batch.lengths, rowTasks, 1);
        const bos = ctx.upload([tr.loaded.cfg.bosId], [1], 'u32');
        const logits = m.decodeStep(rec, w, state, bos);
        rec.submit();
        const encGot = await ctx.read(enc);
        const logitsGot = await ctx.read(logits);
        const eEnc = relErr(encGot, arrays.f32(`${c.name}.encoder_out`));
        const eLog = relErr(logitsGot, arrays.f32(`${c.name}.logits0`));
        console.log(
          `[taskmoe] ${variant} ${c.name}: encoder rel err ${eEnc.toExponential(2)}, logits rel err ${eLog.toExponential(2)}`,
        );
        expect(eEnc).toBeLessThanOrEqual(REL_TOL);
        expect(eLog).toBeLessThanOrEqual(REL_TOL);
        for (const t of [enc, logits, bos, batch.ids, batch.tokenTasks]) t.dispose();
        state.dispose();
      });
    }

    it('greedy translations are identical to PyTorch', async () => {
      for (const lang of [...new Set(meta.cases.map((c) => c.lang))]) {
        const cases = meta.cases.filter((c) => c.lang === lang);
        const { ids: out } = await tr.translateIds(
          cases.map((c) => c.src_ids),
          { to: lang, maxSteps: meta.max_steps },
        );
        expect(out).toEqual(cases.map((c) => c.greedy_ids));
        const texts = await tr.translate(
          cases.map((c) => c.text),
          { to: lang, maxSteps: meta.max_steps },
        );
        expect(texts).toEqual(cases.map((c) => c.greedy_text));
      }
    });
  });
}
