// The taskmoe command: dispatches a subcommand and turns expected errors into one line on stderr and an exit status.
import pkg from '../../package.json';
import { TaskmoeError, UnknownLanguageError } from '../errors';
import { UsageError } from './args';
import { evalCommand } from './eval';
import { exportOnnxCommand } from './export-onnx';
import { extractCommand } from './extract';
import { infoCommand } from './info';
import type { Io } from './io';
import { disposeGpu } from './session';
import { translateCommand } from './translate';

export const HELP = `Usage: taskmoe <command> [options]

Task-level Mixture-of-Experts translation on WebGPU (Node, through Dawn).

Commands:
  translate   translate stdin to stdout, one line per input line
  eval        translate a test set and score it with chrF2 and BLEU
  info        show the WebGPU adapter and its features
  extract     cut per-language models out of a task-routed MoE model
  export-onnx write ONNX graphs of dense sub-networks (the WASM fallback's models)

Examples:
  taskmoe translate --model models/task_task --to de < in.txt > out.de.txt
  taskmoe eval --model models/task_task --to fr --src test.en --ref test.fr --beam 4
  taskmoe extract --model models/task_task --out models/task_task-de-fr --tasks de,fr

Run \`taskmoe <command> --help\` for a command's options. Exit status: 0 success, 1 error, 2 bad arguments
(including an unknown target language), 130 interrupted. TASKMOE_DEBUG=1 prints stack traces of unexpected errors.
`;

const COMMANDS: Record<string, (argv: readonly string[], io: Io) => Promise<number>> = {
  translate: translateCommand,
  eval: evalCommand,
  info: infoCommand,
  extract: extractCommand,
  'export-onnx': exportOnnxCommand,
};

/** A file-system operation of a command failed (permissions, a full disk, a path that vanished). */
export class FileSystemError extends TaskmoeError {
  /** The system error code, e.g. EACCES, ENOSPC. */
  readonly errno: string;
  constructor(e: NodeJS.ErrnoException) {
    super(
      'file-system',
      `${e.path ? `"${e.path}": ` : ''}${e.syscall ?? 'file system'} failed with ${e.code}. Check the path, its permissions and the free space.`,
      { cause: e },
    );
    this.errno = e.code as string;
  }
}

function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  const x = e as NodeJS.ErrnoException | null;
  return e instanceof Error && typeof x?.code === 'string' && /^E[A-Z0-9]+$/.test(x.code) && 'syscall' in e;
}

/** One line for stderr and the exit status of an error thrown by a command. */
export function describeError(e: unknown): { line: string; status: number } {
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
  if (isSystemError(e) && !(e instanceof TaskmoeError)) return describeError(new FileSystemError(e));
  if (e instanceof UsageError || e instanceof UnknownLanguageError) return { line: oneLine(e.message), status: 2 };
  if (e instanceof TaskmoeError) return { line: oneLine(e.message), status: e.code === 'aborted' ? 130 : 1 };
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const hint = process.env.TASKMOE_DEBUG ? '' : ' (unexpected; set TASKMOE_DEBUG=1 for the stack trace)';
  return { line: `${oneLine(msg)}${hint}`, status: 1 };
}

/** Runs `taskmoe <argv>`; returns the exit status. The GPU context, if one was created, is disposed. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      if (command === undefined) {
        io.err(HELP);
        return 2;
      }
      await io.out(HELP);
      return 0;
    }
    if (command === '--version' || command === '-v') {
      await io.out(`taskmoe ${pkg.version}\n`);
      return 0;
    }
    const fn = COMMANDS[command];
    if (!fn)
      throw new UsageError(
        `Unknown command "${command}". Commands: ${Object.keys(COMMANDS).join(', ')}; see \`taskmoe --help\`.`,
      );
    return await fn(rest, io);
  } catch (e) {
    const { line, status } = describeError(e);
    io.err(`taskmoe: ${line}\n`);
    if (process.env.TASKMOE_DEBUG && e instanceof Error && e.stack) io.err(`${e.stack}\n`);
    return status;
  } finally {
    disposeGpu();
  }
}
