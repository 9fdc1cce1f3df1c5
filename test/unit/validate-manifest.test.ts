// manifest.json and the shard loader under hostile servers (issue 16 findings 4, 7, 11): one declaration, contained
// names, downloads bounded by the manifest's byte count, typed errors within seconds and an RSS bound.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LimitExceededError, ManifestError, UnsafePathError } from '../../src/errors';
import { parseManifest } from '../../src/runtime/manifest';
import { memoryCache, ShardLoader } from '../../src/runtime/shard-loader';

const SHA = 'a'.repeat(64);
const file = (name: string, bytes = 4) => ({ file: name, bytes, sha256: SHA });
// biome-ignore lint/suspicious/noExplicitAny: tests mutate parsed JSON freely
type J = any;
const manifest = (): J => ({
  format: 'taskmoe-manifest',
  version: 1,
  model: 'm',
  extracted: true,
  config: file('config.json'),
  tokenizer: file('spm.model'),
  trunk: [file('trunk-000.safetensors')],
  tasks: { de: { shards: [file('task-de.safetensors')], bytes: 4 } },
  features: [],
  memory: { trunkBytes: 4, taskBytes: { de: 4 } },
});

function rejects(m: J, cls: new (...a: never[]) => Error, re: RegExp): void {
  let err: unknown;
  try {
    parseManifest(m);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(cls);
  expect((err as { code: string }).code).toMatch(/^(malformed-model|unsafe-path)$/);
  expect((err as Error).message).toMatch(/manifest\.json/);
  expect((err as Error).message).toMatch(re);
}

describe('manifest.json validation', () => {
  it('accepts a well-formed manifest', () => {
    expect(parseManifest(manifest()).tasks.de?.shards[0]?.file).toBe('task-de.safetensors');
  });

  it.each([
    ['tasks.de null (finding 11)', (m: J) => (m.tasks.de = null), /tasks\.de/],
    ['bytes 1e15 (finding 4)', (m: J) => (m.trunk[0].bytes = 1e15), /trunk\[0\]\.bytes/],
    ['bytes negative', (m: J) => (m.config.bytes = -1), /config\.bytes/],
    ['a bad sha256', (m: J) => (m.tokenizer.sha256 = 'xyz'), /tokenizer\.sha256/],
    ['no tasks', (m: J) => (m.tasks = {}), /tasks/],
    ['trunk not a list', (m: J) => (m.trunk = 'x'), /trunk/],
    ['wrong version', (m: J) => (m.version = 2), /version/],
  ])('rejects %s with ManifestError naming the field', (_, f, re) => {
    const m = manifest();
    f(m);
    rejects(m, ManifestError, re);
  });

  it('rejects a task named __proto__ (no prototype games with parsed JSON)', () => {
    const m = JSON.parse(JSON.stringify(manifest()).replace('"de":', '"__proto__":'));
    rejects(m, ManifestError, /tasks/);
  });

  it.each([
    ['%2e%2e/%2e%2e/other/x.safetensors'],
    ['https://other.host/x.safetensors'],
    ['\\\\other.host\\share\\x.safetensors'],
    ['/etc/passwd'],
    ['../x.safetensors'],
    ['//other.host/x'],
  ])('rejects the escaping file name %j (finding 7)', (name) => {
    const m = manifest();
    m.tasks.de.shards[0].file = name;
    rejects(m, UnsafePathError, /tasks\.de\.shards\[0\]\.file/);
  });
});

/** A server that lies: wrong Content-Length, bodies larger than asked, endless streams. */
let server: Server;
let base = '';
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const chunk = Buffer.alloc(64 * 1024, 1);
    if (req.url === '/m/huge-length.bin') {
      res.writeHead(200, { 'content-length': String(3e9) });
      res.write(chunk);
      return; // never ends: the client must stop on the header alone
    }
    if (req.url === '/m/forever.bin' || req.url === '/m/manifest.json') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const pump = (): void => {
        if (res.destroyed || res.writableEnded) return;
        if (res.write(chunk)) setImmediate(pump);
        else res.once('drain', pump);
      };
      res.on('close', () => res.destroy());
      pump();
      return;
    }
    if (req.url === '/m/double.bin') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(2000, 2));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function failure(p: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  return { err, ms: performance.now() - t0 };
}

describe('shard loader against a lying server (finding 4)', () => {
  const loader = () => new ShardLoader({ baseUrl: base, cache: memoryCache(), warn: () => {} });

  it('stops at the header when Content-Length is larger than the manifest says, allocating nothing for it', async () => {
    const rss0 = process.memoryUsage().rss;
    const l = loader();
    const { err, ms } = await failure(l.load(file('huge-length.bin', 14 * 2 ** 20)));
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as LimitExceededError).limit).toBe('bytesPerDownload');
    expect(ms).toBeLessThan(10_000);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(256 * 2 ** 20);
    expect(l.stats.fetches).toBe(1); // not refetched
  });

  it('stops an endless stream at the manifest byte count', async () => {
    const rss0 = process.memoryUsage().rss;
    const l = loader();
    const { err, ms } = await failure(l.load(file('forever.bin', 1 << 20)));
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as Error).message).toMatch(/forever\.bin.*manifest says 1048576/);
    expect(ms).toBeLessThan(10_000);
    expect(l.stats.bytesDownloaded).toBeLessThan(2 * 2 ** 20);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(256 * 2 ** 20);
  });

  it('refuses a body larger than the manifest says', async () => {
    const { err } = await failure(loader().load(file('double.bin', 1000)));
    expect(err).toBeInstanceOf(LimitExceededError);
  });

  it('stops an endless manifest at its size limit', async () => {
    const { err, ms } = await failure(loader().json(`${base}manifest.json`));
    expect(err).toBeInstanceOf(LimitExceededError);
    expect(ms).toBeLessThan(20_000);
  });

  it('never requests a name that leaves the model folder', async () => {
    const before = hits.length;
    for (const name of ['%2e%2e/%2e%2e/other/x', 'https://other.host/x', '\\\\other.host\\x', '../x']) {
      const { err } = await failure(loader().load(file(name)));
      expect(err).toBeInstanceOf(UnsafePathError);
    }
    expect(hits.length).toBe(before);
  });
});

describe('file: URLs in Node read only regular files', () => {
  it('a manifest naming a FIFO or a link to /dev/zero fails typed within seconds', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, rmSync, symlinkSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { pathToFileURL } = await import('node:url');
    const { fileAwareFetch } = await import('../../src/runtime/model-source');
    const dir = mkdtempSync(join(tmpdir(), 'taskmoe-fifo-'));
    try {
      execFileSync('mkfifo', [join(dir, 'fifo.safetensors')]);
      symlinkSync('/dev/zero', join(dir, 'zero.safetensors'));
      writeFileSync(join(dir, 'ok.bin'), 'abcd');
      const l = new ShardLoader({
        baseUrl: pathToFileURL(`${dir}/`).href,
        fetch: fileAwareFetch(),
        cache: memoryCache(),
        warn: () => {},
      });
      for (const name of ['fifo.safetensors', 'zero.safetensors']) {
        const { err, ms } = await failure(l.load(file(name, 1000)));
        expect(err, name).toBeInstanceOf(UnsafePathError);
        expect(ms).toBeLessThan(10_000);
      }
      const { err } = await failure(l.load(file('ok.bin', 4)));
      expect((err as { code?: string }).code).toBe('integrity'); // read, then checked against the sha256
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
