// Prepares the random-weight models the throughput page (bench.html) measures: for each expert count E a token-routed
// model (token/token, served whole) and a task-routed one extracted into a trunk plus one shard per language, and one
// dense model with the extracted sub-network's active size. All share one set of dimensions (shrink them so E = 128
// fits in memory). Writes bench-models.json (src/bench-page/plan.ts) into `out`, which the Vite server serves.
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchModelIndex } from '../src/bench-page/plan';
import { extractModel, writeManifest } from '../src/runtime/extract-node';
import { type RandomModelSpec, writeRandomModel } from './random-model';
import { testSentences } from './sentences';

/** Options of {@link prepareBenchModels}. */
export interface BenchModelOptions {
  /** Output folder below the repository root (served by Vite), e.g. bench-results/models. */
  out: string;
  experts: number[];
  dModel: number;
  nHeads: number;
  dFF: number;
  encLayers: number;
  decLayers: number;
  /** Sentences in the index (at least the largest batch). */
  sentences: number;
  tokenizer?: string;
  log?: (line: string) => void;
}

const LANGUAGES = ['de', 'fr', 'es', 'it', 'pt-br', 'cs', 'ru', 'zh-cn'];

/** `n` distinct sentences of 6 to 14 words from `lines` (cycled if fewer). */
function pick(lines: string[], n: number): string[] {
  const fit = [...new Set(lines)].filter((l) => {
    const w = l.trim().split(/\s+/).length;
    return w >= 6 && w <= 14;
  });
  const from = fit.length ? fit : lines;
  return Array.from({ length: n }, (_, i) => from[i % from.length] as string);
}

/**
 * Writes the models and bench-models.json; a folder whose spec is unchanged since the last call is kept (the
 * generator is deterministic). Returns the index.
 */
export async function prepareBenchModels(o: BenchModelOptions): Promise<BenchModelIndex> {
  const log = o.log ?? (() => {});
  const tokenizer = o.tokenizer ?? 'test/fixtures/models/task_task/spm.model';
  const base = {
    dModel: o.dModel,
    nHeads: o.nHeads,
    dFF: o.dFF,
    encLayers: o.encLayers,
    decLayers: o.decLayers,
    tokenizer,
    languages: LANGUAGES,
  };
  /** Writes `dir` from `spec` unless a stamp says it already holds exactly that model. */
  const model = async (
    dir: string,
    spec: RandomModelSpec,
    finish: (src: string, dst: string) => Promise<unknown>,
  ): Promise<void> => {
    const path = join(o.out, dir);
    const stamp = join(path, '.spec.json');
    const want = JSON.stringify(spec);
    if (existsSync(stamp) && (await readFile(stamp, 'utf8')) === want) return;
    log(`writing ${dir}`);
    await rm(path, { recursive: true, force: true });
    const src = `${path}.src`;
    writeRandomModel(src, spec);
    await finish(src, path);
    await writeFile(stamp, want);
  };
  const extract = async (src: string, dst: string): Promise<void> => {
    // extract-node loads node-files dynamically too; one dynamic import keeps the bundle in one chunk.
    const { nodeFiles } = await import('../src/runtime/node-files');
    await extractModel(nodeFiles(src), dst);
    await rm(src, { recursive: true, force: true });
  };
  const whole = async (src: string, dst: string): Promise<void> => {
    await rm(dst, { recursive: true, force: true });
    await rename(src, dst);
    await writeManifest(dst);
  };
  const sweeps: BenchModelIndex['sweeps'] = [];
  for (const E of o.experts) {
    await model(
      `E${E}/token_token`,
      { ...base, nExperts: E, variant: 'token_token', encRouting: 'token', decRouting: 'token' },
      whole,
    );
    await model(
      `E${E}/task_task-extracted`,
      { ...base, nExperts: E, variant: 'task_task', encRouting: 'task', decRouting: 'task' },
      extract,
    );
    sweeps.push({
      experts: E,
      token: `E${E}/token_token/manifest.json`,
      extracted: `E${E}/task_task-extracted/manifest.json`,
    });
  }
  await model(
    'dense_wide',
    { ...base, nExperts: 2, variant: 'dense_wide', encRouting: 'dense', decRouting: 'dense', wideOddLayers: true },
    whole,
  );
  const vocab = (JSON.parse(await readFile(join(o.out, 'dense_wide', 'config.json'), 'utf8')) as { vocab_size: number })
    .vocab_size;
  const index: BenchModelIndex = {
    format: 'taskmoe-bench-models',
    dims: { dModel: o.dModel, nHeads: o.nHeads, dFF: o.dFF, encLayers: o.encLayers, decLayers: o.decLayers, vocab },
    lang: 'de',
    extraLang: 'fr',
    // Sentences of 6 to 14 words (about the corpus's average of 10), so that every batch size holds alike work.
    sentences: pick(testSentences(2000), o.sentences),
    sweeps,
    dense: 'dense_wide/manifest.json',
  };
  await writeFile(join(o.out, 'bench-models.json'), `${JSON.stringify(index, null, 1)}\n`);
  return index;
}
