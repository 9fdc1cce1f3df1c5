// taskmoe extract: cuts the dense per-language sub-networks out of a task-routed model into a new model folder.
import { extractModel } from '../runtime/extract-node';
import { commaList, parseOptions, required } from './args';
import type { Io } from './io';
import { checkOutputFolder } from './output-paths';
import { checkModel, modelFolder } from './session';

export const EXTRACT_HELP = `Usage: taskmoe extract --model <model> --out <dir> [--tasks de,fr]

Extracts from a model whose MoE layers route by task (target language) the experts each language uses, and writes
a smaller model folder (config.json, spm.model, shards) to --out that translates into those languages only.

Options:
  --model <model>    source model folder or its manifest.json: a path, file:// or http(s) URL, e.g. models/task_task
  --out <dir>        folder to write the extracted model to
  --tasks <list>     comma-separated target languages to keep (default: all of the model's languages)
  -h, --help         this help
`;

/** Runs `taskmoe extract`; returns the exit status. */
export async function extractCommand(argv: readonly string[], io: Io): Promise<number> {
  const opts = parseOptions('extract', argv, {
    model: { type: 'string', short: 'm' },
    out: { type: 'string', short: 'o' },
    tasks: { type: 'string' },
  });
  if (opts.help) {
    await io.out(EXTRACT_HELP);
    return 0;
  }
  const model = required('extract', opts, 'model', '<model> (the source model folder, its manifest.json or URL)');
  const out = required('extract', opts, 'out', '<dir> (where to write the extracted model)');
  const tasks = commaList(opts, 'tasks', 'language, e.g. --tasks de,fr');
  const files = modelFolder(model);
  if (!/^https?:/i.test(model)) checkOutputFolder('extract', out, files.location);
  const { languages } = await checkModel(files, tasks ?? []);
  const res = await extractModel(files, out, tasks ? { tasks: languages } : {});
  const trunk = res.manifest.trunk;
  const perTask = Object.entries(res.manifest.tasks);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  await io.out(
    `extracted ${perTask.length ? perTask.map(([l]) => l).join(', ') : (tasks ?? ['all languages']).join(', ')} to ${out}` +
      (trunk.length ? `: trunk ${kb(trunk.reduce((n, f) => n + f.bytes, 0))} in ${trunk.length} shard(s)` : '') +
      (perTask.length ? `, per language ${perTask.map(([l, t]) => `${l} ${kb(t.bytes)}`).join(', ')}` : '') +
      '\n',
  );
  return 0;
}
