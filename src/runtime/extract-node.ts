// `taskmoe extract` (Node): reads a model folder, writes the extracted sub-networks: shared trunk shards, one small
// shard per task, config.json and a manifest with every file's bytes and sha256.

import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelFormatError } from '../errors';
import type { HostTensor } from '../model/weight-store';
import { extractTask, isTaskRoutedTensor, taskGates, taskRoutedLayers } from './extract';
import { checkShardIndex, readConfig, shardIndex } from './load-model';
import type { Manifest, ManifestFile } from './manifest';
import type { ModelFiles } from './model-files';
import { parseSafetensors, writeSafetensors } from './safetensors';

const SHARD_BYTES = 45 * 1024 * 1024;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function toSafetensors(t: HostTensor): { dtype: 'F16' | 'F32'; shape: number[]; data: Uint8Array } {
  return {
    dtype: t.dtype === 'f16' ? 'F16' : 'F32',
    shape: [...t.shape],
    data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  };
}

/** Options of {@link extractModel}. */
export interface ExtractOptions {
  /** Languages to extract (default: all of the model's). */
  tasks?: string[];
}

/** What {@link extractModel} wrote. */
export interface ExtractResult {
  manifest: Manifest;
  outDir: string;
}

/**
 * Extracts the per-task dense sub-networks of a model with task-routed layers into `outDir`. The trunk keeps
 * embeddings, attention, dense FFNs and any token-routed MoE layers; each task's shard holds only its folded experts.
 */
