// The fused decode step (layer norms inside linears, residual adds inside output projections, k/v written straight
// into the KV cache) computes what the plain kernel sequence computes: encoder output and every step's logits agree
// within f32 rounding, for each FFN form (dense, task-routed and token-routed MoE, an extracted sub-network), with a
// batch of 1 (one row group) and of 9 sentences (two row groups of the fused linear), and with rows over the fusion
// limit (the encoder's, which fall back to a separate layer norm).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalModel } from '../../src/engine/local-model';
import type { GpuContext, Tensor } from '../../src/gpu';
import { argmax } from '../../src/kernels/argmax';
import { nodeFiles } from '../../src/runtime/node-files';
import { SENTENCES } from '../fixtures/sentences';
import { assertClose, TOL } from '../reference/compare';
import { testContext } from '../setup/gpu';

const TEXTS = [...SENTENCES];
const STEPS = 6;
const LANG = 'fr';

for (const [dir, kernelProfile] of [
  ['test/fixtures/models/dense_dense', 'emulated'],
  ['test/fixtures/models/task_task', 'emulated'],
  ['test/fixtures/models/token_token', 'emulated'],
  ['models/task_task', 'emulated'],
  ['models/task_task', 'gpu'],
] as const) {
  describe(`fused decode step == plain kernels on ${dir} (${kernelProfile} kernels)`, () => {
    let ctx: GpuContext;
    let tr: LocalModel;
    beforeAll(async () => {
      ctx = await testContext({ kernelProfile });
      tr = await LocalModel.create(ctx, nodeFiles(dir));
      await tr.load(LANG);
    });
    afterAll(() => {
      tr.dispose();
      ctx.dispose();
    });

    /** Encoder output and STEPS steps of logits, feeding back the argmax ids of `feed` (or its own). */
    async function run(fuse: boolean, texts: string[], feed?: Uint32Array[]) {
      const model = tr.loaded.model;
      model.fuse = fuse;
      const w = tr.weightsFor(LANG);
      const src = tr.makeBatch(
        texts.map((t) => tr.sourceIds(t, LANG)),
        tr.loaded.cfg.languages.indexOf(LANG),
      );
      const rec = ctx.recorder();
      const enc = model.encode(rec, w, src);
      const encOut = await ctx.read(enc);
      const rowTasks = ctx.upload(Uint32Array.from(src.taskIds), [src.B], 'u32');
      const state = model.startDecoder(rec, w, enc, src.lengths, rowTasks, STEPS);
      let tokens: Tensor = ctx.upload(new Uint32Array(src.B).fill(model.cfg.bosId), [src.B], 'u32');
      const logits: Float32Array[] = [];
      const ids: Uint32Array[] = [];
      for (let s = 0; s < STEPS; s++) {
        const l = model.decodeStep(rec, w, state, tokens);
        const next = argmax(rec, l);
        rec.submit();
        logits.push((await ctx.read(l)) as Float32Array);
        ids.push((await ctx.read(next)) as Uint32Array);
        tokens.dispose();
        l.dispose();
        next.dispose();
        tokens = ctx.upload(feed ? (feed[s] as Uint32Array) : (ids[s] as Uint32Array), [src.B], 'u32');
      }
      tokens.dispose();
      state.dispose();
      enc.dispose();
      for (const t of [src.ids, src.lengths, src.tokenTasks]) t.dispose();
      model.fuse = true;
      return { encOut, logits, ids };
    }

    for (const n of [1, 9]) {
      it(`batch ${n}: encoder output and ${STEPS} steps of logits agree`, async () => {
        const texts = TEXTS.slice(0, n);
        const fused = await run(true, texts);
        const plain = await run(false, texts, fused.ids);
        assertClose(fused.encOut, plain.encOut, TOL.f32, 'encoder output');
        for (let s = 0; s < STEPS; s++)
          assertClose(fused.logits[s] as Float32Array, plain.logits[s] as Float32Array, TOL.f32, `step ${s} logits`);
        expect(tr.loaded.model.fuse).toBe(true);
      });
    }
  });
}
