// Beam search (beam 4, GNMT length penalty) against PyTorch's model.beam on the same exported weights.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalModel } from '../../src/engine/local-model';
import type { GpuContext } from '../../src/gpu';
import { nodeFiles } from '../../src/runtime/node-files';
import { testContext } from '../setup/gpu';

const DIRS = ['test/fixtures/models', 'models']
  .flatMap((root) => (existsSync(root) ? readdirSync(root).map((d) => join(root, d)) : []))
  .filter((d) => existsSync(join(d, 'beam.json')));

interface BeamFile {
  beam: number;
  max_steps: number;
  cases: Array<{ lang: string; text: string; src_ids: number[]; beam_ids: number[] }>;
}

it('has beam references for the four fixture models', () => {
  expect(DIRS.filter((d) => d.startsWith('test/')).length).toBe(4);
});

for (const dir of DIRS) {
  describe(`beam search of ${dir} against PyTorch`, () => {
    let ctx: GpuContext;
    let tr: LocalModel;
    const ref = JSON.parse(readFileSync(join(dir, 'beam.json'), 'utf8')) as BeamFile;
    beforeAll(async () => {
      ctx = await testContext();
      tr = await LocalModel.create(ctx, nodeFiles(dir));
    });
    afterAll(() => {
      tr.dispose();
      ctx.dispose();
    });

    // One test per language: a real model's beam search is slow on an emulated adapter.
    for (const lang of [...new Set(ref.cases.map((c) => c.lang))]) {
      it(`gives the same hypotheses for ${lang}, one sentence at a time and batched`, async () => {
        const cases = ref.cases.filter((c) => c.lang === lang);
        for (const c of cases) expect(tr.sourceIds(c.text, lang)).toEqual(c.src_ids);
        const opts = { to: lang, beam: ref.beam, maxSteps: ref.max_steps };
        const single = [];
        for (const c of cases) single.push(...(await tr.translateIds([c.src_ids], { ...opts, batchSize: 1 })).ids);
        expect(single).toEqual(cases.map((c) => c.beam_ids));
        const { ids: batched } = await tr.translateIds(
          cases.map((c) => c.src_ids),
          { ...opts, batchSize: 8 },
        );
        expect(batched).toEqual(cases.map((c) => c.beam_ids));
      });
    }
  });
}
