// Seeded fuzz (issue 16): 100,000+ generated configs, manifests, option sets and file names through the validators
// and the path resolver. Each must be accepted with its invariants holding, or rejected with a typed taskmoe error
// (a class with a `code`); never a hang, a crash or an untyped error. Validators only: no GPU.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTranslateCall, TRANSLATE_LIMITS } from '../../src/engine/options';
import { TaskmoeError } from '../../src/errors';
import { parseModelConfig } from '../../src/model/config';
import { parseManifest } from '../../src/runtime/manifest';
import { fileNameProblem, resolveModelFile } from '../../src/runtime/paths';

const SEED = 0x7a5c_0e16;
/** Cases per surface: config.json (the slowest to check, ~100 tensors each) and the three others. */
const CONFIGS = 10_000;
const PER_SURFACE = 30_000;

/** mulberry32: a small seeded PRNG, so a failure names a case that reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// biome-ignore lint/suspicious/noExplicitAny: generated JSON of any shape
type J = any;

const NAMES = [
  '..',
  '.',
  '/',
  '\\',
  '%2e',
  '%2E%2e',
  '%2f',
  ':',
  'http:',
  'https://evil.example/',
  '//',
  '?',
  '#',
  'C:',
  'a',
  'b',
  'spm.model',
  'x.safetensors',
  '\u0000',
  '\u202e',
  '％２ｅ',
  'é',
  ' ',
  '~',
  'file:',
  '%00',
  'data:,',
];

function hostile(r: () => number, depth = 0): J {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  switch (Math.floor(r() * 14)) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return pick([0, -1, 1, 2, 3, 0.5, -0.5, 1e15, -1e15, 2 ** 31, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, -0]);
    case 3:
      return Math.floor(r() * 70_000) - 100;
    case 4:
      return pick(NAMES) + pick(NAMES) + pick(NAMES);
    case 5:
      return pick([true, false, '', 'de', 'F16', 'task', 'token', 'dense', 'taskmoe-manifest']);
    case 6:
      return depth < 3 ? Array.from({ length: Math.floor(r() * 4) }, () => hostile(r, depth + 1)) : [];
    case 7:
      return depth < 3
        ? { shape: hostile(r, depth + 1), dtype: hostile(r, depth + 1), shard: hostile(r, depth + 1) }
        : {};
    case 8:
      return 'x'.repeat(Math.floor(r() * 400));
    case 9:
      return { __proto__: null, toString: 1 };
    case 10:
      return [Math.floor(r() * 5), Math.floor(r() * 70)];
    case 11:
      return 'a'.repeat(64);
    case 12:
      return { file: hostile(r, depth + 1), bytes: hostile(r, depth + 1), sha256: 'a'.repeat(64) };
    default:
      return depth < 3 ? { de: hostile(r, depth + 1), fr: hostile(r, depth + 1) } : {};
  }
}

/** A deep copy of `base` with 1-4 fields (at any depth) replaced, deleted or added. */
function mutate(base: J, r: () => number): J {
  const out = structuredClone(base);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    let o = out;
    for (let d = 0; d < 4; d++) {
      const keys = Object.keys(o);
      if (keys.length === 0) break;
      const k = keys[Math.floor(r() * keys.length)] as string;
      const roll = r();
      if (d === 3 || roll < 0.35 || typeof o[k] !== 'object' || o[k] === null) {
        if (roll < 0.1) delete o[k];
        else o[k] = hostile(r);
        break;
      }
      o = o[k];
    }
    if (r() < 0.05) out[`extra_${i}`] = hostile(r);
  }
  return out;
}

/** Runs `fn`; passes when it returns or throws a typed taskmoe error, else fails naming the case. */
function typedOrOk<T>(what: string, i: number, input: unknown, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TaskmoeError && typeof e.code === 'string' && e.code.length > 0) return undefined;
    let shown: string;
    try {
      shown = JSON.stringify(input)?.slice(0, 400) ?? String(input);
    } catch {
      shown = String(input);
    }
    throw new Error(
      `${what} case ${i} (seed ${SEED}): untyped ${(e as Error)?.name}: ${(e as Error)?.message}\n${shown}`,
    );
  }
}

