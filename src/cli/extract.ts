// taskmoe extract: cuts the dense per-language sub-networks out of a task-routed model into a new model folder.
import { TaskmoeError } from '../gpu/errors';
import type { ModelFiles } from '../runtime/model-files';
import { parseOptions, required, UsageError } from './args';
import type { Io } from './io';
import { checkModel, modelFolder } from './session';

export const EXTRACT_HELP = `Usage: taskmoe extract --model <dir> --out <dir> [--tasks de,fr]

Extracts from a model whose MoE layers route by task (target language) the experts each language uses, and writes
a smaller model folder (config.json, spm.model, shards) to --out that translates into those languages only.

Options:
  --model <dir>      source model folder, e.g. models/task_task
  --out <dir>        folder to write the extracted model to
  --tasks <list>     comma-separated target languages to keep (default: all of the model's languages)
  -h, --help         this help
`;

/** What src/runtime/extract-node.ts's extractModel returns, as far as the CLI reads it. */
interface ExtractResult {
  manifest?: { trunk?: { file: string; bytes: number }[]; tasks?: Record<string, { bytes: number }> };
}
type ExtractModel = (
  src: ModelFiles,
  outDir: string,
  opts?: { tasks?: string[] },
) => Promise<ExtractResult | undefined>;

// A glob import: the module is bundled when it exists, and its absence does not break the build.
const extractModules = import.meta.glob<{ extractModel?: ExtractModel }>('../runtime/extract-node.ts');

/** The runtime's extractModel, or an error saying this build lacks it. */
async function loadExtractModel(): Promise<ExtractModel> {
  const load = Object.values(extractModules)[0];
  const fn = load ? (await load()).extractModel : undefined;
  if (!fn) {
    throw new TaskmoeError(
      'not-available',
      'taskmoe extract is not available in this build (src/runtime/extract-node.ts is missing). Update taskmoe and rebuild with `npm run build:cli`.',
    );
  }
  return fn;
}

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
  const model = required('extract', opts, 'model', '<dir> (the source model folder)');
  const out = required('extract', opts, 'out', '<dir> (where to write the extracted model)');
  const tasks =
    typeof opts.tasks === 'string'
      ? opts.tasks
          .split(',')
          .map((t) => t.trim())
          .filter((t) => t !== '')
      : undefined;
  if (tasks && tasks.length === 0) throw new UsageError('--tasks needs at least one language, e.g. --tasks de,fr.');
  const files = modelFolder(model);
  const extractModel = await loadExtractModel();
  await checkModel(files, tasks ?? []);
  const res = await extractModel(files, out, tasks ? { tasks } : {});
  const trunk = res?.manifest?.trunk ?? [];
  const perTask = Object.entries(res?.manifest?.tasks ?? {});
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  await io.out(
    `extracted ${perTask.length ? perTask.map(([l]) => l).join(', ') : (tasks ?? ['all languages']).join(', ')} to ${out}` +
      (trunk.length ? `: trunk ${kb(trunk.reduce((n, f) => n + f.bytes, 0))} in ${trunk.length} shard(s)` : '') +
      (perTask.length ? `, per language ${perTask.map(([l, t]) => `${l} ${kb(t.bytes)}`).join(', ')}` : '') +
      '\n',
  );
  return 0;
}
