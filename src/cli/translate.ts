// taskmoe translate: UTF-8 lines on stdin, exactly one translation per line on stdout, in order.
import type { DecodeOptions } from '../engine/local-model';
import { TRANSLATE_LIMITS } from '../engine/options';
import { type OptionSpecs, parseOptions, positiveInt, required } from './args';
import type { Io } from './io';
import { oneLine, readStdin, splitLines } from './lines';
import { openLocalModel } from './session';

export const TRANSLATE_HELP = `Usage: taskmoe translate --model <model> --to <lang> [options] < input.txt > output.txt

Translates UTF-8 text from stdin, one sentence or paragraph per line, and writes exactly one line per input line
to stdout, in order. Empty and whitespace-only lines give empty lines; \\n and \\r\\n line ends are accepted; lines
longer than the model's maximum length are split at sentence boundaries and translated in pieces.

Options:
  --model <model>    model folder (config.json, spm.model, weights-*.safetensors; extracted or not) or its
                     manifest.json, as a path, file:// or http(s) URL, e.g. models/task_task
  --to <lang>        target language, one of the model's languages (see config.json "languages")
  --beam <n>         beam width from 1 (greedy decoding, the default) to 8
  --batch <n>        sentences decoded together, 1 to 1024 (default 32)
  --max-steps <n>    decoding steps at most per sentence (default: min(max_len, 2 x source length + 10))
  -h, --help         this help
`;

export const TRANSLATE_OPTIONS: OptionSpecs = {
  model: { type: 'string', short: 'm' },
  to: { type: 'string', short: 't' },
  beam: { type: 'string', short: 'b' },
  batch: { type: 'string' },
  'max-steps': { type: 'string' },
};

/** The decoding options shared by translate and eval. */
export function decodeOptions(command: string, opts: ReturnType<typeof parseOptions>) {
  const maxSteps =
    opts['max-steps'] === undefined ? undefined : positiveInt(command, opts, 'max-steps', 1, TRANSLATE_LIMITS.maxSteps);
  return {
    model: required(command, opts, 'model', '<model> (a model folder, its manifest.json or URL)'),
    to: required(command, opts, 'to', '<lang> (a target language)'),
    beam: positiveInt(command, opts, 'beam', 1, TRANSLATE_LIMITS.beam),
    batch: positiveInt(command, opts, 'batch', 32, TRANSLATE_LIMITS.batchSize),
    ...(maxSteps === undefined ? {} : { maxSteps }),
  };
}

/** What {@link translateLines} needs of a translator (LocalModel has it). */
export interface LineTranslator {
  translate(texts: readonly string[], opts: DecodeOptions): Promise<string[]>;
}

/**
 * Translates `lines` and hands `write` exactly one output line (with its \n) per input line, in order, a chunk of
 * several batches at a time: the engine sorts each chunk by length, and output starts before all input is done.
 * Whitespace-only lines give empty lines without reaching the engine's tokenizer.
 */
export async function translateLines(
  tr: LineTranslator,
  lines: readonly string[],
  opts: DecodeOptions,
  write: (text: string) => Promise<void>,
): Promise<void> {
  const chunk = Math.max(256, 8 * (opts.batchSize ?? 16));
  for (let i = 0; i < lines.length; i += chunk) {
    const texts = lines.slice(i, i + chunk).map((l) => (l.trim() === '' ? '' : l));
    const out = await tr.translate(texts, opts);
    if (out.length !== texts.length) throw new Error(`the engine returned ${out.length} lines for ${texts.length}`);
    await write(out.map((t, k) => `${texts[k] === '' ? '' : oneLine(t)}\n`).join(''));
  }
}

/** Runs `taskmoe translate`; returns the exit status. */
export async function translateCommand(argv: readonly string[], io: Io): Promise<number> {
  const opts = parseOptions('translate', argv, TRANSLATE_OPTIONS);
  if (opts.help) {
    await io.out(TRANSLATE_HELP);
    return 0;
  }
  const o = decodeOptions('translate', opts);
  const { model: tr, to } = await openLocalModel(o.model, o.to);
  try {
    if (io.stdinIsTTY) io.err('taskmoe: reading lines to translate; end with Ctrl-D\n');
    const lines = splitLines(await readStdin(io.stdin));
    const translateOpts: DecodeOptions = {
      to,
      beam: o.beam,
      batchSize: o.batch,
      signal: io.signal,
      ...(o.maxSteps === undefined ? {} : { maxSteps: o.maxSteps }),
    };
    await translateLines(tr, lines, translateOpts, (text) => io.out(text));
  } finally {
    tr.dispose();
  }
  return 0;
}
