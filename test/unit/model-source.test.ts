// What a user passes as a model in Node: a folder or its manifest.json, as a path or file:// URL, or an http(s) URL;
// resolved to a manifest URL, read from disk through fileAwareFetch, and translated with the library on Dawn and with
// the built CLI, all equal to the engine reading the folder directly.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTranslator } from '../../src/engine/create-translator';
import { InThreadTranslator } from '../../src/engine/inthread-translator';
import { LocalModel } from '../../src/engine/local-model';
import { BackendUnavailableError, InvalidOptionError, ModelLocationError } from '../../src/errors';
import type { GpuContext } from '../../src/gpu';
import { nodeGpu } from '../../src/gpu/node';
import { extractModel, writeManifest } from '../../src/runtime/extract-node';
import { parseManifest } from '../../src/runtime/manifest';
import { fileAwareFetch, resolveModelLocation, wholeModelManifest } from '../../src/runtime/model-source';
import { nodeFiles } from '../../src/runtime/node-files';
import { testContext } from '../setup/gpu';

// The shipped model (the tiny fixtures translate everything to empty strings, which would compare nothing).
const MODEL = 'models/task_task';
const FIXTURE = 'test/fixtures/models/task_task';
const SRC = ['Open the file.', 'Save the document before closing it.'];
const cwdUrl = pathToFileURL(`${process.cwd()}/`).toString();

describe('resolveModelLocation', () => {
  it('reads a path without a scheme as a folder on disk, relative to the working directory', () => {
    expect(resolveModelLocation('models/task_task')).toEqual({
      manifestUrl: `${cwdUrl}models/task_task/manifest.json`,
      baseUrl: `${cwdUrl}models/task_task/`,
      local: true,
    });
    expect(resolveModelLocation('./models/task_task/').manifestUrl).toBe(`${cwdUrl}models/task_task/manifest.json`);
    expect(resolveModelLocation('/srv/m').manifestUrl).toBe('file:///srv/m/manifest.json');
  });

  it('reads a last segment ending in .json as the manifest itself', () => {
    expect(resolveModelLocation('/srv/m/manifest.json')).toEqual({
      manifestUrl: 'file:///srv/m/manifest.json',
      baseUrl: 'file:///srv/m/',
      local: true,
    });
    expect(resolveModelLocation('/srv/m/v2.json').baseUrl).toBe('file:///srv/m/');
  });

  it('keeps file names that look like URL syntax as names', () => {
    const r = resolveModelLocation('/srv/a b#1/c?d%/manifest.json');
    expect(r.manifestUrl).toBe('file:///srv/a%20b%231/c%3Fd%25/manifest.json');
    expect(new URL(r.manifestUrl).pathname).toBe('/srv/a%20b%231/c%3Fd%25/manifest.json');
  });

  it('takes file:// and http(s) URLs, of a folder or of a manifest', () => {
    expect(resolveModelLocation('file:///srv/m').manifestUrl).toBe('file:///srv/m/manifest.json');
    expect(resolveModelLocation(new URL('file:///srv/m/manifest.json')).baseUrl).toBe('file:///srv/m/');
    expect(resolveModelLocation('https://cdn.test/models/task_task')).toEqual({
      manifestUrl: 'https://cdn.test/models/task_task/manifest.json',
      baseUrl: 'https://cdn.test/models/task_task/',
      local: false,
    });
    const q = resolveModelLocation('http://127.0.0.1:8000/m/manifest.json?v=3#top');
    expect(q.manifestUrl).toBe('http://127.0.0.1:8000/m/manifest.json?v=3');
    expect(q.baseUrl).toBe('http://127.0.0.1:8000/m/');
  });

  it('rejects what it cannot read, naming what it takes', () => {
    for (const bad of ['', 'ftp://host/m', 'data:application/json,{}', 'https://']) {
      expect(() => resolveModelLocation(bad), bad).toThrow(ModelLocationError);
    }
    expect(() => resolveModelLocation('ftp://host/m')).toThrow(/a path or file:\/\/ URL in Node, an http\(s\) URL/);
  });
});

