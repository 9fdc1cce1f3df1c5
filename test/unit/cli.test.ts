// The taskmoe command: line handling without a GPU, then the built CLI (npm run build:cli) run as a child process on
// the fixture models, compared with LocalModel in this process.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args';
import { oneLine, splitLines } from '../../src/cli/lines';
import { describeError } from '../../src/cli/run';
import { type LineTranslator, translateLines } from '../../src/cli/translate';
import { LocalModel } from '../../src/engine/local-model';
import { TaskmoeError, UnknownLanguageError } from '../../src/errors';
import { corpusBleu } from '../../src/eval/bleu';
import { corpusChrf } from '../../src/eval/chrf';
import type { GpuContext } from '../../src/gpu';
import { nodeFiles } from '../../src/runtime/node-files';
import { testContext } from '../setup/gpu';

const MODELS = 'test/fixtures/models';
const MODEL = join(MODELS, 'task_task');

describe('line handling', () => {
  it('splits at \\n and \\r\\n; a final line break starts no line', () => {
    expect(splitLines('')).toEqual([]);
    expect(splitLines('\n')).toEqual(['']);
    expect(splitLines('a\r\nb\n\n c \n')).toEqual(['a', 'b', '', ' c ']);
    expect(splitLines('a\nb')).toEqual(['a', 'b']);
  });

  it('makes one line of a translation', () => {
    expect(oneLine(' a\nb\r\nc\u2028d ')).toBe('a b c d');
  });

  it('gives one output line per input line, in order, across chunks', async () => {
    const calls: string[][] = [];
    const fake: LineTranslator = {
      async translate(texts) {
        calls.push([...texts]);
        return texts.map((t) => (t === '' ? '' : `<${t.split('').reverse().join('')}>\n(x)`));
      },
    };
    const lines = Array.from({ length: 600 }, (_, i) => (i % 7 === 0 ? ' \t ' : i % 11 === 0 ? '' : `line ${i}`));
    let out = '';
    await translateLines(fake, lines, { to: 'de', batchSize: 32 }, async (t) => {
      out += t;
    });
    const got = splitLines(out);
    expect(got).toHaveLength(lines.length);
    got.forEach((g, i) => {
      const l = lines[i] as string;
      expect(g).toBe(l.trim() === '' ? '' : `<${l.split('').reverse().join('')}> (x)`);
    });
    expect(calls.map((c) => c.length)).toEqual([256, 256, 88]);
    expect(calls.flat().every((t) => t === '' || t.trim() !== '')).toBe(true);
  });

  it('maps errors to one line and an exit status', () => {
    expect(describeError(new UsageError('bad'))).toEqual({ line: 'bad', status: 2 });
    expect(describeError(new UnknownLanguageError('xx', ['de'])).status).toBe(2);
    expect(describeError(new TaskmoeError('x', 'two\nlines'))).toEqual({ line: 'two lines', status: 1 });
    expect(describeError(new TaskmoeError('aborted', 'The translation was aborted.')).status).toBe(130);
    expect(describeError(new Error('boom')).line).toMatch(/^Error: boom \(unexpected/);
  });
});

/** Runs `node bin/taskmoe.js args` with `input` on stdin. */
function cli(args: string[], input = '') {
  const r = spawnSync(process.execPath, ['bin/taskmoe.js', ...args], {
    input,
    encoding: 'utf8',
    timeout: 120_000,
  });
  // Dawn itself prints "Warning: ..." lines about adapter limits on some drivers; taskmoe's own lines are the rest.
  const errLines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('Warning: '));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, errLines };
}

/** Waits for a fixture model (another process may be regenerating test/fixtures/models). */
async function waitForModel(dir: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (['config.json', 'spm.model', 'weights-000.safetensors'].every((f) => existsSync(join(dir, f)))) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`fixture model ${dir} is missing`);
}

