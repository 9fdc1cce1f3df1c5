// The npm package as a user gets it: `npm pack`, the tarball installed into a scratch project from the registry on a
// clean npm cache (its dependencies and optional dependencies fetched as on a fresh machine), then: its contents and
// declared dependencies; Node on Dawn, from a model path and an http URL; `npx taskmoe translate` on a shipped model;
// the public types compiled with skipLibCheck off; a Vite app that runs the engine only in a worker (no WGSL and no
// onnxruntime-web in its main-thread chunks) translating in headless Chromium; every code block of README.md, taken
// from the README itself; and the one-line error when the optional `webgpu` package is missing.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
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
import { prepareDemoModels } from '../../scripts/prepare-demo-models';
import { LocalModel } from '../../src/engine/local-model';
import type { GpuContext } from '../../src/gpu';
import { nodeFiles } from '../../src/runtime/node-files';
import { testContext } from '../setup/gpu';
import { BrowserHarness } from './chromium';

const REPO = process.cwd();
const SCRATCH = mkdtempSync(join(tmpdir(), 'taskmoe-package-'));
/** The shipped model the README names, as `npm run demo` serves it (trunk + per-language shards + manifest). */
const SERVED = join(SCRATCH, 'served-models');
const SHIPPED = 'models/task_task';
const SRC = ['Open the file.', 'Save the document before closing it.'];
const run = promisify(execFile);

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.html': 'text/html',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
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

/** A fenced code block of README.md: its info string and its text. */
interface Block {
  lang: string;
  code: string;
  /** The heading it sits under. */
  section: string;
}

