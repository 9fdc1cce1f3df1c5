// npm run bench:decode — decoding throughput of token-MoE, task-MoE (unextracted and extracted) and dense models of
// the same shapes, side by side on one adapter: sentences/s and tokens/s at several batch sizes. Random weights of
// the "small" config with forced decode steps (speed depends on shapes only). Writes bench-results/decode.json.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalModel } from '../src/engine/local-model';
import { adapterName, createGpuContext, Profiler } from '../src/gpu';
import { nodeGpu } from '../src/gpu/node';
import { extractModel } from '../src/runtime/extract-node';
import { nodeFiles } from '../src/runtime/node-files';
import { table, writeJson } from './harness';
import { writeRandomModel } from './random-model';
import { testSentences } from './sentences';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : def;
}

const SENTENCES = Number(arg('sentences', '200'));
const BATCHES = arg('batches', '1,8,32').split(',').map(Number);
const STEPS = Number(arg('steps', '24'));
const LANG = 'de';

async function main(): Promise<void> {
  const ctx = await createGpuContext({ gpu: await nodeGpu() });
  const adapter = adapterName(ctx.adapter);
  const tokenizer = arg('tokenizer', 'test/fixtures/models/task_task/spm.model');
  const languages = ['de', 'fr', 'es', 'it', 'pt-br', 'cs', 'ru', 'zh-cn'];
  const base = {
    dModel: 256,
    nHeads: 4,
    dFF: 1024,
    encLayers: 4,
    decLayers: 4,
    nExperts: Number(arg('experts', '8')),
    tokenizer,
    languages,
  };
  const tmp = mkdtempSync(join(tmpdir(), 'taskmoe-bench-decode-'));
  console.log(
    `taskmoe decode benchmark on ${adapter}: ${SENTENCES} sentences, batches ${BATCHES.join(',')}, ${STEPS} forced steps, random weights d_model 256, 4+4 layers, E=${base.nExperts}`,
  );
  const models: Array<{ name: string; dir: string }> = [
    { name: 'token-MoE (token/token)', dir: join(tmp, 'token_token') },
    { name: 'task-MoE unextracted (task/task)', dir: join(tmp, 'task_task') },
    { name: 'task-MoE extracted', dir: join(tmp, 'task_task-extracted') },
    { name: 'dense, same active size (d_ff 2x in odd layers)', dir: join(tmp, 'dense_wide') },
    { name: 'dense (d_ff 1024)', dir: join(tmp, 'dense_dense') },
  ];
  writeRandomModel(join(tmp, 'token_token'), {
    ...base,
    variant: 'token_token',
    encRouting: 'token',
    decRouting: 'token',
  });
  writeRandomModel(join(tmp, 'task_task'), { ...base, variant: 'task_task', encRouting: 'task', decRouting: 'task' });
  await extractModel(nodeFiles(join(tmp, 'task_task')), join(tmp, 'task_task-extracted'), { tasks: [LANG] });
  writeRandomModel(join(tmp, 'dense_wide'), {
    ...base,
    variant: 'dense_wide',
    encRouting: 'dense',
    decRouting: 'dense',
    wideOddLayers: true,
  });
  writeRandomModel(join(tmp, 'dense_dense'), {
    ...base,
    variant: 'dense_dense',
    encRouting: 'dense',
    decRouting: 'dense',
  });
  const texts = testSentences(SENTENCES);
  const rows: Array<Record<string, string | number>> = [];
  const translators: LocalModel[] = [];
  for (const m of models) {
    const tr = await LocalModel.create(ctx, nodeFiles(m.dir));
    await tr.load(LANG);
    translators.push(tr);
  }
  const ids = texts.map((t) => (translators[0] as LocalModel).sourceIds(t, LANG));
  for (const batch of BATCHES) {
    // Warm-up, then one timed pass per model, models in turn so load falls on all alike.
    for (const tr of translators)
      await tr.translateIds(ids.slice(0, batch), { to: LANG, batchSize: batch, maxSteps: 2, forceSteps: true });
    for (const [i, tr] of translators.entries()) {
      const t0 = performance.now();
      await tr.translateIds(ids, { to: LANG, batchSize: batch, maxSteps: STEPS, forceSteps: true });
      const s = (performance.now() - t0) / 1000;
      rows.push({
        engine: 'taskmoe-webgpu',
        model: (models[i] as { name: string }).name,
        experts: base.nExperts,
        batch,
        sentencesPerSecond: SENTENCES / s,
        tokensPerSecond: (SENTENCES * STEPS) / s,
        seconds: s,
        adapter,
      });
      console.log(
        `batch ${batch}: ${(models[i] as { name: string }).name}: ${((SENTENCES * STEPS) / s).toFixed(1)} tokens/s`,
      );
    }
  }
  console.log(table(rows.map(({ adapter: _a, engine: _e, ...r }) => r)));
  // Where decode time goes: GPU time per kernel family for one batch of each model (timestamp queries).
  const profiles: Record<string, unknown> = {};
  if (ctx.features.has('timestamp-query')) {
    const batch = BATCHES[BATCHES.length - 1] as number;
    for (const [i, tr] of translators.entries()) {
      const p = new Profiler(ctx);
      ctx.profiler = p;
      await tr.translateIds(ids.slice(0, batch), { to: LANG, batchSize: batch, maxSteps: STEPS, forceSteps: true });
      ctx.profiler = null;
      const name = (models[i] as { name: string }).name;
      profiles[name] = p.rows();
      console.log(`\nGPU time by kernel, ${name}, batch ${batch}, ${STEPS} steps:`);
      console.log(table(p.rows().map((r) => ({ ...r, msPerStep: r.totalMs / STEPS }))));
      p.dispose();
    }
  }
  const ratios = BATCHES.map((batch) => {
    const tps = (name: string): number =>
      rows.find((r) => r.batch === batch && (r.model as string).startsWith(name))?.tokensPerSecond as number;
    return {
      batch,
      extractedOverToken: tps('task-MoE extracted') / tps('token-MoE'),
      extractedOverDenseSameActive: tps('task-MoE extracted') / tps('dense, same active'),
      unextractedOverToken: tps('task-MoE unextracted') / tps('token-MoE'),
    };
  });
  console.log(table(ratios));
  writeJson('bench-results/decode.json', {
    adapter,
    date: new Date().toISOString(),
    sentences: SENTENCES,
    steps: STEPS,
    rows,
    ratios,
  });
  console.log('wrote bench-results/decode.json');
  for (const tr of translators) tr.dispose();
  ctx.dispose();
  rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
}

void main();
