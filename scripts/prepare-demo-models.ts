// Prepares the models the demo page serves: extracts the committed models into a git-ignored folder under public/
// (served by Vite at /models/, so /models/task_task/manifest.json is the shipped task_task in the form the library
// loads: manifest, trunk and per-language shards, each with its sha256) and writes models.json, the list the page
// offers. Run by `npm run demo` (predemo);
// does nothing for a model whose source has not changed since it was last prepared.
//
//   node dist/prepare-demo/prepare-demo-models.js [--out public/models] [--fixtures-only]
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

// The variants the demo offers, in picker order: a trained export in models/<variant> when there is one, else the
// tiny near-random fixture of the same variant.
const VARIANTS = [
  { variant: 'task_task', kind: 'task / task, extracted', extract: true },
  { variant: 'token_task', kind: 'hybrid: token encoder / task decoder, extracted', extract: true },
  { variant: 'token_token', kind: 'token MoE, whole model', extract: false },
] as const;

function sources(fixturesOnly: boolean): Source[] {
  return VARIANTS.map(({ variant, kind, extract }) => {
    const real = join('models', variant);
    const routing = variant.replace('_', ' / ');
    if (!fixturesOnly && existsSync(join(real, 'config.json'))) {
      return {
        id: variant,
        dir: real,
        label: `${variant}: small trained model (${kind})`,
        routing,
        tiny: false,
        extract,
      };
    }
    const dir = join('test/fixtures/models', variant);
    return { id: `tiny-${variant}`, dir, label: `${variant}: tiny test model (${kind})`, routing, tiny: true, extract };
  });
}

/** Options of {@link prepareDemoModels}. */
export interface PrepareOptions {
  /** Output folder, served by Vite (default public/models). */
  out?: string;
  /** Only the tiny test models (what the browser test uses). */
  fixturesOnly?: boolean;
  log?: (line: string) => void;
}

/** Prepares every demo model that is missing or stale and writes `<out>/models.json`; returns the list. */
export async function prepareDemoModels(opts: PrepareOptions = {}): Promise<DemoModelList> {
  const out = resolve(opts.out ?? 'public/models');
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
