// The built CLI against careless and hostile input (issue 16 findings 1, 3, 6, 8, 9, 10): typed one-line errors and
// exit statuses within a time bound, nothing written outside --out, no input overwritten.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError, FileSystemError } from '../../src/cli/run';
import { extractModel } from '../../src/runtime/extract-node';
import { nodeFiles } from '../../src/runtime/node-files';

const MODEL = 'test/fixtures/models/task_task';
// biome-ignore lint/suspicious/noExplicitAny: tests edit parsed config.json freely
type J = any;

function cli(args: string[], input = '', timeout = 120_000) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['bin/taskmoe.js', ...args], { input, encoding: 'utf8', timeout });
  const errLines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, errLines, ms: performance.now() - t0 };
}

describe('CLI error lines', () => {
  it('a file-system error is a typed FileSystemError line, not an unexpected one', () => {
    const e = Object.assign(new Error("EACCES: permission denied, open '/x/scores.txt'"), {
      code: 'EACCES',
      syscall: 'open',
      path: '/x/scores.txt',
      errno: -13,
    });
    const d = describeError(e);
    expect(d.status).toBe(1);
    expect(d.line).toBe(new FileSystemError(e).message);
    expect(d.line).toMatch(/^"\/x\/scores\.txt": open failed with EACCES/);
    expect(d.line).not.toMatch(/unexpected/);
  });
});

