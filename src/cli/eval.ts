// taskmoe eval: translates a source file and scores it against references with chrF2 and BLEU (as sacrebleu).
import { TRANSLATE_LIMITS } from '../engine/options';
import { bleuTokenizerFor, corpusBleu } from '../eval/bleu';
import { corpusChrf } from '../eval/chrf';
import { adapterName, TaskmoeError } from '../gpu';
import { parseOptions, required } from './args';
import type { Io } from './io';
import { readLines } from './lines';
import { checkOutputFile } from './output-paths';
import { openLocalModel } from './session';
import { decodeOptions, TRANSLATE_OPTIONS } from './translate';

export const EVAL_HELP = `Usage: taskmoe eval --model <model> --to <lang> --src <file> --ref <file> [options]

Translates the lines of --src into --to and scores them against the lines of --ref (one reference per line) with
chrF2 and BLEU computed as sacrebleu 2.x does (chrF2: character 6-grams, beta 2; BLEU: tokenizer 13a, zh for
Chinese targets, exp smoothing). Prints the scores and the translation speed.

Options:
  --model <model>    model folder or its manifest.json: a path, file:// or http(s) URL, e.g. models/task_task
  --to <lang>        target language, one of the model's languages
  --src <file>       source sentences, UTF-8, one per line
  --ref <file>       reference translations, UTF-8, as many lines as --src
  --beam <n>         beam width; 1 is greedy decoding (default 1)
  --batch <n>        sentences decoded together (default 32)
  --max-steps <n>    decoding steps at most per sentence
  --out <file>       also write the translations there, one per line
  --json             print one JSON object instead of text
  -h, --help         this help
`;

/** Runs `taskmoe eval`; returns the exit status. */
export async function evalCommand(argv: readonly string[], io: Io): Promise<number> {
  const opts = parseOptions('eval', argv, {
    ...TRANSLATE_OPTIONS,
    src: { type: 'string' },
    ref: { type: 'string' },
    out: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
  });
  if (opts.help) {
    await io.out(EVAL_HELP);
    return 0;
  }
  const o = decodeOptions('eval', opts);
  const srcPath = required('eval', opts, 'src', '<file> (source sentences)');
  const refPath = required('eval', opts, 'ref', '<file> (reference translations)');
  if (typeof opts.out === 'string') checkOutputFile('eval', opts.out, [srcPath, refPath, o.model]);
  const src = await readLines(srcPath);
  const ref = await readLines(refPath);
  if (src.length !== ref.length) {
    throw new TaskmoeError(
      'line-count',
      `"${refPath}" has ${ref.length} lines but "${srcPath}" has ${src.length}; give one reference per source line.`,
    );
  }
  const { model: tr, to } = await openLocalModel(o.model, o.to);
  let hyps: string[];
  let seconds: number;
  try {
    const t0 = performance.now();
    hyps = [];
    // In calls of at most TRANSLATE_LIMITS.textsPerCall lines, the library's stated limit.
    for (let i = 0; i < src.length; i += TRANSLATE_LIMITS.textsPerCall) {
      const part = await tr.translate(src.slice(i, i + TRANSLATE_LIMITS.textsPerCall), {
        to,
        beam: o.beam,
        batchSize: o.batch,
        signal: io.signal,
        ...(o.maxSteps === undefined ? {} : { maxSteps: o.maxSteps }),
      });
      hyps.push(...part);
    }
    seconds = (performance.now() - t0) / 1000;
  } finally {
    tr.dispose();
  }
  if (typeof opts.out === 'string') {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(opts.out, hyps.map((h) => `${h.replace(/[\r\n]+/g, ' ')}\n`).join(''));
  }
  const tokenize = bleuTokenizerFor(to);
  const chrf = corpusChrf(hyps, ref);
  const bleu = corpusBleu(hyps, ref, { tokenize });
  const perSecond = seconds > 0 ? src.length / seconds : 0;
  const adapter = adapterName(tr.ctx.adapter);
  if (opts.json) {
    const result = {
      model: o.model,
      to,
      beam: o.beam,
      sentences: src.length,
      seconds,
      sentencesPerSecond: perSecond,
      chrF2: chrf.score,
      BLEU: bleu.score,
      bleu: {
        tokenize,
        precisions: bleu.precisions,
        bp: bleu.bp,
        sysLen: bleu.sysLen,
        refLen: bleu.refLen,
      },
      adapter,
    };
    await io.out(`${JSON.stringify(result)}\n`);
  } else {
    const p = bleu.precisions.map((x) => x.toFixed(1)).join('/');
    await io.out(
      `chrF2 = ${chrf.score.toFixed(2)}\n` +
        `BLEU = ${bleu.score.toFixed(2)} ${p} (BP = ${bleu.bp.toFixed(3)}, hyp_len = ${bleu.sysLen}, ref_len = ${bleu.refLen}, tokenize ${tokenize})\n` +
        `${src.length} sentences in ${seconds.toFixed(2)} s: ${perSecond.toFixed(2)} sentences/s (beam ${o.beam}, batch ${o.batch}, ${adapter})\n`,
    );
  }
  return 0;
}