/** The fenced code blocks of README.md, in order. */
function readmeBlocks(): Block[] {
  const blocks: Block[] = [];
  let section = '';
  let open: Block | null = null;
  for (const line of readFileSync(join(REPO, 'README.md'), 'utf8').split('\n')) {
    if (open) {
      if (line.startsWith('```')) {
        blocks.push(open);
        open = null;
      } else {
        open.code += `${line}\n`;
      }
    } else if (line.startsWith('```')) {
      open = { lang: line.slice(3).trim(), code: '', section };
    } else if (line.startsWith('#')) {
      section = line.replace(/^#+\s*/, '');
    }
  }
  expect(open, 'README.md has an unclosed code block').toBeNull();
  return blocks;
}

/** Runs `command` in bash in `cwd`; resolves with its output, rejects with it on a non-zero status. */
async function bash(command: string, cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run('bash', ['-c', command], { cwd, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
}

const WGSL = /@compute|@workgroup_size|var<storage/;
const ORT = /onnxruntime|InferenceSession|ort-wasm/;

/** The files a page loads before anything is imported dynamically: its entry chunk and the chunks it imports. */
function mainThreadChunks(dist: string, entry: string): string[] {
  const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8')) as Record<
    string,
    { file: string; imports?: string[] }
  >;
  const files = new Set<string>();
  const visit = (key: string): void => {
    const chunk = manifest[key];
    if (!chunk || files.has(chunk.file)) return;
    files.add(chunk.file);
    for (const k of chunk.imports ?? []) visit(k);
  };
  visit(entry);
  expect(files.size, `no chunk for ${entry} in the build manifest`).toBeGreaterThan(0);
  return [...files];
}

describe('the packed npm package', () => {
  let ctx: GpuContext;
  let expected: string[];
  let http: Awaited<ReturnType<typeof serve>>;
  let pkg: string;

  beforeAll(async () => {
    writeFileSync(join(SCRATCH, 'package.json'), '{ "name": "scratch", "private": true, "type": "module" }\n');
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', SCRATCH], { encoding: 'utf8' });
    const tarball = join(SCRATCH, out.trim().split('\n').at(-1) as string);
    // As on a fresh machine: every dependency from the registry, through an empty npm cache.
    execFileSync(
      'npm',
      ['install', tarball, '--cache', join(SCRATCH, '.npm-cache'), '--no-audit', '--no-fund', '--loglevel=error'],
      { cwd: SCRATCH, stdio: 'inherit', timeout: 600_000 },
    );
    pkg = join(SCRATCH, 'node_modules', 'taskmoe');
    symlinkSync(join(REPO, 'models'), join(SCRATCH, 'models'));
    await prepareDemoModels({ out: SERVED });
    ctx = await testContext();
    const ref = await LocalModel.create(ctx, nodeFiles(SHIPPED));
    expected = await ref.translate(SRC, { to: 'de' });
    ref.dispose();
    expect(expected.every((t) => t.trim() !== '')).toBe(true);
    http = await serve({
      '/models/': SERVED,
      '/app/': join(SCRATCH, 'app', 'dist'),
      '/readme/': join(SCRATCH, 'readme', 'dist'),
    });
  }, 900_000);
  afterAll(() => {
    ctx?.dispose();
    http?.server.close();
    rmSync(SCRATCH, { recursive: true, force: true });
  });

  it('holds ESM, .d.ts, the exports map, LICENSE and CHANGELOG, and declares every package it imports', () => {
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
    expect(Object.keys(manifest.exports)).toEqual(['.', './worker', './node', './package.json']);
    for (const entry of ['.', './worker', './node']) {
      expect(existsSync(join(pkg, manifest.exports[entry].import))).toBe(true);
      expect(existsSync(join(pkg, manifest.exports[entry].types))).toBe(true);
    }
    expect(readFileSync(join(pkg, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(readFileSync(join(pkg, 'CHANGELOG.md'), 'utf8')).toContain(`## [${manifest.version}]`);
    expect(manifest.license).toBe('MIT');
    expect(manifest.repository?.url).toMatch(/^git\+https:/);
    expect(manifest.homepage).toMatch(/^https:/);
    const files = readdirSync(join(pkg, 'dist', 'lib'), { recursive: true }) as string[];
    expect(files.some((f) => f.endsWith('.wgsl') || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toBe(false);
    const js = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(pkg, 'dist', 'lib', f), 'utf8'));
    expect(js.some((s) => s.includes('@compute'))).toBe(true); // shaders inlined
    // No shader is imported or fetched at run time (the bundler's "// shaders/x.wgsl?raw" comments mark inlined text).
    expect(js.some((s) => /(import|fetch)\s*\(?\s*["'`][^"'`]*\.wgsl/.test(s))).toBe(false);
    // Every package the library imports is declared; those used by one feature only are optional.
    const bare = new Set<string>();
    for (const s of js) {
      // import/export statements at the start of a line, and dynamic imports; not the examples in comments.
      const statements = s.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s*["']([^"'./][^"']*)["']/gm);
      const dynamic = s.matchAll(/\bimport\(\s*["']([^"'./][^"']*)["']\s*\)/g);
      for (const m of [...statements, ...dynamic]) {
        const spec = m[1] as string;
        if (!spec.startsWith('node:')) bare.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec);
      }
    }
    const declared = { ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies };
    expect([...bare].filter((b) => !(b in declared))).toEqual([]);
    expect(Object.keys(manifest.optionalDependencies ?? {}).sort()).toEqual(['onnxruntime-web', 'webgpu']);
    expect(manifest.dependencies['@webgpu/types']).toBeDefined();
    // Only the library, the CLI and its launcher: no models, tests or sources.
    const all = readdirSync(pkg, { recursive: true }) as string[];
    expect(all.filter((f) => /\.safetensors$|\.model$|^src\/|^test\//.test(f))).toEqual([]);
  });

  it('translates in Node from a model path and from an http URL', async () => {
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
console.log(JSON.stringify({ out, adapter: stats.adapter }));
`,
    );
    for (const model of [SHIPPED, `${http.url}/models/task_task/manifest.json`]) {
      // Asynchronously: the model's HTTP server runs in this process.
      const { stdout } = await run('node', [script, model, JSON.stringify(SRC)], { cwd: SCRATCH, encoding: 'utf8' });
      const res = JSON.parse(stdout.trim().split('\n').at(-1) as string);
      console.log(`[taskmoe] packed package in Node on ${res.adapter} from ${model}`);
      expect(res.out, model).toEqual(expected);
    }
  });

  it('runs `npx taskmoe translate` on a shipped model', async () => {
    const child = execFile('npx', ['--no', 'taskmoe', 'translate', '--model', SHIPPED, '--to', 'de'], {
      cwd: SCRATCH,
      encoding: 'utf8',
    });
    child.stdin?.end(`${SRC.join('\n')}\n`);
    const stdout = await new Promise<string>((ok, fail) => {
      let out = '';
      let err = '';
      child.stdout?.on('data', (d) => {
        out += d;
      });
      child.stderr?.on('data', (d) => {
        err += d;
      });
      child.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`status ${code}: ${err}`))));
    });
    expect(stdout.split('\n').slice(0, -1)).toEqual(expected);
  });

  it('type-checks a program using the public API with skipLibCheck off', () => {
    const dir = join(SCRATCH, 'types');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'app.ts'),
      `import {
  createGpuContext,
  createTranslator,
  createTranslatorApi,
  DependencyMissingError,
  InThreadTranslator,
  type Progress,
  resolveModelLocation,
  type Translator,
  type WasmOptions,
} from 'taskmoe';
import { nodeGpu } from 'taskmoe/node';

export async function inWorker(worker: Worker): Promise<string[]> {
  const wasm: WasmOptions = { numThreads: 1 };
  const t: Translator = await createTranslator({ model: '/models/task_task', worker, backend: 'auto', wasm });
  await t.load('de', { onProgress: (p: Progress) => console.log(p.shard, p.loaded, p.total) });
  const out = await t.translate(['Open the file.'], { to: 'de' });
  await t.dispose();
  return out;
}

export async function facade(worker: Worker): Promise<string> {
  const Translator = createTranslatorApi({ model: '/models/task_task/manifest.json', worker });
  const translator = await Translator.create({
    sourceLanguage: 'en',
    targetLanguage: 'de',
    monitor(m) {
      m.addEventListener('downloadprogress', (e) => console.log(e.loaded.toFixed(2)));
    },
  });
  const out: string = await translator.translate('Open the file.');
  translator.destroy();
  return out;
}

export async function inNode(): Promise<string> {
  const gpu: GPU = await nodeGpu().catch((e: unknown) => {
    if (e instanceof DependencyMissingError) console.error(e.packageName);
    throw e;
  });
  const t = await InThreadTranslator.create({
    model: resolveModelLocation('models/task_task').manifestUrl,
    createContext: async () => createGpuContext({ gpu }),
  });
  const [first] = await t.translate(['Open the file.'], { to: 'de' });
  await t.dispose();
  return first ?? '';
}
`,
    );
    const base = {
      target: 'ES2022',
      lib: ['ES2022', 'DOM'],
      types: [],
      strict: true,
      skipLibCheck: false,
      noEmit: true,
    };
    const tsc = join(REPO, 'node_modules', '.bin', 'tsc');
    for (const [name, extra] of [
      ['bundler', { module: 'ESNext', moduleResolution: 'Bundler' }],
      ['nodenext', { module: 'NodeNext', moduleResolution: 'NodeNext' }],
    ] as const) {
      const cfg = join(dir, `tsconfig.${name}.json`);
      writeFileSync(cfg, JSON.stringify({ compilerOptions: { ...base, ...extra }, files: ['app.ts'] }));
      const r = (() => {
        try {
          return { status: 0, out: execFileSync(tsc, ['-p', cfg], { cwd: dir, encoding: 'utf8' }) };
        } catch (e) {
          const err = e as { status: number; stdout: string };
          return { status: err.status, out: err.stdout };
        }
      })();
      expect(r.out, name).toBe('');
      expect(r.status, name).toBe(0);
    }
  });

  it('bundled by Vite with only the worker: no WGSL and no onnxruntime-web in the main thread; translates a string into German in Chromium through the Chrome-style facade', async () => {
    const app = join(SCRATCH, 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(
      join(app, 'index.html'),
      '<!doctype html><html><head><meta charset="utf-8"></head><body><script type="module" src="./main.js"></script></body></html>\n',
    );
    // Only the worker runs the engine; the page talks to it through the Chrome-style facade.
    writeFileSync(
      join(app, 'main.js'),
      `import { createTranslatorApi } from 'taskmoe';
import TaskmoeWorker from 'taskmoe/worker?worker';
window.run = async (model, text) => {
  const api = createTranslatorApi({ model, worker: new TaskmoeWorker() });
  const pair = { sourceLanguage: 'en', targetLanguage: 'de' };
  const progress = [];
  try {
    const before = await api.availability(pair);
    const translator = await api.create({
      ...pair,
      monitor(m) {
        m.addEventListener('downloadprogress', (e) => progress.push(e.loaded));
      },
    });
    const out = await translator.translate(text);
    const after = await api.availability(pair);
    const engine = await api.engine();
    const unknown = await engine.translate(text, { to: 'xx' }).then(String, (e) => \`\${e.name}: \${e.message}\`);
    const stats = await engine.stats();
    translator.destroy();
    return { out, progress, before, after, unknown, stats };
  } catch (e) {
    return { error: String(e) };
  } finally {
    await api.destroy();
  }
};
`,
    );
    const { build } = await import('vite');
    const dist = join(app, 'dist');
    await build({
      root: app,
      base: '/app/',
      configFile: false,
      logLevel: 'warn',
      worker: { format: 'es' },
      build: { outDir: dist, emptyOutDir: true, target: 'es2022', manifest: true },
    });
    const main = mainThreadChunks(dist, 'index.html');
    let mainBytes = 0;
    for (const f of main) {
      const text = readFileSync(join(dist, f), 'utf8');
      mainBytes += text.length;
      expect(text, `${f} holds WGSL`).not.toMatch(WGSL);
      expect(text, `${f} holds onnxruntime-web`).not.toMatch(ORT);
    }
    const assets = readdirSync(join(dist, 'assets'));
    const workerChunk = assets.find((f) => /^worker-.*\.js$/.test(f)) as string;
    expect(readFileSync(join(dist, 'assets', workerChunk), 'utf8')).toMatch(WGSL); // the check can see shaders
    console.log(
      `[taskmoe] worker-only app: main-thread chunks ${main.join(', ')} (${(mainBytes / 1024).toFixed(1)} KB)`,
    );

    const h = new BrowserHarness();
    await h.start();
    try {
      const page = await h.browser.newPage();
      page.on('console', (m) => h.consoleLines.push(`[${m.type()}] ${m.text()}`));
      await page.goto(`${http.url}/app/`);
      await page.waitForFunction(() => typeof (window as unknown as { run?: unknown }).run === 'function');
      http.requests.length = 0;
      const res = (await page.evaluate(
        ([model, text]) => (window as unknown as { run: (m: string, t: string) => Promise<unknown> }).run(model, text),
        [`${http.url}/models/task_task/manifest.json`, SRC[0] as string] as const,
      )) as {
        out?: string;
        error?: string;
        unknown?: string;
        progress?: number[];
        before?: string;
        after?: string;
        stats?: { adapter: string };
      };
      expect(res.error, `${res.error}\n${h.consoleLines.join('\n')}`).toBeUndefined();
      console.log(
        `[taskmoe] packed package bundled by Vite, in Chromium on ${res.stats?.adapter}: "${res.out}"; progress ${JSON.stringify(res.progress)}`,
      );
      expect(typeof res.out).toBe('string');
      expect(res.out?.trim()).not.toBe('');
      expect(res.out).not.toBe(SRC[0]);
      expect([res.before, res.after]).toEqual(['downloadable', 'available']);
      // The monitor reports the download from 0 to 1, never going back.
      const progress = res.progress ?? [];
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress.at(-1)).toBe(1);
      expect(progress.some((p) => p < 1)).toBe(true);
      for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1] as number);
      // Errors from the worker keep their class names even in a minified bundle.
      expect(res.unknown).toMatch(/^UnknownLanguageError: /);
      // Nothing but the worker script and model files is fetched at run time.
      expect(http.requests.filter((p) => !p.startsWith('/models/') && !/^\/app\/assets\/.*\.js$/.test(p))).toEqual([]);
    } finally {
      await h.stop();
    }
  });

  describe('README.md', () => {
    const blocks = readmeBlocks();

    it('has only code blocks this test knows how to run', () => {
      const known = blocks.filter((b) => ['sh', 'ts', 'js', 'text'].includes(b.lang));
      expect(known).toEqual(blocks);
      expect(blocks.filter((b) => b.lang === 'ts').length).toBeGreaterThanOrEqual(2);
    });

    it('quick start: CI runs the setup and the tests; `npm run demo` serves the shipped model as the snippets load it', async () => {
      const quick = blocks.filter((b) => b.section.startsWith('Quick start'));
      expect(quick).toHaveLength(1);
      const lines = (quick[0] as Block).code.trim().split('\n');
      expect(lines[0]).toMatch(/^bash scripts\/install-system-deps\.sh && npm ci && npm run demo\s/);
      expect(lines[1]).toBe('npm test');
      // The setup commands and `npm test` are what .ci/run runs on a fresh machine; running them here would recurse.
      const ci = readFileSync(join(REPO, '.ci/run'), 'utf8');
      for (const c of ['bash scripts/install-system-deps.sh', 'npm ci', 'npm test']) expect(ci).toContain(c);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(lines[0] as string)?.[1]);
      const demo: ChildProcess = spawn('npm', ['run', 'demo'], { cwd: REPO, detached: true, stdio: 'ignore' });
      try {
        let manifest: { format?: string; extracted?: boolean } | null = null;
        for (let i = 0; i < 240 && !manifest; i++) {
          await new Promise((r) => setTimeout(r, 500));
          manifest = await fetch(`http://127.0.0.1:${port}/models/task_task/manifest.json`).then(
            (r) => (r.ok ? r.json() : null),
            () => null,
          );
        }
        expect(manifest?.format).toBe('taskmoe-manifest');
        expect(manifest?.extracted).toBe(true);
        expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
      } finally {
        if (demo.pid) process.kill(-demo.pid, 'SIGTERM');
      }
    });

    it('install: `npm install taskmoe` is what this test did with the packed tarball', () => {
      const install = blocks.filter((b) => b.section === 'Install');
      expect(install.map((b) => b.code.trim())).toEqual(['npm install taskmoe']);
      expect(existsSync(join(pkg, 'package.json'))).toBe(true);
    });

    it('the ts blocks run in headless Chromium, bundled by Vite against the installed package', async () => {
      const ts = blocks.filter((b) => b.lang === 'ts');
      const dir = join(SCRATCH, 'readme');
      mkdirSync(dir, { recursive: true });
      const input: Record<string, string> = {};
      ts.forEach((b, i) => {
        writeFileSync(join(dir, `block-${i}.ts`), b.code);
        // The page records what the block logs, then runs it; window.done says how it ended.
        writeFileSync(
          join(dir, `block-${i}.html`),
          `<!doctype html><html><head><meta charset="utf-8"></head><body><script type="module">
window.logs = [];
const log = console.log.bind(console);
console.log = (...args) => { window.logs.push(args); log(...args); };
window.done = import('./block-${i}.ts').then(() => 'ok', (e) => 'error: ' + (e && e.stack || e));
</script></body></html>\n`,
        );
        input[`block-${i}`] = join(dir, `block-${i}.html`);
      });
      const { build } = await import('vite');
      await build({
        root: dir,
        base: '/readme/',
        configFile: false,
        logLevel: 'warn',
        worker: { format: 'es' },
        build: { outDir: join(dir, 'dist'), emptyOutDir: true, target: 'es2022', rollupOptions: { input } },
      });
      // The README's model URLs are the demo server's: /models/ on this origin.
      const h = new BrowserHarness();
      await h.start();
      try {
        for (let i = 0; i < ts.length; i++) {
          const page = await h.browser.newPage();
          page.on('console', (m) => h.consoleLines.push(`[block ${i}] [${m.type()}] ${m.text()}`));
          page.on('pageerror', (e) => h.consoleLines.push(`[block ${i}] [pageerror] ${e.message}`));
          await page.goto(`${http.url}/readme/block-${i}.html`);
          const done = await page.evaluate(() => (window as unknown as { done: Promise<string> }).done);
          expect(done, `README block ${i} (${ts[i]?.section}):\n${h.consoleLines.join('\n')}`).toBe('ok');
          const logs = (await page.evaluate(() =>
            JSON.stringify((window as unknown as { logs: unknown[] }).logs),
          )) as string;
          // Each block prints at least one translation: a sentence (words with spaces between them), or a list of them.
          const printed = (JSON.parse(logs) as unknown[][]).flat();
          const sentence = (v: unknown): boolean => typeof v === 'string' && /\p{L}+ \p{L}+/u.test(v);
          const translations = printed.filter(
            (v) => sentence(v) || (Array.isArray(v) && v.length > 0 && v.every(sentence)),
          );
          expect(translations.length, `block ${i} printed ${logs}`).toBeGreaterThan(0);
          console.log(
            `[taskmoe] README block ${i} (${ts[i]?.section}) in Chromium: ${JSON.stringify(translations[0])}`,
          );
          await page.close();
        }
      } finally {
        await h.stop();
      }
    });

    it('the js blocks run in Node in the scratch project', async () => {
      const js = blocks.filter((b) => b.lang === 'js');
      expect(js.length).toBeGreaterThan(0);
      for (const [i, b] of js.entries()) {
        const file = join(SCRATCH, `readme-${i}.mjs`);
        writeFileSync(file, b.code);
        const { stdout } = await run('node', [file], { cwd: SCRATCH, encoding: 'utf8' });
        expect(stdout, `README block (${b.section})`).toContain(expected[0]);
      }
    });

    it('the CLI block runs in the scratch project, each line', async () => {
      const cli = blocks.filter((b) => b.section === 'CLI');
      expect(cli).toHaveLength(1);
      const lines = (cli[0] as Block).code.trim().split('\n');
      const outputs: string[] = [];
      for (const line of lines) {
        expect(line).toMatch(/^npx taskmoe /);
        outputs.push((await bash(line.replace(/^npx taskmoe /, 'npx --no taskmoe '), SCRATCH)).stdout);
      }
      expect(outputs[0]).toBe(`${expected[0]}\n`);
      for (const [i, out] of outputs.entries()) {
        if (/ translate /.test(lines[i] as string)) expect(out.trim(), lines[i]).not.toBe('');
      }
    });

    it('the architecture block names folders that exist, and every folder of src/', () => {
      const text = blocks.filter((b) => b.lang === 'text');
      expect(text).toHaveLength(1);
      const named = [...(text[0] as Block).code.matchAll(/^([\w.-]+\/(?:[\w.-]+\/)*)/gm)].map((m) => m[1] as string);
      expect(named.length).toBeGreaterThan(5);
      for (const p of named) expect(existsSync(join(REPO, p)), p).toBe(true);
      const srcDirs = readdirSync(join(REPO, 'src'), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => `src/${d.name}/`);
      expect(srcDirs.filter((d) => !named.includes(d))).toEqual([]);
    });
  });

  it('names the optional package `webgpu` in one line when it is missing', async () => {
    rmSync(join(SCRATCH, 'node_modules', 'webgpu'), { recursive: true, force: true });
    const r = await bash(`npx --no taskmoe translate --model ${SHIPPED} --to de <<< 'Open the file.'`, SCRATCH).then(
      () => ({ status: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ status: e.code, stderr: e.stderr }),
    );
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/needs the npm package "webgpu": npm install webgpu/);
  });
});
