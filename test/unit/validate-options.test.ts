// Public options at the library's boundary (issue 16 findings 2, 11): through InThreadTranslator and LocalModel,
// bad texts and options are typed errors before any download or GPU work; nothing is silently accepted.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InThreadTranslator } from '../../src/engine/inthread-translator';
import { LocalModel } from '../../src/engine/local-model';
import { TRANSLATE_LIMITS } from '../../src/engine/options';
import { InvalidOptionError, LimitExceededError } from '../../src/errors';
import type { GpuContext } from '../../src/gpu';
import { extractModel } from '../../src/runtime/extract-node';
import { nodeFiles } from '../../src/runtime/node-files';
import { memoryCache } from '../../src/runtime/shard-loader';
import { testContext } from '../setup/gpu';

const BASE = 'http://models.test/options/';

// biome-ignore lint/suspicious/noExplicitAny: hostile callers pass anything
type J = any;

const CASES: Array<[string, J, J, new (...a: never[]) => Error]> = [
  ['texts null', null, { to: 'de' }, InvalidOptionError],
  ['a number among the texts', ['Open the file.', 3], { to: 'de' }, InvalidOptionError],
  ['null among the texts', [null], { to: 'de' }, InvalidOptionError],
  ['beam 0', ['x'], { to: 'de', beam: 0 }, InvalidOptionError],
  ['beam -1', ['x'], { to: 'de', beam: -1 }, InvalidOptionError],
  ['beam NaN', ['x'], { to: 'de', beam: Number.NaN }, InvalidOptionError],
  ['beam 1.5', ['x'], { to: 'de', beam: 1.5 }, InvalidOptionError],
  ['beam 9', ['x'], { to: 'de', beam: 9 }, InvalidOptionError],
  ['maxSteps 0', ['x'], { to: 'de', maxSteps: 0 }, InvalidOptionError],
  ['maxSteps -5', ['x'], { to: 'de', maxSteps: -5 }, InvalidOptionError],
  ['maxSteps NaN', ['x'], { to: 'de', maxSteps: Number.NaN }, InvalidOptionError],
  ['maxSteps 0.5', ['x'], { to: 'de', maxSteps: 0.5 }, InvalidOptionError],
  ['batchSize 0', ['x'], { to: 'de', batchSize: 0 }, InvalidOptionError],
  ['batchSize -3', ['x'], { to: 'de', batchSize: -3 }, InvalidOptionError],
  ['batchSize NaN', ['x'], { to: 'de', batchSize: Number.NaN }, InvalidOptionError],
  ['an oversize text', ['x'.repeat(TRANSLATE_LIMITS.charactersPerText + 1)], { to: 'de' }, LimitExceededError],
];

async function failure(p: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    await p();
  } catch (err) {
    return { err, ms: performance.now() - t0 };
  }
  return { err: undefined, ms: performance.now() - t0 };
}

describe('translate options at the library boundary', () => {
  let dir: string;
  let ctx: GpuContext;
  let local: LocalModel;
  const contexts: GpuContext[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'taskmoe-options-'));
    await extractModel(nodeFiles('test/fixtures/models/task_task'), dir, { tasks: ['de', 'fr'] });
    ctx = await testContext();
    local = await LocalModel.create(ctx, nodeFiles(dir));
  });
  afterAll(() => {
    local?.dispose();
    ctx?.dispose();
    for (const c of contexts) c.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(CASES)('InThreadTranslator: %s is a typed error before any download', async (_, texts, opts, cls) => {
    const requests: string[] = [];
    const t = await InThreadTranslator.create({
      model: `${BASE}manifest.json`,
      fetch: async (input) => {
        requests.push(String(input));
        return new Response(new Uint8Array(readFileSync(join(dir, String(input).slice(BASE.length)))));
      },
      cache: memoryCache(),
      createContext: async () => {
        const c = await testContext();
        contexts.push(c);
        return c;
      },
      warn: () => {},
    });
    try {
      const { err, ms } = await failure(() => t.translate(texts, opts));
      expect(err).toBeInstanceOf(cls);
      expect((err as { code: string }).code).toMatch(/^(invalid-option|limit-exceeded)$/);
      expect(ms).toBeLessThan(5000);
      expect(requests.map((u) => u.slice(BASE.length))).toEqual(['manifest.json']);
    } finally {
      await t.dispose();
    }
  });

  it.each(CASES)('LocalModel (the CLI engine): %s is a typed error', async (_, texts, opts, cls) => {
    const { err, ms } = await failure(() => local.translate(texts, opts));
    expect(err).toBeInstanceOf(cls);
    expect(ms).toBeLessThan(5000);
  });

  it('still translates with the documented options', async () => {
    const out = await local.translate(['Open the file.', ''], { to: 'de', beam: 2, batchSize: 1, maxSteps: 4 });
    expect(out).toHaveLength(2);
    expect(out[1]).toBe('');
  });
});
