// What every GPU command shares: one GPU context through Dawn, a model folder checked before any weight is read,
// and errors that name the file they are about.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveLanguage } from '../engine/languages';
import { LocalModel } from '../engine/local-model';
import { IntegrityError, ManifestError, ModelNotFoundError, UnknownLanguageError } from '../errors';
import { createGpuContext, type GpuContext, TaskmoeError } from '../gpu';
import { nodeGpu } from '../gpu/node';
import type { ModelConfig } from '../model/config';
import { readConfig } from '../runtime/load-model';
import { findFile, MAX_MANIFEST_BYTES, type Manifest, parseManifest } from '../runtime/manifest';
import type { ModelFiles } from '../runtime/model-files';
import { resolveModelLocation } from '../runtime/model-source';
import { nodeFiles, readRegularFile } from '../runtime/node-files';
import { memoryCache, ShardLoader, sha256Hex } from '../runtime/shard-loader';

/** The GPU context of this process, created on first use; {@link disposeGpu} releases it. */
let gpuContext: GpuContext | null = null;

/** The process's GPU context (WebGPU through Dawn), created once. */
export async function gpu(): Promise<GpuContext> {
  gpuContext ??= await createGpuContext({ gpu: await nodeGpu() });
  return gpuContext;
}

/** Disposes the GPU context if one was created. */
export function disposeGpu(): void {
  gpuContext?.dispose();
  gpuContext = null;
}

/** A model folder's files; the last path read is kept, so a malformed file can be named in the error. */
export interface TrackedFiles extends ModelFiles {
  readonly lastPath: string | null;
}

/**
 * The files of the model `spec` names, as the library takes it: a model folder or its manifest.json, as a path or
 * file:// URL (read from disk; an export without manifest.json too), or an http(s) URL (read through the manifest,
 * each file verified against its sha256). Throws {@link ModelNotFoundError} if a local model is not a folder.
 */
export function modelFolder(spec: string): TrackedFiles {
  const where = resolveModelLocation(spec);
  if (!where.local) return remoteModel(where.manifestUrl, where.baseUrl);
  const root = fileURLToPath(where.baseUrl).replace(/(.)[\\/]+$/, '$1');
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) {
    const err = new ModelNotFoundError(root);
    err.message = `Model folder "${root}" does not exist. Pass --model a folder with config.json, spm.model and weights-*.safetensors (e.g. models/task_task), its manifest.json, or an http(s) URL of one.`;
    throw err;
  }
  return tracked(verifiedFolder(root), (path) => join(root, path));
}

/**
 * A model folder on disk; where it holds a manifest.json, every file read is checked against it first (listed, its
 * size and sha256), as the library checks downloads: a damaged or swapped shard fails with `IntegrityError`.
 */
function verifiedFolder(root: string): ModelFiles {
  const files = nodeFiles(root);
  let manifest: Promise<Manifest | null> | null = null;
  const readManifest = async (): Promise<Manifest | null> => {
    const path = join(root, 'manifest.json');
    if (!existsSync(path)) return null;
    const bytes = await readRegularFile(path, { root, maxBytes: MAX_MANIFEST_BYTES, field: 'manifest.json' });
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new ManifestError(`${path} is not valid JSON`);
    }
    return parseManifest(json);
  };
  return {
    location: files.location,
    async read(path, opts) {
      manifest ??= readManifest();
      const m = await manifest;
      if (!m) return files.read(path, opts);
      const entry = findFile(m, path);
      if (!entry) throw new ModelNotFoundError(`${join(root, path)} (not listed in ${join(root, 'manifest.json')})`);
      const bytes = await files.read(path, opts);
      const sha256 = await sha256Hex(bytes);
      if (bytes.byteLength !== entry.bytes || sha256 !== entry.sha256) {
        throw new IntegrityError(join(root, path), entry, { bytes: bytes.byteLength, sha256 }, true);
      }
      return bytes;
    },
  };
}

/** Files whose last path read is remembered, for error messages. */
function tracked(files: ModelFiles, fullPath: (path: string) => string): TrackedFiles {
  let lastPath: string | null = null;
  return {
    location: files.location,
    get lastPath() {
      return lastPath;
    },
    read(path, opts) {
      lastPath = fullPath(path);
      return files.read(path, opts);
    },
  };
}

/** A model served over http(s): its manifest is read on first use, and every file is verified against it. */
function remoteModel(manifestUrl: string, baseUrl: string): TrackedFiles {
  const loader = new ShardLoader({ baseUrl, cache: memoryCache() });
  let manifest: Promise<Manifest> | null = null;
  const files: ModelFiles = {
    location: baseUrl,
    async read(path, opts) {
      manifest ??= loader.json(manifestUrl).then(parseManifest);
      const entry = findFile(await manifest, path);
      if (!entry) throw new ModelNotFoundError(`${loader.url(path)} (not listed in ${manifestUrl})`);
      return loader.load(entry, opts?.signal ? { signal: opts.signal } : {});
    },
  };
  return tracked(files, (path) => loader.url(path));
}

/**
 * Rethrows a malformed-file error naming the file by its full path, and saying what to do where the message does not.
 */
function nameFile(e: unknown, files: TrackedFiles): never {
  if (e instanceof TaskmoeError && e.code === 'malformed-model' && files.lastPath) {
    const path = files.lastPath;
    const name = path.slice(path.lastIndexOf('/') + 1);
    let msg = e.message.replace(/^safetensors file: /, '');
    if (msg.startsWith(`${name}: `)) msg = msg.slice(name.length + 2);
    const named = msg.includes(path) || (msg.includes(files.location) && msg.includes(name));
    if (!named) msg = `${path}: ${msg}`;
    if (!/re-?(export|download|run)/i.test(msg)) {
      msg = `${msg.replace(/\.?$/, '.')} The model's files are damaged or do not belong together; re-download or re-export the model.`;
    }
    e.message = msg;
  }
  throw e;
}

/**
 * Reads config.json and checks that the model translates into each of `to`, before the GPU is touched. Tags are BCP 47,
 * matched like the library does (`DE`, `pt-BR`, `zh-Hans`: {@link resolveLanguage}); `languages` are the model's own
 * tags for them, in order.
 */
export async function checkModel(
  files: TrackedFiles,
  to: readonly string[],
): Promise<{ cfg: ModelConfig; languages: string[] }> {
  let cfg: ModelConfig;
  try {
    cfg = await readConfig(files);
  } catch (e) {
    nameFile(e, files);
  }
  const languages = to.map((tag) => {
    const lang = resolveLanguage(tag, cfg.languages);
    if (lang === undefined) throw new UnknownLanguageError(tag, cfg.languages);
    return lang;
  });
  return { cfg, languages };
}

/**
 * Loads the model `dir` names (see {@link modelFolder}) for translation into `to` (checked first, a BCP 47 tag) on the
 * process's GPU context; `to` is returned as the model names the language.
 */
export async function openLocalModel(dir: string, to: string): Promise<{ model: LocalModel; to: string }> {
  const files = modelFolder(dir);
  const { languages } = await checkModel(files, [to]);
  const ctx = await gpu();
  try {
    return { model: await LocalModel.create(ctx, files), to: languages[0] as string };
  } catch (e) {
    nameFile(e, files);
  }
}
