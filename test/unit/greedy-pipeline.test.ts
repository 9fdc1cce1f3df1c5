// Pipelined greedy search (several steps in flight before the oldest readback) gives the same ids as reading each
// step back before recording the next, including sentences that end at different steps, and honours abort. The
// fixture models have random weights and never emit </s>, so the test takes as </s> an id that the forced
// reference emits first at different steps in different sentences.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalModel } from '../../src/engine/local-model';
import type { GpuContext } from '../../src/gpu';
import { type GreedyOptions, greedySearch, TranslationAbortedError } from '../../src/model/search';
import { TransformerModel } from '../../src/model/transformer';
import { nodeFiles } from '../../src/runtime/node-files';
import { SENTENCES } from '../fixtures/sentences';
import { testContext } from '../setup/gpu';

const DIR = 'test/fixtures/models/token_task';
const LANG = 'fr'; // the fixture's outputs differ between sentences in fr
const STEPS = 12;
const TEXTS = SENTENCES.slice(0, 5);

describe('pipelined greedy search', () => {
  let ctx: GpuContext;
  let tr: LocalModel;
  let src: number[][];
  let reference: number[][];

  beforeAll(async () => {
    ctx = await testContext();
    tr = await LocalModel.create(ctx, nodeFiles(DIR));
    await tr.load(LANG);
    src = TEXTS.map((t) => tr.sourceIds(t, LANG));
    reference = await run(tr.loaded.model, { maxSteps: STEPS, forceSteps: true, lookahead: 1 });
  });
  afterAll(() => {
    tr.dispose();
    ctx.dispose();
  });

  /** One batch of all TEXTS through greedySearch with `model` (its cfg may differ from the loaded one's). */
  async function run(model: TransformerModel, opts: GreedyOptions): Promise<number[][]> {
    const batch = tr.makeBatch(src, tr.loaded.cfg.languages.indexOf(LANG));
    try {
      return await greedySearch(ctx, model, tr.weightsFor(LANG), batch, opts);
    } finally {
      for (const t of [batch.ids, batch.lengths, batch.tokenTasks]) t.dispose();
    }
  }

  it('gives the same ids with forced steps for any lookahead', async () => {
    expect(reference.every((r) => r.length === STEPS)).toBe(true);
    for (const lookahead of [2, 3, 4, 16]) {
      expect(await run(tr.loaded.model, { maxSteps: STEPS, forceSteps: true, lookahead })).toEqual(reference);
    }
  });

  it('stops each sentence at its own </s> and the batch when all ended, as one step at a time', async () => {
    // An id whose first occurrence differs between rows, so the rows end at different steps.
    const firstAt = (id: number) => reference.map((r) => r.indexOf(id));
    const ids = [...new Set(reference.flat())];
    const eos = ids.find((id) => firstAt(id).every((p) => p >= 0) && new Set(firstAt(id)).size > 2) as number;
    expect(eos).toBeDefined();
    const model = new TransformerModel({ ...tr.loaded.model.cfg, eosId: eos });
    const expected = reference.map((r) => r.slice(0, r.indexOf(eos)));
    const lastStep = Math.max(...firstAt(eos)) + 1;
    for (const lookahead of [1, 2, 3, 4, 16]) {
      let steps = 0;
      const out = await run(model, { maxSteps: STEPS, lookahead, onStep: () => steps++ });
      expect(out).toEqual(expected);
      expect(steps).toBe(lastStep);
    }
  });

  it('honours abort and frees every buffer it used', async () => {
    const before = ctx.pool.stats().bytesInUse;
    for (const lookahead of [1, 3, 16]) {
      const ac = new AbortController();
      let steps = 0;
      const onStep = () => {
        if (++steps === 3) ac.abort();
      };
      await expect(run(tr.loaded.model, { maxSteps: STEPS, lookahead, signal: ac.signal, onStep })).rejects.toThrow(
        TranslationAbortedError,
      );
      expect(steps).toBe(3);
      expect(ctx.pool.stats().bytesInUse).toBe(before);
    }
  });

  it('rejects a lookahead that is not a positive integer', async () => {
    await expect(run(tr.loaded.model, { maxSteps: 2, lookahead: 0 })).rejects.toThrow(RangeError);
  });
});
