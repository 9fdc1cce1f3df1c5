// Prepares the models the demo page serves: extracts the committed models into a git-ignored folder under public/
// (served by Vite at /demo-models/) and writes models.json, the list the page offers. Run by `npm run demo` (predemo);
// does nothing for a model whose source has not changed since it was last prepared.
//
//   node dist/prepare-demo/prepare-demo-models.js [--out public/demo-models] [--fixtures-only]
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { extractModel, writeManifest } from '../src/runtime/extract-node';

/** One model the demo offers (an entry of models.json). */
export interface DemoModel {
  /** Folder name under the output folder. */
  id: string;
  /** What the model picker shows. */
  label: string;
  /** manifest.json, relative to models.json. */
  manifest: string;
  /** Encoder / decoder routing, e.g. "token / task". */
  routing: string;
  /** True for the tiny near-random test models (their translations are junk). */
  tiny: boolean;
  /** True when split into a trunk and one shard per language; false when every language needs the whole model. */
  extracted: boolean;
  /** Training state worth telling, e.g. "trained for only 17 of 2400 steps so far". */
  note?: string;
}

/** models.json: the list the demo page reads. */
export interface DemoModelList {
  models: DemoModel[];
}

/** The `training` record of a model's config.json (training/README.md). */
interface Training {
  steps?: number;
  max_steps?: number;
  complete?: boolean;
}

interface Source {
  id: string;
  dir: string;
  label: string;
  routing: string;
  tiny: boolean;
  /** Extract the task sub-networks (task-routed models), or serve the whole model (token-MoE). */
  extract: boolean;
}

// Bumped when what this script writes changes, so that old outputs are rebuilt.
const FORMAT = 1;

/** sha256 over the source folder's files (names and bytes), so a retrained model is prepared again. */
async function fingerprint(dir: string): Promise<string> {
  const h = createHash('sha256').update(`prepare-demo-models ${FORMAT}\n`);
  const names = (await readdir(dir)).filter((n) => n === 'config.json' || /\.(safetensors|model)$/.test(n)).sort();
  for (const n of names) h.update(`${n}\n`).update(await readFile(join(dir, n)));
  return h.digest('hex');
}

function sources(fixturesOnly: boolean): Source[] {
  const list: Source[] = [];
  const real = 'models/task_task';
  const haveReal = !fixturesOnly && existsSync(join(real, 'config.json'));
  if (haveReal) {
    list.push({
      id: 'task_task',
      dir: real,
      label: 'task_task: small trained model (task / task, extracted)',
      routing: 'task / task',
      tiny: false,
      extract: true,
    });
  }
  const fx = 'test/fixtures/models';
  if (!haveReal) {
    list.push({
      id: 'tiny-task_task',
      dir: `${fx}/task_task`,
      label: 'task_task: tiny test model (task / task, extracted)',
      routing: 'task / task',
      tiny: true,
      extract: true,
    });
  }
  list.push(
    {
      id: 'tiny-token_task',
      dir: `${fx}/token_task`,
      label: 'token_task: tiny test model (hybrid: token encoder / task decoder, extracted)',
      routing: 'token / task',
      tiny: true,
      extract: true,
    },
    {
      id: 'tiny-token_token',
      dir: `${fx}/token_token`,
      label: 'token_token: tiny test model (token MoE, whole model)',
      routing: 'token / token',
      tiny: true,
      extract: false,
    },
  );
  return list;
}

/** Options of {@link prepareDemoModels}. */
export interface PrepareOptions {
  /** Output folder, served by Vite (default public/demo-models). */
  out?: string;
  /** Only the tiny test models (what the browser test uses). */
  fixturesOnly?: boolean;
  log?: (line: string) => void;
}

/** Prepares every demo model that is missing or stale and writes `<out>/models.json`; returns the list. */
export async function prepareDemoModels(opts: PrepareOptions = {}): Promise<DemoModelList> {
  const out = resolve(opts.out ?? 'public/demo-models');
  const log = opts.log ?? (() => {});
  await mkdir(out, { recursive: true });
  const models: DemoModel[] = [];
  for (const src of sources(opts.fixturesOnly ?? false)) {
    const dir = join(out, src.id);
    const stamp = join(dir, '.source-sha256');
    const want = await fingerprint(src.dir);
    const have = existsSync(stamp) ? (await readFile(stamp, 'utf8')).trim() : '';
    if (have !== want || !existsSync(join(dir, 'manifest.json'))) {
      log(`preparing ${src.id} from ${src.dir}`);
      await rm(dir, { recursive: true, force: true });
      if (src.extract) {
        // extract-node loads node-files dynamically too; one dynamic import keeps the bundle in one chunk.
        const { nodeFiles } = await import('../src/runtime/node-files');
        await extractModel(nodeFiles(src.dir), dir);
      } else {
        await mkdir(dir, { recursive: true });
        for (const n of await readdir(src.dir)) {
          if (n === 'config.json' || /\.(safetensors|model)$/.test(n)) {
            if (!n.startsWith('goldens')) await cp(join(src.dir, n), join(dir, n));
          }
        }
        await writeManifest(dir);
      }
      await writeFile(stamp, `${want}\n`);
    } else {
      log(`${src.id} is up to date`);
    }
    const training = (JSON.parse(await readFile(join(src.dir, 'config.json'), 'utf8')) as { training?: Training })
      .training;
    const note =
      !src.tiny && training?.complete === false && training.steps !== undefined
        ? `Trained for only ${training.steps}${training.max_steps ? ` of ${training.max_steps}` : ''} steps so far: expect poor or empty translations.`
        : undefined;
    models.push({
      id: src.id,
      label: src.label,
      manifest: `${src.id}/manifest.json`,
      routing: src.routing,
      tiny: src.tiny,
      extracted: src.extract,
      ...(note ? { note } : {}),
    });
  }
  const list: DemoModelList = { models };
  await writeFile(join(out, 'models.json'), `${JSON.stringify(list, null, 1)}\n`);
  return list;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const outAt = argv.indexOf('--out');
  const out = outAt >= 0 ? argv[outAt + 1] : undefined;
  const list = await prepareDemoModels({
    ...(out ? { out } : {}),
    fixturesOnly: argv.includes('--fixtures-only'),
    log: (l) => console.log(`[demo models] ${l}`),
  });
  console.log(`[demo models] ${list.models.map((m) => m.id).join(', ')} ready`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    console.error(`prepare-demo-models: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