describe('taskmoe command (built CLI, Dawn)', () => {
  let ctx: GpuContext;
  let tmp: string;
  let languages: string[];

  beforeAll(async () => {
    execFileSync('npm', ['run', '--silent', 'build:cli'], { stdio: 'inherit' });
    await waitForModel(MODEL);
    languages = (JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8')) as { languages: string[] }).languages;
    ctx = await testContext();
    tmp = mkdtempSync(join(tmpdir(), 'taskmoe-cli-'));
  }, 300_000);

  afterAll(() => {
    ctx?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /**
   * LocalModel's output for `texts` (whitespace-only texts give ''), with the CLI's default batch size: the
   * decoding step limit follows the longest source of a batch, so batching is part of the comparison.
   */
  async function reference(dir: string, texts: string[], to: string, beam = 1, batchSize = 32): Promise<string[]> {
    const tr = await LocalModel.create(ctx, nodeFiles(dir));
    try {
      return await tr.translate(
        texts.map((t) => (t.trim() === '' ? '' : t)),
        { to, beam, batchSize },
      );
    } finally {
      tr.dispose();
    }
  }

  it('prints help for the command and each subcommand', () => {
    for (const args of [
      ['--help'],
      ['translate', '--help'],
      ['eval', '--help'],
      ['info', '--help'],
      ['extract', '-h'],
    ]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^Usage: taskmoe/);
    }
    const none = cli([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/Usage: taskmoe/);
  });

  it('rejects bad arguments with status 2 and one line', () => {
    for (const args of [
      ['frobnicate'],
      ['translate', '--to', 'de'],
      ['translate', '--model', MODEL, '--to', 'de', '--beam', '0'],
      ['translate', '--model', MODEL, '--to', 'de', '--nope'],
      ['eval', '--model', MODEL, '--to', 'de', '--src', 'x'],
    ]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.errLines, args.join(' ')).toHaveLength(1);
      expect(r.errLines[0]).toMatch(/^taskmoe: .*--help/);
    }
  });

  for (const beam of [1, 2]) {
    it(`translate (beam ${beam}): one line per input line, in order, equal to LocalModel`, async () => {
      const texts = [
        'Inserts a new column after the current column.',
        '',
        'Open the file.',
        '   \t ',
        'Choose Shape - Arrange - Bring to Front.',
        'The dialog box closes when you click OK.',
      ];
      const input = `${texts.join('\r\n')}\r\n`;
      const r = cli(['translate', '--model', MODEL, '--to', 'de', '--beam', String(beam), '--batch', '2'], input);
      expect(r.errLines).toEqual([]);
      expect(r.status).toBe(0);
      expect(r.stdout.endsWith('\n')).toBe(true);
      const got = r.stdout.slice(0, -1).split('\n');
      expect(got).toHaveLength(texts.length);
      expect(got[1]).toBe('');
      expect(got[3]).toBe('');
      expect(got).toEqual((await reference(MODEL, texts, 'de', beam, 2)).map(oneLine));
    });
  }

  it("--to takes BCP 47 tags like the library (DE, de-AT are the model's de), the same output", async () => {
    const texts = ['Open the file.', 'The dialog box closes when you click OK.'];
    const want = (await reference(MODEL, texts, 'de', 1, 2)).map(oneLine);
    for (const tag of ['DE', 'de-AT']) {
      const r = cli(['translate', '--model', MODEL, '--to', tag, '--batch', '2'], `${texts.join('\n')}\n`);
      expect(r.errLines).toEqual([]);
      expect(r.status).toBe(0);
      expect(r.stdout.slice(0, -1).split('\n')).toEqual(want);
    }
  });

  it('translate of empty input writes nothing', () => {
    const r = cli(['translate', '--model', MODEL, '--to', 'de'], '');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('unknown language: status 2, one line naming the available languages', () => {
    const r = cli(['translate', '--model', MODEL, '--to', 'xx'], 'Hello\n');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toContain('"xx"');
    for (const l of languages) expect(r.errLines[0]).toContain(l);
  });

  it('missing model folder: status 1, one line naming it', () => {
    const dir = join(tmp, 'no-such-model');
    const r = cli(['translate', '--model', dir, '--to', 'de'], 'Hello\n');
    expect(r.status).toBe(1);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(/^taskmoe: Model folder ".*no-such-model" does not exist/);
  });

  it('folder without config.json: status 1, one line naming the file', () => {
    const dir = join(tmp, 'empty-model');
    cpSync(join(MODEL, 'spm.model'), join(dir, 'spm.model'));
    const r = cli(['translate', '--model', dir, '--to', 'de'], 'Hello\n');
    expect(r.status).toBe(1);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toContain('config.json');
  });

  /** A copy of the fixture model with `weights-000.safetensors` changed by `spoil`. */
  function spoiled(name: string, spoil: (path: string) => void): string {
    const dir = join(tmp, name);
    cpSync(MODEL, dir, { recursive: true });
    spoil(join(dir, 'weights-000.safetensors'));
    return dir;
  }

  const corruptions: [string, (path: string) => void][] = [
    ['truncated shard', (p) => truncateSync(p, Math.floor(readFileSync(p).length / 2))],
    [
      'flipped header bytes',
      (p) => {
        const b = readFileSync(p);
        for (let i = 8; i < 24; i++) b[i] = (b[i] as number) ^ 0x5a;
        writeFileSync(p, b);
      },
    ],
    ['shard of another model', (p) => cpSync(join(MODELS, 'dense_dense', 'weights-000.safetensors'), p)],
  ];
  for (const [name, spoil] of corruptions) {
    it(`${name}: status 1, one line naming the shard`, () => {
      const dir = spoiled(name.replaceAll(' ', '-'), spoil);
      const r = cli(['translate', '--model', dir, '--to', 'de'], 'Hello\n');
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.errLines).toHaveLength(1);
      expect(r.errLines[0]).toMatch(/^taskmoe: .*weights-000\.safetensors/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    });
  }

  it('eval prints chrF2, BLEU and sentences/s; --json agrees with the metrics on LocalModel output', async () => {
    const src = ['Open the file.', 'Inserts a new column after the current column.', 'The dialog box closes.'];
    const ref = [
      'Öffnen Sie die Datei.',
      'Fügt eine neue Spalte nach der aktuellen Spalte ein.',
      'Der Dialog wird geschlossen.',
    ];
    writeFileSync(join(tmp, 'src.txt'), `${src.join('\n')}\n`);
    writeFileSync(join(tmp, 'ref.txt'), `${ref.join('\n')}\n`);
    const args = ['eval', '--model', MODEL, '--to', 'de', '--src', join(tmp, 'src.txt'), '--ref', join(tmp, 'ref.txt')];
    const text = cli(args);
    expect(text.errLines).toEqual([]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^chrF2 = \d+\.\d\d$/m);
    expect(text.stdout).toMatch(/^BLEU = \d+\.\d\d /m);
    expect(text.stdout).toMatch(/^3 sentences in .* sentences\/s/m);
    const json = cli([...args, '--json']);
    expect(json.status).toBe(0);
    const res = JSON.parse(json.stdout) as {
      chrF2: number;
      BLEU: number;
      sentences: number;
      sentencesPerSecond: number;
    };
    const hyps = await reference(MODEL, src, 'de');
    expect(res.sentences).toBe(3);
    expect(res.sentencesPerSecond).toBeGreaterThan(0);
    expect(res.chrF2).toBeCloseTo(corpusChrf(hyps, ref).score, 10);
    expect(res.BLEU).toBeCloseTo(corpusBleu(hyps, ref).score, 10);
  });

  it('eval with different line counts: status 1, one line', () => {
    writeFileSync(join(tmp, 'short.txt'), 'Datei\n');
    const r = cli([
      'eval',
      '--model',
      MODEL,
      '--to',
      'de',
      '--src',
      join(tmp, 'src.txt'),
      '--ref',
      join(tmp, 'short.txt'),
    ]);
    expect(r.status).toBe(1);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(/has 1 lines but .* has 3/);
  });

  it('info names the adapter and its features', () => {
    const r = cli(['info']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^adapter: \S/m);
    expect(r.stdout).toMatch(/^features: /m);
    const json = JSON.parse(cli(['info', '--json']).stdout) as { adapter: string; features: string[] };
    expect(json.adapter.length).toBeGreaterThan(0);
    expect(Array.isArray(json.features)).toBe(true);
  });

  it('extract writes a model folder that translates like the whole model; export-onnx writes its graphs', async () => {
    const out = join(tmp, 'extracted');
    const bad = cli(['extract', '--model', MODEL, '--out', out, '--tasks', 'de,xx']);
    const r = cli(['extract', '--model', MODEL, '--out', out, '--tasks', 'de,fr']);
    expect(bad.status).toBe(2);
    expect(bad.errLines).toHaveLength(1);
    expect(bad.errLines[0]).toContain('"xx"');
    expect(r.errLines).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^extracted de, fr to /);
    expect(existsSync(join(out, 'config.json'))).toBe(true);
    // The extracted model translates like the whole one, and only into the languages kept.
    const texts = ['Open the file.', '', 'Inserts a new column after the current column.'];
    const whole = cli(['translate', '--model', MODEL, '--to', 'fr'], `${texts.join('\n')}\n`);
    const part = cli(['translate', '--model', out, '--to', 'fr'], `${texts.join('\n')}\n`);
    expect(part.errLines).toEqual([]);
    expect(part.status).toBe(0);
    expect(part.stdout).toBe(whole.stdout);
    const es = cli(['translate', '--model', out, '--to', 'es'], 'Hello\n');
    expect(es.status).toBe(2);
    expect(es.errLines[0]).toMatch(/"es".*Available: de, fr/);
    // export-onnx writes exactly the graphs the WASM fallback builds in memory from the same shards.
    const onnxDir = join(tmp, 'onnx');
    const x = cli(['export-onnx', '--model', out, '--out', onnxDir, '--tasks', 'fr']);
    expect(x.errLines).toEqual([]);
    expect(x.status).toBe(0);
    const { readConfig } = await import('../../src/runtime/load-model');
    const { nodeFiles } = await import('../../src/runtime/node-files');
    const { exportOnnx, shardReader } = await import('../../src/runtime/onnx-export');
    const { parseSafetensors } = await import('../../src/runtime/safetensors');
    const cfg = await readConfig(nodeFiles(out));
    const shards = ['task-fr.safetensors', ...cfg.shards].map((f) =>
      parseSafetensors(new Uint8Array(readFileSync(join(out, f)))),
    );
    const want = exportOnnx(cfg, shardReader(shards), { decoder: 'prefix' });
    expect(new Uint8Array(readFileSync(join(onnxDir, 'fr', 'encoder.onnx')))).toEqual(want.encoder);
    expect(new Uint8Array(readFileSync(join(onnxDir, 'fr', 'decoder.onnx')))).toEqual(want.decoder);
    // Token-routed MoE layers export too (gated in the graph), with the cached decoder step beside the prefix decoder.
    const tok = cli(['export-onnx', '--model', join(MODELS, 'token_token'), '--out', onnxDir, '--tasks', 'es']);
    expect(tok.errLines).toEqual([]);
    expect(tok.status).toBe(0);
    expect(existsSync(join(onnxDir, 'es', 'decoder-step.onnx'))).toBe(true);
  });
});
