// The npm package as a user gets it: `npm pack`, the tarball unpacked into a scratch project's node_modules, then
// (1) a Node script translates with it on Dawn, and (2) an app bundled by Vite translates in headless Chromium
// through `taskmoe/worker`. Both equal the engine run from source. Model files are the only thing fetched.
import { execFile, execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTranslator } from '../../src/engine/local-translator';
import type { GpuContext } from '../../src/gpu';
import { extractModel } from '../../src/runtime/extract-node';
import { nodeFiles } from '../../src/runtime/node-files';
import { testContext } from '../setup/gpu';
import { BrowserHarness } from './chromium';

// A scratch project in a temporary folder. Its dependencies other than taskmoe (comlink, onnxruntime-web; webgpu for Node) are linked
// from the repository's node_modules, as npm would install them, so that no registry is needed.
const SCRATCH = mkdtempSync(join(tmpdir(), 'taskmoe-package-'));
const MODEL = join(SCRATCH, 'model');
const SRC = ['Open the file.', 'Save the document before closing it.'];

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.html': 'text/html',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Serves `roots` (URL prefix -> folder) over HTTP and records the paths requested. */
function serve(roots: Record<string, string>): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] as string);
    requests.push(path);
    for (const [prefix, dir] of Object.entries(roots)) {
      if (!path.startsWith(prefix)) continue;
      const rel = path.slice(prefix.length) || 'index.html';
      const file = resolve(dir, rel);
      if (!file.startsWith(resolve(dir)) || !existsSync(file)) break;
      const body = readFileSync(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': body.byteLength,
      });
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      ok({ server, url: `http://127.0.0.1:${port}`, requests });
    }),
  );
}