describe('models on disk in Node', () => {
  let ctx: GpuContext;
  let tmp: string;
  let extracted: string;
  let expected: string[];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'taskmoe-source-'));
    extracted = join(tmp, 'task task#1');
    await extractModel(nodeFiles(MODEL), extracted, { tasks: ['de', 'fr'] });
    ctx = await testContext();
    const ref = await LocalModel.create(ctx, nodeFiles(MODEL));
    expected = await ref.translate(SRC, { to: 'de' });
    ref.dispose();
    expect(expected.every((t) => t.trim() !== '')).toBe(true);
  }, 120_000);
  afterAll(() => {
    ctx?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('fileAwareFetch reads files, answers 404 for a missing one and leaves other URLs to fetch', async () => {
    const seen: string[] = [];
    const f = fileAwareFetch(async (input) => {
      seen.push(String(input));
      return new Response('net');
    });
    const url = pathToFileURL(resolve(FIXTURE, 'config.json'));
    const res = await f(url.toString());
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array(readFileSync(join(FIXTURE, 'config.json'))));
    expect((await f(pathToFileURL(resolve(FIXTURE, 'nothing.bin')).toString())).status).toBe(404);
    expect(await (await f('https://cdn.test/x')).text()).toBe('net');
    expect(seen).toEqual(['https://cdn.test/x']);
    const ctl = new AbortController();
    ctl.abort(new Error('stop'));
    await expect(f(url.toString(), { signal: ctl.signal })).rejects.toThrow('stop');
  });

  it('makes the manifest of an export without one, as taskmoe writes it', async () => {
    const res = await fileAwareFetch()(pathToFileURL(resolve(FIXTURE, 'manifest.json')).toString());
    expect(res.status).toBe(200);
    const made = parseManifest(await res.json());
    const copy = join(tmp, 'whole');
    execFileSync('cp', ['-r', FIXTURE, copy]);
    const written = await writeManifest(copy);
    expect(made).toEqual(written);
    expect(await wholeModelManifest(nodeFiles(FIXTURE))).toEqual(written);
  });

  it('translates from a folder path, a manifest path and a file:// URL, as the engine reading the folder', async () => {
    const specs = [
      MODEL, // the export as shipped: no manifest.json, whole model
      extracted, // taskmoe extract's output, with a space and a # in its name
      join(extracted, 'manifest.json'),
      pathToFileURL(extracted).toString(),
    ];
    for (const model of specs) {
      const t = await InThreadTranslator.create({ model, createContext: () => testContext() });
      try {
        expect(await t.translate(SRC, { to: 'de' }), model).toEqual(expected);
      } finally {
        await t.dispose();
      }
    }
  });

  it('createTranslator runs on Dawn in Node when given gpu, and says how when not', async () => {
    const t = await createTranslator({ model: MODEL, gpu: await nodeGpu() });
    try {
      expect((await t.stats()).backend).toBe('webgpu');
      expect(await t.translate(SRC, { to: 'de' })).toEqual(expected);
    } finally {
      await t.dispose();
    }
    const err = await createTranslator({ model: MODEL, backend: 'webgpu' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toContain('nodeGpu()');
    expect((err as Error).message).not.toMatch(/\.\./);
    await expect(
      createTranslator({ model: MODEL, gpu: await nodeGpu(), worker: {} as unknown as Worker }),
    ).rejects.toThrow(InvalidOptionError);
  });

  it('names the missing folder', async () => {
    await expect(
      InThreadTranslator.create({ model: join(tmp, 'nope'), createContext: async () => ctx }),
    ).rejects.toThrow(/nope\/manifest\.json/);
  });
});

describe('the CLI takes the same model specifications', () => {
  let http: Server;
  let url: string;
  let tmp: string;

  beforeAll(async () => {
    execFileSync('npm', ['run', '-s', 'build:cli'], { stdio: 'inherit' });
    tmp = mkdtempSync(join(tmpdir(), 'taskmoe-cli-source-'));
    await extractModel(nodeFiles(MODEL), join(tmp, 'x'), { tasks: ['de'] });
    http = createServer((req, res) => {
      try {
        const body = readFileSync(join(tmp, 'x', (req.url ?? '/').slice(1)));
        res.writeHead(200, { 'content-length': body.byteLength }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  }, 300_000);
  afterAll(() => {
    http?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('translates with a folder, a file:// URL of the manifest and an http URL alike', async () => {
    const run = async (model: string): Promise<string> => {
      const { execFile } = await import('node:child_process');
      return new Promise((ok, fail) => {
        const child = execFile('node', ['bin/taskmoe.js', 'translate', '--model', model, '--to', 'de'], (e, out) =>
          e ? fail(e) : ok(out),
        );
        child.stdin?.end(`${SRC.join('\n')}\n`);
      });
    };
    const folder = await run(MODEL);
    expect(folder.split('\n').filter((l) => l.trim() !== '')).toHaveLength(SRC.length);
    expect(await run(pathToFileURL(join(tmp, 'x', 'manifest.json')).toString())).toBe(folder);
    expect(await run(`${url}/manifest.json`)).toBe(folder);
    expect(await run(url)).toBe(folder);
  });
});
