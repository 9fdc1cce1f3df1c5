// Command-line parsing on node:util's parseArgs, with taskmoe's usage errors.
import { parseArgs } from 'node:util';
import { TaskmoeError } from '../errors';

/** Bad command-line arguments; the CLI prints the message and exits with status 2. */
export class UsageError extends TaskmoeError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** Option specs of one command, as node:util parseArgs takes them. */
export type OptionSpecs = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean }>;

/** Parsed options of a command: strings, booleans, and no positionals. */
export type Options = Record<string, string | boolean | undefined>;

/** Parses `argv` strictly (unknown options and positionals are usage errors naming `--help`). */
export function parseOptions(command: string, argv: readonly string[], specs: OptionSpecs): Options {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { ...specs, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    return values as Options;
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new UsageError(`${msg?.replace(/\.$/, '')}. See \`taskmoe ${command} --help\`.`);
  }
}

/** A required string option. */
export function required(command: string, opts: Options, name: string, what: string): string {
  const v = opts[name];
  if (typeof v !== 'string' || v === '') {
    throw new UsageError(`${command} needs --${name} ${what}. See \`taskmoe ${command} --help\`.`);
  }
  return v;
}

/** An optional positive integer option (1 ≤ value ≤ `max`); `fallback` when absent. */
export function positiveInt(
  command: string,
  opts: Options,
  name: string,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = opts[name];
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(
      `--${name} must be an integer from 1 to ${max}, got "${String(v)}". See \`taskmoe ${command} --help\`.`,
    );
  }
  return n;
}

/** An optional comma-separated list option (`--tasks de,fr`); undefined when absent, a usage error when empty. */
export function commaList(opts: Options, name: string, example: string): string[] | undefined {
  const v = opts[name];
  if (typeof v !== 'string') return undefined;
  const items = v
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (items.length === 0) throw new UsageError(`--${name} needs at least one ${example}.`);
  return items;
}