describe('taskmoe CLI under hostile input', () => {
  let tmp: string;
  const copy = (name: string, edit?: (cfg: J) => void): string => {
    const dir = join(tmp, name);
    cpSync(MODEL, dir, { recursive: true });
    if (edit) {
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      edit(cfg);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    }
    return dir;
  };

  beforeAll(() => {
    execFileSync('npm', ['run', '--silent', 'build:cli'], { stdio: 'inherit' });
    tmp = mkdtempSync(join(tmpdir(), 'taskmoe-hostile-'));
  }, 300_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('config.json max_len 2: status 1 naming the field, at once (finding 1)', () => {
    const r = cli(['translate', '--model', copy('maxlen2', (c) => (c.max_len = 2)), '--to', 'de'], 'Open the file.\n');
    expect(r.status).toBe(1);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(/^taskmoe: .*config\.json.*max_len/);
    expect(r.ms).toBeLessThan(60_000);
  });

  it('a tokenizer path outside the folder is refused without reading it (finding 3)', () => {
    for (const name of ['../../../../dev/zero', '/etc/passwd', '%2e%2e/spm.model']) {
      const r = cli(
        ['translate', '--model', copy(`tok-${name.length}`, (c) => (c.tokenizer = name)), '--to', 'de'],
        'x\n',
      );
      expect(r.status, name).toBe(1);
      expect(r.errLines[0]).toMatch(/tokenizer/);
      expect(r.errLines[0]).not.toMatch(/\d+ bytes/);
      expect(r.ms).toBeLessThan(60_000);
    }
    const out = join(tmp, 'ext-out');
    const r = cli(['extract', '--model', copy('tok-ext', (c) => (c.tokenizer = '../outside.model')), '--out', out]);
    expect(r.status).toBe(1);
    expect(existsSync(join(tmp, 'outside.model'))).toBe(false);
  });

  it('an extracted folder whose shard does not match manifest.json fails with an integrity error (finding 6)', async () => {
    const dir = join(tmp, 'extracted');
    await extractModel(nodeFiles(MODEL), dir, { tasks: ['de', 'fr'] });
    const ok = cli(['translate', '--model', dir, '--to', 'de'], 'Open the file.\n');
    expect(ok.status, ok.stderr).toBe(0);
    const shard = join(dir, 'task-de.safetensors');
    const bytes = readFileSync(shard);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1); // same size, different content: still parses as safetensors
    writeFileSync(shard, bytes);
    const r = cli(['translate', '--model', dir, '--to', 'de'], 'Open the file.\n');
    expect(r.status).toBe(1);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(/task-de\.safetensors.*sha256/);
  });

  it('output paths are checked before any work and never overwrite the input (finding 8)', () => {
    const model = copy('outputs');
    const config = readFileSync(join(model, 'config.json'), 'utf8');
    const same = cli(['extract', '--model', model, '--out', model, '--tasks', 'de']);
    expect(same.status).toBe(2);
    expect(same.errLines[0]).toMatch(/--out.*model folder/);
    expect(readFileSync(join(model, 'config.json'), 'utf8')).toBe(config);
    const inside = cli(['extract', '--model', model, '--out', join(model, 'sub'), '--tasks', 'de']);
    expect(inside.status).toBe(2);
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const toFile = cli(['extract', '--model', model, '--out', file, '--tasks', 'de']);
    expect(toFile.status).toBe(2);
    expect(toFile.errLines[0]).toMatch(/is a file/);
    const onnx = cli(['export-onnx', '--model', model, '--out', model]);
    expect(onnx.status).toBe(2);
    const src = join(tmp, 'src.txt');
    writeFileSync(src, 'Open the file.\n');
    const outDir = join(tmp, 'a-dir');
    mkdirSync(outDir);
    const ev = cli(['eval', '--model', model, '--to', 'de', '--src', src, '--ref', src, '--out', outDir]);
    expect(ev.status).toBe(2);
    expect(ev.errLines[0]).toMatch(/is a folder/);
    expect(ev.ms).toBeLessThan(30_000);
    const evIn = cli(['eval', '--model', model, '--to', 'de', '--src', src, '--ref', src, '--out', src]);
    expect(evIn.status).toBe(2);
    expect(readFileSync(src, 'utf8')).toBe('Open the file.\n');
  });

  it('export-onnx refuses a config that does not match its weights before writing anything (finding 11)', () => {
    const experts = copy('onnx-experts', (c) => (c.n_experts = 8));
    const out1 = join(tmp, 'onnx-1');
    const r1 = cli(['export-onnx', '--model', experts, '--out', out1, '--tasks', 'de']);
    expect(r1.status).toBe(1);
    expect(r1.errLines[0]).toMatch(/config\.json.*moe\.wi/);
    expect(existsSync(out1)).toBe(false);
    const index = copy('onnx-index', (c) => (c.tensors['encoder.norm.weight'].shape = [33]));
    const out2 = join(tmp, 'onnx-2');
    const r2 = cli(['export-onnx', '--model', index, '--out', out2, '--tasks', 'de']);
    expect(r2.status).toBe(1);
    expect(r2.errLines[0]).toMatch(/encoder\.norm\.weight/);
    expect(existsSync(out2)).toBe(false);
  });

  it('a tokenizer with more pieces than vocab_size is refused at load (ids past the embedding)', () => {
    const dir = copy('big-tokenizer');
    cpSync('models/task_task/spm.model', join(dir, 'spm.model'));
    const r = cli(['translate', '--model', dir, '--to', 'de'], 'Open the file.\n');
    expect(r.status).toBe(1);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(/8000 pieces.*vocab_size is 1000/);
  });

  it('--beam past the engine limit is a usage error before loading (finding 9)', () => {
    for (const beam of ['9', '64', '0']) {
      const r = cli(['translate', '--model', MODEL, '--to', 'de', '--beam', beam], 'x\n');
      expect(r.status).toBe(2);
      expect(r.errLines).toHaveLength(1);
      expect(r.errLines[0]).toMatch(/--beam must be an integer from 1 to 8/);
    }
  });

  it('a 20,000-character line without punctuation or spaces is translated in bounded time (finding 10)', () => {
    const line = 'abcdefghij'.repeat(2_000);
    const r = cli(
      ['translate', '--model', MODEL, '--to', 'de', '--max-steps', '8'],
      `${line}\nOpen the file.\n`,
      240_000,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toHaveLength(3);
    expect(r.ms).toBeLessThan(240_000);
  });

  it('an oversize line is a LimitExceededError naming the limit', () => {
    const r = cli(['translate', '--model', MODEL, '--to', 'de'], `${'a '.repeat(60_000)}\n`);
    expect(r.status).toBe(1);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(/charactersPerText/);
  });

  it('prints no Dawn warnings on stderr (finding 11)', () => {
    const r = cli(['translate', '--model', MODEL, '--to', 'de'], 'Open the file.\n');
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});
