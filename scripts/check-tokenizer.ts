// npm run check:tokenizer -- [--model models/task_task/spm.model] [--data training/work/data]
// Encodes every sentence of the dev and test sets (both sides, every language) with the TS SentencePiece tokenizer
// and with python3-sentencepiece (the reference), and prints the number of sentences whose ids differ.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SentencePieceTokenizer } from '../src/tokenizer';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : def;
}

const model = arg('model', 'models/task_task/spm.model');
const data = arg('data', 'training/work/data');
const langs = ['de', 'fr', 'es', 'it', 'pt-br', 'cs', 'ru', 'zh-cn'];
const lines = new Set<string>();
for (const lang of langs) {
  for (const split of ['dev', 'test.lohelp', 'test.wesnoth']) {
    for (const side of ['src', 'tgt']) {
      const f = join(data, lang, `${split}.${side}`);
      if (!existsSync(f)) continue;
      for (const l of readFileSync(f, 'utf8').split('\n')) if (l) lines.add(l);
    }
  }
}
const sentences = [...lines];
if (sentences.length === 0) {
  console.error(`check-tokenizer: no dev/test files under ${data}; build the corpus first (training/README.md)`);
  process.exit(2);
}
const py = spawnSync(
  '/usr/bin/python3',
  [
    '-c',
    'import sys, json, sentencepiece as spm\n' +
      'sp = spm.SentencePieceProcessor(model_file=sys.argv[1])\n' +
      'for line in sys.stdin:\n' +
      '    print(json.dumps(sp.encode(json.loads(line))))\n',
    model,
  ],
  { input: sentences.map((s) => JSON.stringify(s)).join('\n'), maxBuffer: 1 << 30, encoding: 'utf8' },
);
if (py.status !== 0) {
  console.error(`check-tokenizer: python3-sentencepiece failed: ${py.stderr}`);
  process.exit(2);
}
const expected = py.stdout
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as number[]);
const tok = SentencePieceTokenizer.fromBytes(new Uint8Array(readFileSync(model)));
let mismatches = 0;
let decodeMismatches = 0;
sentences.forEach((s, i) => {
  const got = tok.encode(s);
  const want = expected[i] as number[];
  if (got.length !== want.length || got.some((v, j) => v !== want[j])) {
    mismatches++;
    if (mismatches <= 5) console.log(`mismatch: ${JSON.stringify(s)}\n  ts: ${got.join(' ')}\n  py: ${want.join(' ')}`);
  }
  if (tok.decode(want) !== tok.decode(got)) decodeMismatches++;
});
console.log(
  `check-tokenizer: ${sentences.length} distinct dev/test sentences (${langs.length} languages, both sides), ` +
    `${mismatches} id mismatches, ${decodeMismatches} decode mismatches against python3-sentencepiece (${model})`,
);
process.exit(mismatches === 0 ? 0 : 1);
