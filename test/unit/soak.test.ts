// Soak (issue 16 finding 5): loading, unloading and evicting languages 500 times and translating 1,000 times on Dawn
// leaves RSS and the engine's GPU bytes within 10 % of the baseline. Dawn frees destroyed buffers only as queue work
// completes; without the engine awaiting it, each load/unload cycle kept ~16 MB of native memory.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomModel } from '../../bench/random-model';
import { InThreadTranslator } from '../../src/engine/inthread-translator';
import type { GpuContext } from '../../src/gpu';
import { extractModel } from '../../src/runtime/extract-node';
import type { Manifest } from '../../src/runtime/manifest';
import { nodeFiles } from '../../src/runtime/node-files';
import { memoryCache } from '../../src/runtime/shard-loader';
import { testContext } from '../setup/gpu';

const BASE = 'http://models.test/soak/';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function rss(): Promise<number> {
  gc();
  await new Promise((r) => setTimeout(r, 200));
  gc();
  return process.memoryUsage().rss;
}

describe('soak: load/unload/evict 500 times, translate 1,000 times (Dawn)', () => {
  let dir: string;
  let manifest: Manifest;
  const contexts: GpuContext[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'taskmoe-soak-'));
    manifest = (await extractModel(nodeFiles('test/fixtures/models/task_task'), dir)).manifest;
  });
  afterAll(() => {
    for (const c of contexts) c.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns RSS and GPU bytes to within 10 % of the baseline', async () => {
    const fetchImpl: typeof fetch = async (input) =>
      new Response(new Uint8Array(readFileSync(join(dir, String(input).slice(BASE.length)))));
    const langs = Object.keys(manifest.tasks);
    const one = manifest.tasks.de?.bytes ?? 0;
    // Room for the trunk's weights and two languages: loading a third evicts the least recently used.
    const memoryBudget = manifest.memory.trunkBytes + Math.round(1.5 * one);
    const t = await InThreadTranslator.create({
      model: `${BASE}manifest.json`,
      fetch: fetchImpl,
      cache: memoryCache(),
      createContext: async () => {
        const c = await testContext();
        contexts.push(c);
        return c;
      },
      memoryBudget,
      warn: () => {},
    });
    const texts = ['Open the file.', 'Save the document before you close the window.'];
    let cycles = 0;
    let translations = 0;
    // One cycle: load a language (evicting the least recently used past the budget), unload every third. A round of
    // 24 cycles (8 languages x 3) ends in the same residency as it started, so measurements compare like with like.
    const round = async (n: number, translate: boolean): Promise<void> => {
      for (let i = 0; i < n; i++, cycles++) {
        const lang = langs[cycles % langs.length] as string;
        await t.load(lang);
        if (translate) {
          for (let k = 0; k < 2; k++, translations++) await t.translate(texts, { to: lang, maxSteps: 3 });
        }
        if (cycles % 3 === 0) await t.unload(lang);
      }
    };
    const measure = async (): Promise<{ rss: number; gpu: number }> => ({
      rss: await rss(),
      gpu: (await t.stats()).bytesAllocated as number,
    });
    // Warm-up until the process's memory reaches its steady state (pipelines compiled, pool size classes filled,
    // caches full, the allocators' arenas grown: RSS climbs ~50 MiB in the first few hundred cycles, then plateaus).
    await round(504, false);
    await round(240, true);
    const base = await measure();
    const t0 = performance.now();
    await round(504, false); // load/unload/evict only, the case that leaked
    const afterLoads = await measure();
    await round(504, true); // 1,008 translations
    const afterTranslations = await measure();
    const stats = await t.stats();
    const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
    console.log(
      `[soak] ${cycles} load cycles, ${translations} translations, ${stats.evictions} evictions in ${((performance.now() - t0) / 1000).toFixed(1)} s; RSS ${mib(base.rss)} -> ${mib(afterLoads.rss)} -> ${mib(afterTranslations.rss)} MiB; GPU bytes ${base.gpu} -> ${afterLoads.gpu} -> ${afterTranslations.gpu}`,
    );
    expect(translations).toBeGreaterThanOrEqual(1000);
    expect(stats.evictions).toBeGreaterThan(300);
    for (const m of [afterLoads, afterTranslations]) {
      // Growth is what a leak looks like; RSS falling below the baseline (arenas trimmed) is memory returned.
      expect(m.rss - base.rss).toBeLessThanOrEqual(0.1 * base.rss);
      expect(Math.abs(m.gpu - base.gpu)).toBeLessThanOrEqual(0.1 * base.gpu);
    }
    await t.dispose();
  }, 600_000);

  it('frees each unloaded or evicted shard at once (2 MiB task shards, 200 cycles without translating)', async () => {
    // The fixture's shards are a few KiB, too small to show the leak; a random model with task shards the size of
    // a small real model's does (without awaiting the queue, RSS grew by about twice a shard per cycle).
    const src = join(dir, 'random');
    const out = join(dir, 'random-extracted');
    writeRandomModel(src, {
      variant: 'task_task',
      dModel: 256,
      nHeads: 4,
      dFF: 512,
      encLayers: 2,
      decLayers: 2,
      nExperts: 4,
      encRouting: 'task',
      decRouting: 'task',
      tokenizer: 'models/task_task/spm.model',
      languages: ['de', 'fr', 'es'],
      maxLen: 32,
    });
    const m = (await extractModel(nodeFiles(src), out)).manifest;
    const shard = m.tasks.de?.bytes ?? 0;
    expect(shard).toBeGreaterThan(2 * 2 ** 20);
    const t = await InThreadTranslator.create({
      model: 'http://models.test/random/manifest.json',
      fetch: async (input) =>
        new Response(new Uint8Array(readFileSync(join(out, String(input).slice('http://models.test/random/'.length))))),
      cache: memoryCache(),
      createContext: async () => {
        const c = await testContext();
        contexts.push(c);
        return c;
      },
      memoryBudget: m.memory.trunkBytes + Math.round(1.5 * shard),
      warn: () => {},
    });
    const langs = ['de', 'fr', 'es'];
    const cycles = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        await t.load(langs[i % 3] as string); // evicts the previous language
        if (i % 6 === 5) await t.unload(langs[i % 3] as string);
      }
    };
    await cycles(60);
    const base = { rss: await rss(), gpu: (await t.stats()).bytesAllocated as number };
    await cycles(198);
    const end = { rss: await rss(), gpu: (await t.stats()).bytesAllocated as number };
    const stats = await t.stats();
    console.log(
      `[soak] 2 MiB shards: ${stats.evictions} evictions; RSS ${(base.rss / 2 ** 20).toFixed(1)} -> ${(end.rss / 2 ** 20).toFixed(1)} MiB; GPU bytes ${base.gpu} -> ${end.gpu}`,
    );
    expect(stats.evictions).toBeGreaterThan(150);
    expect(end.rss - base.rss).toBeLessThanOrEqual(0.1 * base.rss);
    expect(end.gpu).toBe(base.gpu);
    await t.dispose();
  }, 600_000);
});