export async function extractModel(
  files: ModelFiles,
  outDir: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  const cfg = await readConfig(files);
  const layers = taskRoutedLayers(cfg);
  if (layers.length === 0) {
    throw new ModelFormatError(
      `model "${cfg.variant}" has no task-routed MoE layer, so there is nothing to extract`,
      'Extract a model whose encoder or decoder routes by task (task_task, token_task).',
    );
  }
  const tasks = opts.tasks ?? cfg.languages;
  for (const t of tasks) {
    if (!cfg.languages.includes(t)) {
      throw new ModelFormatError(
        `language "${t}" is not one of the model's (${cfg.languages.join(', ')})`,
        'Pick languages from that list.',
      );
    }
  }
  const all = new Map<string, HostTensor>();
  for (const shard of cfg.shards) {
    const file = parseSafetensors(await files.read(shard), { name: shard });
    checkShardIndex(file, shard, shardIndex(cfg, shard));
    for (const [name, info] of file.tensors) {
      all.set(
        name,
        info.dtype === 'F16'
          ? { shape: info.shape, dtype: 'f16', data: file.f16Bits(name) }
          : { shape: info.shape, dtype: 'f32', data: file.f32(name) },
      );
    }
  }
  const read = (name: string): HostTensor => {
    const t = all.get(name);
    if (!t) throw new ModelFormatError(`the model has no tensor "${name}"`);
    return t;
  };
  await mkdir(outDir, { recursive: true });
  const writeFileEntry = async (name: string, bytes: Uint8Array): Promise<ManifestFile> => {
    await writeFile(join(outDir, name), bytes);
    return { file: name, bytes: bytes.byteLength, sha256: sha256(bytes) };
  };
  // Trunk shards.
  const trunkTensors: Record<string, { shape: number[]; dtype: 'F16' | 'F32'; shard: string }> = {};
  const trunk: ManifestFile[] = [];
  let cur: Record<string, ReturnType<typeof toSafetensors>> = {};
  let size = 0;
  const flush = async (): Promise<void> => {
    if (Object.keys(cur).length === 0) return;
    const name = `trunk-${String(trunk.length).padStart(3, '0')}.safetensors`;
    for (const [k, v] of Object.entries(cur)) trunkTensors[k] = { shape: v.shape, dtype: v.dtype, shard: name };
    trunk.push(await writeFileEntry(name, writeSafetensors(cur, { format: 'taskmoe', part: 'trunk' })));
    cur = {};
    size = 0;
  };
  for (const [name, t] of all) {
    if (isTaskRoutedTensor(cfg, name)) continue;
    const st = toSafetensors(t);
    if (size > 0 && size + st.data.byteLength > SHARD_BYTES) await flush();
    cur[name] = st;
    size += st.data.byteLength;
  }
  await flush();
  // One shard per task.
  const taskEntries: Manifest['tasks'] = {};
  const taskShards: Record<string, string> = {};
  const taskGatesOut: Record<string, ReturnType<typeof taskGates>> = {};
  let taskTensors: Record<string, { shape: number[]; dtype: 'F16' | 'F32' }> = {};
  for (const lang of tasks) {
    const tensors = extractTask(cfg, read, lang);
    const st = Object.fromEntries([...tensors].map(([k, v]) => [k, toSafetensors(v)]));
    taskTensors = Object.fromEntries(Object.entries(st).map(([k, v]) => [k, { shape: v.shape, dtype: v.dtype }]));
    const name = `task-${lang}.safetensors`;
    const entry = await writeFileEntry(name, writeSafetensors(st, { format: 'taskmoe', part: `task ${lang}` }));
    taskEntries[lang] = { shards: [entry], bytes: entry.bytes };
    taskShards[lang] = name;
    taskGatesOut[lang] = taskGates(cfg, read, lang);
  }
  // config.json: the source config with the trunk's tensor index and the per-task shards.
  const srcConfig = JSON.parse(new TextDecoder().decode(await files.read('config.json'))) as Record<string, unknown>;
  const config = {
    ...srcConfig,
    variant: `${cfg.variant}-extracted`,
    extracted_from: cfg.variant,
    languages: tasks,
    lang_tag_ids: Object.fromEntries(tasks.map((l) => [l, cfg.langTagIds[l]])),
    task_ids: Object.fromEntries(tasks.map((l) => [l, cfg.languages.indexOf(l)])),
    shards: trunk.map((f) => f.file),
    tensors: trunkTensors,
    task_shards: taskShards,
    task_tensors: taskTensors,
    task_gates: taskGatesOut,
  };
  const configEntry = await writeFileEntry(
    'config.json',
    new TextEncoder().encode(`${JSON.stringify(config, null, 1)}\n`),
  );
  const tokenizerEntry = await writeFileEntry(cfg.tokenizer, await files.read(cfg.tokenizer));
  const trunkBytes = trunk.reduce((n, f) => n + f.bytes, 0);
  const manifest: Manifest = {
    format: 'taskmoe-manifest',
    version: 1,
    model: config.variant,
    extracted: true,
    config: configEntry,
    tokenizer: tokenizerEntry,
    trunk,
    tasks: taskEntries,
    features: [],
    memory: { trunkBytes, taskBytes: Object.fromEntries(Object.entries(taskEntries).map(([l, t]) => [l, t.bytes])) },
  };
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return { manifest, outDir };
}

/** Writes manifest.json for an unextracted model folder (every shard in the trunk). */
export async function writeManifest(dir: string): Promise<Manifest> {
  const { nodeFiles } = await import('./node-files');
  const cfg = await readConfig(nodeFiles(dir));
  const entry = async (file: string): Promise<ManifestFile> => {
    const bytes = new Uint8Array(await readFile(join(dir, file)));
    return { file, bytes: bytes.byteLength, sha256: sha256(bytes) };
  };
  const trunk = await Promise.all(cfg.shards.map(entry));
  const manifest: Manifest = {
    format: 'taskmoe-manifest',
    version: 1,
    model: cfg.variant,
    extracted: false,
    config: await entry('config.json'),
    tokenizer: await entry(cfg.tokenizer),
    trunk,
    tasks: Object.fromEntries(cfg.languages.map((l) => [l, { shards: [], bytes: 0 }])),
    features: [],
    memory: { trunkBytes: trunk.reduce((n, f) => n + f.bytes, 0), taskBytes: {} },
  };
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}
