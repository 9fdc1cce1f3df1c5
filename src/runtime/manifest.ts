import { ManifestError } from '../errors';
import { checkFileName, MAX_FILE_NAME_LENGTH } from './paths';
import { bool, dict, type Fail, int, LANGUAGE_CODE, list, literal, obj, optional, str } from './schema';

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

/** Largest file a manifest may list (bytes); larger entries are refused before anything is fetched. */
export const MAX_FILE_BYTES = 2 ** 31 - 1;
/** Largest manifest.json accepted (bytes). */
export const MAX_MANIFEST_BYTES = 16 * 2 ** 20;
/** Most languages and files per list a manifest may hold. */
export const MAX_MANIFEST_ENTRIES = 10_000;

const fileRule = obj({
  file: str(MAX_FILE_NAME_LENGTH),
  bytes: int(0, MAX_FILE_BYTES),
  sha256: str(64, /^[0-9a-f]{64}$/, 'a lowercase hex sha256'),
});
const bytesRule = int(0, Number.MAX_SAFE_INTEGER);

/** The declaration of manifest.json. */
const MANIFEST_SCHEMA = obj({
  format: literal('taskmoe-manifest'),
  version: literal(1),
  model: optional(str(200)),
  extracted: optional(bool),
  config: fileRule,
  tokenizer: fileRule,
  trunk: list(fileRule, 0, MAX_MANIFEST_ENTRIES),
  tasks: dict(
    obj({ shards: list(fileRule, 0, MAX_MANIFEST_ENTRIES), bytes: bytesRule }),
    MAX_MANIFEST_ENTRIES,
    LANGUAGE_CODE,
  ),
  features: optional(list(str(100), 0, 100)),
  memory: optional(obj({ trunkBytes: bytesRule, taskBytes: dict(bytesRule, MAX_MANIFEST_ENTRIES, LANGUAGE_CODE) })),
});

const failManifest: Fail = (field, problem) => {
  throw new ManifestError(`"${field}" ${problem}`);
};

/**
 * Validates parsed manifest.json against its declaration: types and bounds of every field (sizes at most
 * {@link MAX_FILE_BYTES}), at least one language, and every file name a plain name inside the model's folder
 * (`UnsafePathError` naming the field otherwise).
 */
export function parseManifest(json: unknown): Manifest {
  const m = MANIFEST_SCHEMA(json, '', failManifest);
  if (Object.keys(m.tasks).length === 0) throw new ManifestError('"tasks" must list at least one language');
  const named = (f: ManifestFile, field: string): ManifestFile => ({
    file: checkFileName(f.file, 'manifest.json', `${field}.file`),
    bytes: f.bytes,
    sha256: f.sha256,
  });
  const tasks: Manifest['tasks'] = {};
  for (const [lang, t] of Object.entries(m.tasks)) {
    tasks[lang] = { shards: t.shards.map((f, i) => named(f, `tasks.${lang}.shards[${i}]`)), bytes: t.bytes };
  }
  return {
    format: 'taskmoe-manifest',
    version: 1,
    model: m.model ?? 'unnamed',
    extracted: m.extracted ?? false,
    config: named(m.config, 'config'),
    tokenizer: named(m.tokenizer, 'tokenizer'),
    trunk: m.trunk.map((f, i) => named(f, `trunk[${i}]`)),
    tasks,
    features: m.features ?? [],
    memory: m.memory ?? { trunkBytes: 0, taskBytes: {} },
  };
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
