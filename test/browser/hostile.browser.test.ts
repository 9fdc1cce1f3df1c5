// Hostile inputs in real headless Chromium (issue 16): a corrupt shard, a manifest naming a file outside the model's
// folder, an oversize text and an out-of-range option give the same typed errors through the worker proxy as in the
// page's own thread, rebuilt as instances of the public classes.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractModel } from '../../src/runtime/extract-node';
import { nodeFiles } from '../../src/runtime/node-files';
import { BrowserHarness } from './chromium';
import type { ProbeResult } from './hostile-page';

const ROOT = 'test-results/hostile';
const GOOD = `${ROOT}/good`;
const CORRUPT = `${ROOT}/corrupt`;
const ESCAPE = `${ROOT}/escape`;

describe('hostile inputs through the worker proxy in Chromium (WebGPU)', () => {
  const h = new BrowserHarness();
  let page: Page;

  beforeAll(async () => {
    rmSync(ROOT, { recursive: true, force: true });
    mkdirSync(ROOT, { recursive: true });
    await extractModel(nodeFiles('test/fixtures/models/task_task'), GOOD, { tasks: ['de', 'fr'] });
    // Same size, one byte changed: the manifest's sha256 no longer matches.
    cpSync(GOOD, CORRUPT, { recursive: true });
    const shard = readFileSync(`${CORRUPT}/task-de.safetensors`);
    shard.writeUInt8(shard.readUInt8(shard.length - 1) ^ 0xff, shard.length - 1);
    writeFileSync(`${CORRUPT}/task-de.safetensors`, shard);
    // A manifest whose de shard is named through an encoded "..": outside its folder.
    cpSync(GOOD, ESCAPE, { recursive: true });
    const m = JSON.parse(readFileSync(`${ESCAPE}/manifest.json`, 'utf8'));
    m.tasks.de.shards[0].file = '%2e%2e/good/task-de.safetensors';
    writeFileSync(`${ESCAPE}/manifest.json`, JSON.stringify(m));
    await h.start([
      {
        name: 'hostile-deps',
        config: () => ({
          optimizeDeps: { noDiscovery: true, include: ['comlink'] },
          server: { watch: { ignored: ['**/test-results/**', '**/training/**'] } },
        }),
      },
    ]);
    // The first load transforms the whole public API in the dev server: give it longer than page.goto's default.
    page = await h.browser.newPage();
    page.on('console', (msg) => h.consoleLines.push(`[${msg.type()}] ${msg.text()}`));
    await page.goto(`${h.baseUrl}/test/browser/hostile.html`, { timeout: 180_000 });
    await page.waitForFunction(() => window.__hostile?.ready === true, undefined, { timeout: 60_000 });
  }, 300_000);

  afterAll(async () => {
    await h.stop();
    rmSync(ROOT, { recursive: true, force: true });
  });

  const probe = (model: string, inThread: boolean, kind: 'load' | 'oversize' | 'option'): Promise<ProbeResult> =>
    page.evaluate(([m, i, k]) => window.__hostile?.probe(m, i, k) as Promise<ProbeResult>, [
      model,
      inThread,
      kind,
    ] as const);

  it.each([
    ['a corrupt shard', `/${CORRUPT}/manifest.json`, 'load', 'IntegrityError', 'integrity'],
    ['an escaping file name', `/${ESCAPE}/manifest.json`, 'load', 'UnsafePathError', 'unsafe-path'],
    ['an oversize text', `/${GOOD}/manifest.json`, 'oversize', 'LimitExceededError', 'limit-exceeded'],
    ['beam 9', `/${GOOD}/manifest.json`, 'option', 'InvalidOptionError', 'invalid-option'],
  ] as const)('%s: the same typed error in-thread and through the worker', async (_, model, kind, name, code) => {
    const t0 = performance.now();
    const inThread = await probe(model, true, kind);
    const viaWorker = await probe(model, false, kind);
    const why = `${JSON.stringify({ inThread, viaWorker })}\n${h.consoleLines.join('\n')}`;
    expect(inThread, why).toMatchObject({ ok: false, name, code, instance: true });
    expect(viaWorker, why).toMatchObject({ ok: false, name, code, instance: true });
    expect(viaWorker.message).toBe(inThread.message);
    expect(performance.now() - t0).toBeLessThan(120_000);
  });
});