const CONFIG = JSON.parse(readFileSync('test/fixtures/models/token_task/config.json', 'utf8'));
const MANIFEST = {
  format: 'taskmoe-manifest',
  version: 1,
  model: 'm',
  extracted: true,
  config: { file: 'config.json', bytes: 10, sha256: 'a'.repeat(64) },
  tokenizer: { file: 'spm.model', bytes: 10, sha256: 'b'.repeat(64) },
  trunk: [{ file: 'trunk-000.safetensors', bytes: 10, sha256: 'c'.repeat(64) }],
  tasks: { de: { shards: [{ file: 'task-de.safetensors', bytes: 10, sha256: 'd'.repeat(64) }], bytes: 10 } },
  features: [],
  memory: { trunkBytes: 10, taskBytes: { de: 10 } },
};
const HTTP_BASE = new URL('https://cdn.example/models/m/');
const FILE_BASE = new URL('file:///srv/models/m/');
const OPTIONS = { texts: ['Open the file.', ''], opts: { to: 'de', beam: 2, batchSize: 16, maxSteps: 32 } };
/** Throws naming the case when an accepted input breaks an invariant (plain checks: expect() per case is slow). */
function check(ok: boolean, what: string, i: number): void {
  if (!ok) throw new Error(`${what} case ${i} (seed ${SEED}) was accepted but breaks an invariant`);
}

const BASES = ['https://cdn.example/models/m/', 'file:///srv/models/m/', 'http://localhost:8080/a/b/manifest.json'];

describe(`validators and path resolver under ${CONFIGS + 3 * PER_SURFACE} generated inputs (seed ${SEED})`, () => {
  it('config.json: accepted with its invariants, or a typed error', () => {
    const r = rng(SEED);
    let accepted = 0;
    for (let i = 0; i < CONFIGS; i++) {
      const input = mutate(CONFIG, r);
      const cfg = typedOrOk('config', i, input, () => parseModelConfig(input));
      if (!cfg) continue;
      accepted++;
      check(cfg.maxLen >= 3 && cfg.eosId < cfg.vocabSize && cfg.bosId < cfg.vocabSize, 'config', i);
      for (const f of [cfg.tokenizer, ...cfg.shards, ...Object.values(cfg.taskShards ?? {})]) {
        check(
          fileNameProblem(f) === null && resolveModelFile(FILE_BASE, f).href.startsWith(FILE_BASE.href),
          'config',
          i,
        );
      }
    }
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(CONFIGS);
  });

  it('manifest.json: accepted with its invariants, or a typed error', () => {
    const r = rng(SEED + 1);
    let accepted = 0;
    for (let i = 0; i < PER_SURFACE; i++) {
      const input = mutate(MANIFEST, r);
      const m = typedOrOk('manifest', i, input, () => parseManifest(input));
      if (!m) continue;
      accepted++;
      for (const f of [m.config, m.tokenizer, ...m.trunk, ...Object.values(m.tasks).flatMap((t) => t.shards)]) {
        check(Number.isSafeInteger(f.bytes) && f.bytes >= 0 && f.bytes < 2 ** 31, 'manifest', i);
        check(resolveModelFile(HTTP_BASE, f.file).href.startsWith(HTTP_BASE.href), 'manifest', i);
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });

  it('translate options and texts: accepted within the limits, or a typed error', () => {
    const r = rng(SEED + 2);
    let accepted = 0;
    for (let i = 0; i < PER_SURFACE; i++) {
      const input = mutate(OPTIONS, r);
      const ok = typedOrOk('options', i, input, () => {
        checkTranslateCall(input.texts, input.opts);
        return true;
      });
      if (!ok) continue;
      accepted++;
      const beam = input.opts.beam ?? 1;
      check(Number.isInteger(beam) && beam >= 1 && beam <= TRANSLATE_LIMITS.beam, 'options', i);
      check(
        input.texts.every((t: unknown) => typeof t === 'string'),
        'options',
        i,
      );
    }
    expect(accepted).toBeGreaterThan(0);
  });

  it('file names: resolved inside the base, or UnsafePathError', () => {
    const r = rng(SEED + 3);
    let accepted = 0;
    for (let i = 0; i < PER_SURFACE; i++) {
      const parts = Math.floor(r() * 6);
      let name = '';
      for (let k = 0; k < parts; k++) name += NAMES[Math.floor(r() * NAMES.length)];
      const base = new URL(BASES[i % BASES.length] as string);
      const folder = base.href.slice(0, base.href.lastIndexOf('/') + 1);
      const url = typedOrOk('path', i, { base: base.href, name }, () => resolveModelFile(base, name));
      if (!url) continue;
      accepted++;
      check(url.origin === base.origin && url.href.startsWith(folder) && url.href.length > folder.length, 'path', i);
      check(!url.pathname.split('/').includes('..'), 'path', i);
    }
    expect(accepted).toBeGreaterThan(0);
  });
});
