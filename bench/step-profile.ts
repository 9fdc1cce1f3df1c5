// npm run bench:step -- [--batches 1,4] [--steps 12] [--runs 5] [--d-model 64] [--d-ff 256] [--layers 2]
//                       [--fuse true,false]
// Where one greedy decode step's time goes on this adapter (extracted task sub-network, random weights, forced
// steps): dispatches and CPU recording time per step, GPU time per step (timestamp queries, when the adapter has
// them), and the wall time per step with lookahead 1 (record, submit, wait for the readback, then the next step) vs
// pipelined lookaheads (also the whole call, encoder included), interleaved in one run so that only their ratios count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalModel } from '../src/engine/local-model';
import { adapterName, createGpuContext, Profiler, Recorder } from '../src/gpu';
import { nodeGpu } from '../src/gpu/node';
import { TransformerModel } from '../src/model/transformer';
import { extractModel } from '../src/runtime/extract-node';
import { nodeFiles } from '../src/runtime/node-files';
import { table } from './harness';
import { writeRandomModel } from './random-model';
import { testSentences } from './sentences';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : def;
}

const BATCHES = arg('batches', '1,4').split(',').map(Number);
const STEPS = Number(arg('steps', '12'));
const RUNS = Number(arg('runs', '5'));
const LOOKAHEADS = arg('lookaheads', '1,2,3,4').split(',').map(Number);
const LANG = 'de';
// Fused decode-step kernels (TransformerModel.fuse) and the plain kernel sequence, side by side.
const FUSE = arg('fuse', 'true,false')
  .split(',')
  .map((v) => v === 'true');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const ctx = await createGpuContext({ gpu: await nodeGpu() });
  const adapter = adapterName(ctx.adapter);
  const layers = Number(arg('layers', '2'));
  const tmp = mkdtempSync(join(tmpdir(), 'taskmoe-step-profile-'));
  writeRandomModel(join(tmp, 'task_task'), {
    dModel: Number(arg('d-model', '64')),
    nHeads: Number(arg('heads', '4')),
    dFF: Number(arg('d-ff', '256')),
    encLayers: layers,
    decLayers: layers,
    nExperts: Number(arg('experts', '32')),
    tokenizer: 'test/fixtures/models/task_task/spm.model',
    languages: ['de', 'fr'],
    variant: 'task_task',
    encRouting: 'task',
    decRouting: 'task',
  });
  await extractModel(nodeFiles(join(tmp, 'task_task')), join(tmp, 'x'), { tasks: [LANG] });
  const tr = await LocalModel.create(ctx, nodeFiles(join(tmp, 'x')));
  await tr.load(LANG);
  const texts = testSentences(64);
  const ids = texts.map((t) => tr.sourceIds(t, LANG));
  console.log(`step profile on ${adapter}: extracted task sub-network, ${STEPS} forced steps, ${RUNS} runs`);

  // CPU side of a step: dispatches recorded per submit and time spent in decodeStep (recording only).
  const submits: number[] = [];
  const origSubmit = Recorder.prototype.submit;
  Recorder.prototype.submit = function (this: Recorder): void {
    if (this.pendingDispatches > 0) submits.push(this.pendingDispatches);
    origSubmit.call(this);
  };
  const recordMs: number[] = [];
  const origStep = TransformerModel.prototype.decodeStep;
  TransformerModel.prototype.decodeStep = function (this: TransformerModel, ...a) {
    const t0 = performance.now();
    const r = origStep.apply(this, a);
    recordMs.push(performance.now() - t0);
    return r;
  } as typeof origStep;

  const rows: Array<Record<string, string | number>> = [];
  for (const batch of BATCHES)
    for (const fuse of FUSE) {
      tr.loaded.model.fuse = fuse;
      const src = ids.slice(0, batch);
      const total = new Map<number, number[]>(LOOKAHEADS.map((l) => [l, []]));
      const run = async (lookahead: number): Promise<number> => {
        const t: number[] = [];
        const t0 = performance.now();
        await tr.translateIds(src, {
          to: LANG,
          batchSize: batch,
          maxSteps: STEPS,
          forceSteps: true,
          lookahead,
          onStep: () => t.push(performance.now()),
        });
        total.get(lookahead)?.push(performance.now() - t0);
        return ((t[t.length - 1] as number) - (t[0] as number)) / (STEPS - 1); // ms per step over steps 2..N
      };
      for (const la of LOOKAHEADS) await run(la);
      submits.length = 0;
      recordMs.length = 0;
      await run(1);
      const dispatchesPerStep = median(submits.slice(1));
      const recordPerStep = median(recordMs);
      let gpuPerStep = Number.NaN;
      if (ctx.features.has('timestamp-query')) {
        const p = new Profiler(ctx);
        ctx.profiler = p;
        await run(1);
        ctx.profiler = null;
        gpuPerStep = p.rows().reduce((a, r) => a + r.totalMs, 0) / STEPS;
        p.dispose();
      }
      for (const l of LOOKAHEADS) (total.get(l) as number[]).length = 0;
      const per = new Map<number, number[]>(LOOKAHEADS.map((l) => [l, []]));
      for (let r = 0; r < RUNS; r++) for (const la of LOOKAHEADS) per.get(la)?.push(await run(la));
      const base = median(per.get(1) as number[]);
      const baseTotal = median(total.get(1) as number[]);
      for (const la of LOOKAHEADS) {
        const ms = median(per.get(la) as number[]);
        rows.push({
          batch,
          fused: fuse ? 'yes' : 'no',
          lookahead: la,
          dispatchesPerStep,
          recordMsPerStep: +recordPerStep.toFixed(2),
          gpuMsPerStep: +gpuPerStep.toFixed(2),
          wallMsPerStep: +ms.toFixed(2),
          speedupVsLookahead1: +(base / ms).toFixed(3),
          callMs: +median(total.get(la) as number[]).toFixed(1),
          callSpeedup: +(baseTotal / median(total.get(la) as number[])).toFixed(3),
        });
      }
    }
  Recorder.prototype.submit = origSubmit;
  TransformerModel.prototype.decodeStep = origStep;
  console.log(table(rows));
  tr.dispose();
  ctx.dispose();
  rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
