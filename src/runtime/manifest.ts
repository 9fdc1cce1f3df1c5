import { TaskmoeError } from '../gpu/errors';

/** One file of a model with its size and digest. */
export interface ManifestFile {
  file: string;
  bytes: number;
  sha256: string;
}

/**
 * A model record (manifest.json): every file with its bytes and sha256, which files every language needs, and what a
 * language adds to the first. Files are verified against it before they reach the GPU.
 */
export interface Manifest {
  format: 'taskmoe-manifest';
  version: 1;
  /** Model variant, e.g. "task_task-extracted". */
  model: string;
  /** True when the model is split into a shared trunk and one shard per task. */
  extracted: boolean;
  config: ManifestFile;
  tokenizer: ManifestFile;
  /** Shards every language needs. */
  trunk: ManifestFile[];
  /** Per language: its own shards (empty for an unextracted model) and the bytes they add. */
  tasks: Record<string, { shards: ManifestFile[]; bytes: number }>;
  /** WebGPU features the model needs (none: f16 weights are unpacked in the shader where shader-f16 is missing). */
  features: string[];
  /** Bytes of weights on the GPU: the trunk, and each task's shard. */
  memory: { trunkBytes: number; taskBytes: Record<string, number> };
}

/** A manifest that cannot be used. */
export class ManifestError extends TaskmoeError {
  constructor(message: string) {
    super('malformed-model', `manifest.json: ${message}. Re-run \`taskmoe extract\` to rewrite it.`);
  }
}

function isFile(v: unknown): v is ManifestFile {
  const f = v as ManifestFile;
  return (
    typeof f === 'object' &&
    f !== null &&
    typeof f.file === 'string' &&
    !f.file.includes('..') &&
    !f.file.startsWith('/') &&
    Number.isSafeInteger(f.bytes) &&
    f.bytes >= 0 &&
    typeof f.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(f.sha256)
  );
}

/** Validates parsed manifest.json. */
export function parseManifest(json: unknown): Manifest {
  const m = json as Manifest;
  if (typeof m !== 'object' || m === null || m.format !== 'taskmoe-manifest' || m.version !== 1) {
    throw new ManifestError('not a taskmoe manifest (format "taskmoe-manifest", version 1)');
  }
  if (!isFile(m.config) || !isFile(m.tokenizer)) throw new ManifestError('config or tokenizer entry is invalid');
  if (!Array.isArray(m.trunk) || !m.trunk.every(isFile)) throw new ManifestError('trunk must be a list of files');
  if (typeof m.tasks !== 'object' || m.tasks === null || Object.keys(m.tasks).length === 0) {
    throw new ManifestError('tasks must list at least one language');
  }
  for (const [lang, t] of Object.entries(m.tasks)) {
    if (!Array.isArray(t.shards) || !t.shards.every(isFile) || !Number.isSafeInteger(t.bytes)) {
      throw new ManifestError(`task "${lang}" is invalid`);
    }
  }
  return m;
}

/** The files `lang` needs: config, tokenizer, the trunk and its own shards. */
export function filesForTask(m: Manifest, lang: string): ManifestFile[] {
  return [m.config, m.tokenizer, ...m.trunk, ...(m.tasks[lang]?.shards ?? [])];
}

/** The manifest entry of `path`, or undefined when the manifest does not list it. */
export function findFile(m: Manifest, path: string): ManifestFile | undefined {
  return [m.config, m.tokenizer, ...m.trunk, ...Object.values(m.tasks).flatMap((t) => t.shards)].find(
    (x) => x.file === path,
  );
}