describe('the packed npm package', () => {
  let ctx: GpuContext;
  let expected: string[];
  let http: Awaited<ReturnType<typeof serve>>;
  let tarball: string;

  beforeAll(async () => {
    writeFileSync(join(SCRATCH, 'package.json'), '{ "name": "scratch", "private": true, "type": "module" }\n');
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', SCRATCH], { encoding: 'utf8' });
    tarball = join(SCRATCH, out.trim().split('\n').at(-1) as string);
    const pkg = join(SCRATCH, 'node_modules', 'taskmoe');
    mkdirSync(pkg, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
    for (const dep of ['comlink', 'onnxruntime-web', 'webgpu'])
      symlinkSync(resolve('node_modules', dep), join(SCRATCH, 'node_modules', dep));
    await extractModel(nodeFiles('test/fixtures/models/task_task'), MODEL);
    ctx = await testContext();
    const ref = await LocalTranslator.create(ctx, nodeFiles(MODEL));
    expected = await ref.translate(SRC, { to: 'de' });
    ref.dispose();
    http = await serve({ '/model/': MODEL, '/app/': join(SCRATCH, 'app', 'dist') });
  }, 300_000);
  afterAll(() => {
    ctx?.dispose();
    http?.server.close();
    rmSync(SCRATCH, { recursive: true, force: true });
  });

  it('holds ESM, .d.ts and the exports map, and no shader file or source', () => {
    const pkg = join(SCRATCH, 'node_modules', 'taskmoe');
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
    expect(Object.keys(manifest.exports)).toEqual(['.', './worker', './node', './package.json']);
    for (const entry of ['.', './worker', './node']) {
      expect(existsSync(join(pkg, manifest.exports[entry].import))).toBe(true);
      expect(existsSync(join(pkg, manifest.exports[entry].types))).toBe(true);
    }
    const files = readdirSync(join(pkg, 'dist', 'lib'), { recursive: true }) as string[];
    expect(files.some((f) => f.endsWith('.wgsl') || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toBe(false);
    const js = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(pkg, 'dist', 'lib', f), 'utf8'));
    expect(js.some((s) => s.includes('@compute'))).toBe(true); // shaders inlined
    // No shader is imported or fetched at run time (the bundler's "// shaders/x.wgsl?raw" comments mark inlined text).
    expect(js.some((s) => /(import|fetch)\s*\(?\s*["'`][^"'`]*\.wgsl/.test(s))).toBe(false);
    // Only the library, the CLI and its launcher: no models, tests or sources.
    const all = readdirSync(pkg, { recursive: true }) as string[];
    expect(all.filter((f) => /\.safetensors$|\.model$|^src\/|^test\//.test(f))).toEqual([]);
  });

  it('translates in Node with the installed package', async () => {
    const script = join(SCRATCH, 'node-translate.mjs');
    writeFileSync(
      script,
      `import { InThreadTranslator, createGpuContext } from 'taskmoe';
import { nodeGpu } from 'taskmoe/node';
const t = await InThreadTranslator.create({
  model: process.argv[2],
  createContext: async () => createGpuContext({ gpu: await nodeGpu() }),
});
const out = await t.translate(JSON.parse(process.argv[3]), { to: 'de' });
const stats = await t.stats();
await t.dispose();
console.log(JSON.stringify({ out, cache: stats.bytesFromCache, adapter: stats.adapter }));
`,
    );
    // Asynchronously: the model's HTTP server runs in this process.
    const { stdout } = await promisify(execFile)(
      'node',
      [script, `${http.url}/model/manifest.json`, JSON.stringify(SRC)],
      {
        cwd: SCRATCH,
        encoding: 'utf8',
      },
    );
    const res = JSON.parse(stdout.trim().split('\n').at(-1) as string);
    console.log(`[taskmoe] packed package in Node on ${res.adapter}`);
    expect(res.out).toEqual(expected);
  });

  it('bundled by Vite, translates in headless Chromium through taskmoe/worker', async () => {
    const app = join(SCRATCH, 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(
      join(app, 'index.html'),
      '<!doctype html><html><head><meta charset="utf-8"></head><body><script type="module" src="./main.js"></script></body></html>\n',
    );
    writeFileSync(
      join(app, 'main.js'),
      `import { createTranslator } from 'taskmoe';
import TaskmoeWorker from 'taskmoe/worker?worker';
window.run = async (model, texts) => {
  const t = await createTranslator({ model, worker: new TaskmoeWorker() });
  try {
    const out = await t.translate(texts, { to: 'de' });
    const unknown = await t.translate(texts, { to: 'xx' }).then(String, (e) => \`\${e.name}: \${e.message}\`);
    return { out, unknown, stats: await t.stats() };
  } catch (e) {
    return { error: String(e) };
  } finally {
    await t.dispose();
  }
};
`,
    );
    const { build } = await import('vite');
    await build({
      root: app,
      base: '/app/',
      configFile: false,
      logLevel: 'warn',
      worker: { format: 'es' },
      build: { outDir: join(app, 'dist'), emptyOutDir: true, target: 'es2022' },
    });
    const h = new BrowserHarness();
    await h.start();
    try {
      const page = await h.browser.newPage();
      page.on('console', (m) => h.consoleLines.push(`[${m.type()}] ${m.text()}`));
      await page.goto(`${http.url}/app/`);
      await page.waitForFunction(() => typeof (window as unknown as { run?: unknown }).run === 'function');
      http.requests.length = 0;
      const res = (await page.evaluate(
        ([model, texts]) =>
          (window as unknown as { run: (m: string, t: string[]) => Promise<unknown> }).run(model, texts),
        [`${http.url}/model/manifest.json`, SRC] as const,
      )) as { out?: string[]; error?: string; unknown?: string; stats?: { adapter: string } };
      expect(res.error, `${res.error}\n${h.consoleLines.join('\n')}`).toBeUndefined();
      console.log(`[taskmoe] packed package bundled by Vite, in Chromium on ${res.stats?.adapter}`);
      expect(res.out?.length).toBe(SRC.length);
      // Errors from the worker keep their class names even in a minified bundle.
      expect(res.unknown).toMatch(/^UnknownLanguageError: /);
      // Nothing but the worker script and model files is fetched at run time.
      expect(http.requests.filter((p) => !p.startsWith('/model/') && !/^\/app\/assets\/.*\.js$/.test(p))).toEqual([]);
    } finally {
      await h.stop();
    }
  });
});
