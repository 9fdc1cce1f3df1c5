// Task sub-network extraction: the extracted model (trunk + one shard per task) computes what the task-routed model
// computes, and translating one language reads only that language's shard.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalModel } from '../../src/engine/local-model';
import { ModelFormatError } from '../../src/errors';
import type { GpuContext } from '../../src/gpu';
import { extractModel } from '../../src/runtime/extract-node';
import { parseManifest } from '../../src/runtime/manifest';
import type { ModelFiles } from '../../src/runtime/model-files';
import { nodeFiles } from '../../src/runtime/node-files';
import { relErr } from '../reference/compare';
import { testContext } from '../setup/gpu';

/** Records which files were read. */
function spyFiles(files: ModelFiles): ModelFiles & { reads: string[] } {
  const reads: string[] = [];
  return {
    location: files.location,
    reads,
    read: (p, o) => {
      reads.push(p);
      return files.read(p, o);
    },
  };
}

const LINES = (lang: string): string[] =>
  ['dev', 'test.lohelp', 'test.wesnoth'].flatMap((s) =>
    readFileSync(`training/fixtures/${lang}/${s}.src`, 'utf8').split('\n').filter(Boolean),
  );

for (const variant of ['task_task', 'token_task']) {
  describe(`extraction of ${variant}`, () => {
    let ctx: GpuContext;
    let out: string;
    let full: LocalModel;
    let ext: LocalModel;
    let files: ReturnType<typeof spyFiles>;
    const src = join('test/fixtures/models', variant);
    beforeAll(async () => {
      out = mkdtempSync(join(tmpdir(), `taskmoe-extract-${variant}-`));
      await extractModel(nodeFiles(src), out);
      ctx = await testContext();
      full = await LocalModel.create(ctx, nodeFiles(src));
      files = spyFiles(nodeFiles(out));
      ext = await LocalModel.create(ctx, files);
    });
    afterAll(() => {
      full?.dispose();
      ext?.dispose();
      ctx?.dispose();
      rmSync(out, { recursive: true, force: true });
    });

    it('writes a manifest whose sizes and sha256 match the files, with a small shard per task', () => {
      const m = parseManifest(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')));
      expect(m.extracted).toBe(true);
      expect(Object.keys(m.tasks)).toEqual(full.languages());
      for (const f of [m.config, m.tokenizer, ...m.trunk, ...Object.values(m.tasks).flatMap((t) => t.shards)]) {
        const bytes = readFileSync(join(out, f.file));
        expect(bytes.byteLength).toBe(f.bytes);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
      }
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      // The trunk holds no task-routed expert; the hybrid keeps its token-routed encoder experts.
      const names = Object.keys(cfg.tensors);
      expect(names.some((n) => n.startsWith('decoder.') && n.includes('.moe.'))).toBe(false);
      expect(names.some((n) => n.startsWith('encoder.') && n.includes('.moe.'))).toBe(variant === 'token_task');
      for (const t of Object.values(m.tasks)) expect(t.bytes).toBeLessThan(m.memory.trunkBytes);
    });

    it('computes the same encoder output and logits as the task-routed model', async () => {
      const meta = JSON.parse(readFileSync(join(src, 'goldens.json'), 'utf8')) as {
        cases: Array<{ name: string; lang: string; task_id: number; src_ids: number[] }>;
      };
      for (const c of meta.cases) {
        const got: Array<Float32Array> = [];
        for (const tr of [full, ext]) {
          await tr.load(c.lang);
          const m = tr.loaded.model;
          const w = tr.weightsFor(c.lang);
          const batch = tr.makeBatch([c.src_ids], c.task_id);
          const rec = ctx.recorder();
          const enc = m.encode(rec, w, batch);
          const state = m.startDecoder(rec, w, enc, batch.lengths, ctx.upload([c.task_id], [1], 'u32'), 1);
          const bos = ctx.upload([tr.loaded.cfg.bosId], [1], 'u32');
          const logits = m.decodeStep(rec, w, state, bos);
          rec.submit();
          got.push((await ctx.read(enc)) as Float32Array, (await ctx.read(logits)) as Float32Array);
          for (const t of [enc, logits, bos, batch.ids, batch.tokenTasks]) t.dispose();
          state.dispose();
        }
        expect(relErr(got[2] as Float32Array, got[0] as Float32Array), `${c.name} encoder`).toBeLessThanOrEqual(1e-5);
        expect(relErr(got[3] as Float32Array, got[1] as Float32Array), `${c.name} logits`).toBeLessThanOrEqual(1e-5);
      }
    });

    it('translates the fixture test sets exactly like the task-routed model, reading only that task shard', async () => {
      ext.unload('de');
      ext.unload('es');
      files.reads.length = 0;
      for (const lang of ['es', 'de']) {
        const lines = LINES(lang);
        const a = await full.translate(lines, { to: lang, maxSteps: 24 });
        const b = await ext.translate(lines, { to: lang, maxSteps: 24 });
        expect(b).toEqual(a);
      }
      expect(files.reads).toEqual(['task-es.safetensors', 'task-de.safetensors']);
    });
  });
}

describe('extraction of a model without task routing', () => {
  it('fails with a typed error', async () => {
    const out = mkdtempSync(join(tmpdir(), 'taskmoe-extract-dense-'));
    try {
      await expect(extractModel(nodeFiles('test/fixtures/models/dense_dense'), out)).rejects.toThrow(ModelFormatError);
      await expect(extractModel(nodeFiles('test/fixtures/models/task_task'), out, { tasks: ['xx'] })).rejects.toThrow(
        /xx/,
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
