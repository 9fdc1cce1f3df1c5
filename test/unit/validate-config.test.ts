// config.json at the boundary: one declaration (model/config.ts), typed errors naming the field, values checked
// against the tensor index, file names contained. Findings of issue 16: 1 (max_len 2), 3 (tokenizer path), 11.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelFormatError, UnsafePathError } from '../../src/errors';
import { parseModelConfig } from '../../src/model/config';

// biome-ignore lint/suspicious/noExplicitAny: tests mutate parsed JSON freely
type J = any;

const FIXTURES = ['dense_dense', 'task_task', 'token_task', 'token_token'];
const raw = (m: string, root = 'test/fixtures/models'): Record<string, unknown> =>
  JSON.parse(readFileSync(`${root}/${m}/config.json`, 'utf8'));

function mutate(m: string, f: (c: J) => void): Record<string, unknown> {
  const c = raw(m) as J;
  f(c);
  return c;
}

describe('config.json validation', () => {
  it('accepts every fixture model and the shipped models', () => {
    for (const m of FIXTURES) expect(parseModelConfig(raw(m)).variant).toBe(m);
    for (const m of ['task_task', 'token_task']) expect(parseModelConfig(raw(m, 'models')).dModel).toBe(256);
  });

  it.each([
    ['max_len 2 (finding 1: segment looped on i += 0)', (c: J) => (c.max_len = 2), /max_len/],
    ['max_len 0', (c: J) => (c.max_len = 0), /max_len/],
    ['max_len 1e9', (c: J) => (c.max_len = 1e9), /max_len/],
    ['a tensor entry null', (c: J) => (c.tensors['embed.weight'] = null), /tensors\.embed\.weight/],
    ['n_experts disagreeing with the weights', (c: J) => (c.n_experts = 8), /moe\.wi.*expected \[8/],
    ['d_ff disagreeing with the weights', (c: J) => (c.d_ff = 128), /d_ff 128|expected \[128/],
    ['vocab_size disagreeing with the embedding', (c: J) => (c.vocab_size = 900), /embed\.weight/],
    ['routing disagreeing with the weights', (c: J) => (c.enc_routing = 'token'), /gate\.weight/],
    ['dense routing with MoE layers', (c: J) => (c.dec_routing = 'dense'), /dense/],
    ['bos_id past the vocabulary', (c: J) => (c.bos_id = 1000), /bos_id/],
    ['eos_id past the vocabulary', (c: J) => (c.eos_id = 5000), /eos_id/],
    ['a negative pad_id', (c: J) => (c.pad_id = -1), /pad_id/],
    ['a NaN-like ln_eps', (c: J) => (c.ln_eps = 'x'), /ln_eps/],
    ['a layer past enc_layers', (c: J) => (c.enc_layers = 1), /past|enc_layers/],
    ['languages null', (c: J) => (c.languages = null), /languages/],
    ['a language twice', (c: J) => c.languages.push('de'), /twice/],
    ['d_model not divisible by n_heads', (c: J) => (c.n_heads = 3), /divisible/],
    ['a shape with a negative dimension', (c: J) => (c.tensors['embed.weight'].shape = [-1, 32]), /shape/],
  ])('rejects %s with ModelFormatError naming the field', (_, f, re) => {
    const t0 = performance.now();
    let err: unknown;
    try {
      parseModelConfig(mutate('task_task', f));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as ModelFormatError).code).toBe('malformed-model');
    expect((err as Error).message).toMatch(/config\.json/);
    expect((err as Error).message).toMatch(re);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it.each([
    ['../../dev/zero'],
    ['/etc/passwd'],
    ['%2e%2e/%2e%2e/other/spm.model'],
    ['https://other.host/spm.model'],
    ['\\\\other.host\\share\\spm.model'],
    ['file:///etc/passwd'],
    ['C:/Windows/spm.model'],
    ['./spm.model'],
    [''],
  ])('rejects the tokenizer name %j with UnsafePathError (finding 3)', (name) => {
    const c = mutate('task_task', (x: J) => (x.tokenizer = name));
    expect(() => parseModelConfig(c)).toThrow(UnsafePathError);
    try {
      parseModelConfig(c);
    } catch (e) {
      expect((e as UnsafePathError).code).toBe('unsafe-path');
      expect((e as UnsafePathError).field).toBe('tokenizer');
      expect((e as UnsafePathError).file).toBe('config.json');
    }
  });

  it('accepts dense FFNs up to top_k x d_ff wide (a dense model of an MoE model active size), not wider', () => {
    const wide = (w: number): J => {
      const c = raw('dense_dense') as J;
      c.tensors['encoder.layers.1.ffn.wi.weight'].shape = [w, 32];
      c.tensors['encoder.layers.1.ffn.wo.weight'].shape = [32, w];
      return c;
    };
    expect(parseModelConfig(wide(128)).dFF).toBe(64);
    expect(() => parseModelConfig(wide(192))).toThrow(/ffn\.wi\.weight/);
    expect(() => parseModelConfig(wide(96))).toThrow(ModelFormatError);
  });

  it('rejects escaping shard and task shard names', () => {
    expect(() => parseModelConfig(mutate('task_task', (c: J) => (c.shards = ['%2e%2e/x.safetensors'])))).toThrow(
      UnsafePathError,
    );
    const ext = mutate('task_task', (c: J) => {
      c.task_shards = Object.fromEntries(c.languages.map((l: string) => [l, `task-${l}.safetensors`]));
      c.task_shards.de = 'https://evil.example/task-de.safetensors';
    });
    expect(() => parseModelConfig(ext)).toThrow(/task_shards\.de/);
  });
});

describe('extracted config.json', () => {
  it('an extracted model passes the tensor checks (task tensors [top_k * d_ff, d_model])', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { extractModel } = await import('../../src/runtime/extract-node');
    const { nodeFiles } = await import('../../src/runtime/node-files');
    for (const m of ['task_task', 'token_task']) {
      const out = await mkdtemp(join(tmpdir(), 'taskmoe-cfg-'));
      try {
        await extractModel(nodeFiles(`test/fixtures/models/${m}`), out, { tasks: ['de', 'fr'] });
        const cfg = parseModelConfig(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')));
        expect(cfg.taskShards?.de).toBe('task-de.safetensors');
        const bad = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
        bad.d_ff = 32;
        expect(() => parseModelConfig(bad)).toThrow(ModelFormatError);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    }
  });
});
