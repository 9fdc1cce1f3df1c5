// Every error class of the library, in one module below every layer (gpu, tokenizer, model, runtime and engine all
// import from here), and ERROR_CLASSES, the list the worker's wire table is generated from. Each class has a stable
// `code`; the CLI's own errors (src/cli) extend TaskmoeError too but never cross a worker.

/** Codes of `TokenizerError`: a broken model file, a model kind taskmoe does not implement, or a bad argument. */
export type TokenizerErrorCode = 'malformed-model' | 'unsupported-model' | 'invalid-input';

// Every layer

/** Base class of every taskmoe error; `code` is stable and machine-readable. */
export class TaskmoeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A size goes past a stated limit: a device limit (tensor, dispatch), or one of taskmoe's own (characters per text,
 * texts per call, bytes per download, config values); checked before the work starts. `message` replaces the
 * default text, which speaks of a device limit.
 */
export class LimitExceededError extends TaskmoeError {
  readonly limit: string;
  readonly requested: number;
  readonly allowed: number;
  constructor(limit: string, requested: number, allowed: number, what: string, options?: { message?: string }) {
    super(
      'limit-exceeded',
      options?.message ??
        `${what} needs ${limit} = ${requested}, but the device allows ${allowed}. Split the work into smaller pieces or use a device with larger limits.`,
    );
    this.limit = limit;
    this.requested = requested;
    this.allowed = allowed;
  }
}

/** An optional package that a chosen feature needs is not installed. */
export class DependencyMissingError extends TaskmoeError {
  /** The npm package to install. */
  readonly packageName: string;
  constructor(packageName: string, feature: string, options?: { cause?: unknown }) {
    super(
      'dependency-missing',
      `${feature} needs the npm package "${packageName}": npm install ${packageName}`,
      options,
    );
    this.packageName = packageName;
  }
}

// GPU device and kernels (src/gpu, src/kernels)

/** No WebGPU implementation, or no adapter could be obtained. */
export class WebGPUUnavailableError extends TaskmoeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('webgpu-unavailable', message, options);
  }
}

/** A feature the caller required is not offered by the adapter. */
export class FeatureMissingError extends TaskmoeError {
  readonly feature: string;
  constructor(feature: string) {
    super(
      'feature-missing',
      `The WebGPU adapter does not offer the feature "${feature}". Use a variant that does not need it (taskmoe selects one automatically unless the feature is required explicitly).`,
    );
    this.feature = feature;
  }
}

/** The device was lost (driver reset, destroy, out of memory). Create a new context. */
export class DeviceLostError extends TaskmoeError {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super('device-lost', `The WebGPU device was lost (${reason}): ${message}. Create a new GPU context.`);
    this.reason = reason;
  }
}

/** Bad input to a kernel wrapper: wrong shapes, dtypes or parameters. Thrown before anything is dispatched. */
export class KernelInputError extends TaskmoeError {
  readonly kernel: string;
  constructor(kernel: string, message: string) {
    super('kernel-input', `${kernel}: ${message}`);
    this.kernel = kernel;
  }
}

// Tokenizer (src/tokenizer)

/**
 * The SentencePiece model could not be read ('malformed-model': re-download or re-export it), is of a kind taskmoe
 * does not implement ('unsupported-model': only unigram models are), or an argument was out of range
 * ('invalid-input', e.g. a token id outside the vocabulary).
 */
export class TokenizerError extends TaskmoeError {
  constructor(code: TokenizerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

// Model (src/model)

/** A model file that does not describe a model taskmoe can run. */
export class ModelFormatError extends TaskmoeError {
  /** `hint` says what to do; by default, to re-export the model or check its files. */
  constructor(message: string, hint = 'Re-export the model (training/taskmoe_train/export.py) or check its files.') {
    super('malformed-model', `${message}. ${hint}`);
  }
}

/**
 * Decoding was cancelled through an AbortSignal: thrown by the decoders (`greedySearch`, `beamSearch`,
 * `LocalModel`). Translator methods reject with the signal's reason instead, as fetch does.
 */
export class TranslationAbortedError extends TaskmoeError {
  constructor() {
    super('aborted', 'The translation was aborted.');
  }
}

// Model files (src/runtime)

/** A file name in a model's config.json or manifest.json points outside the model (or is not a plain file name). */
export class UnsafePathError extends TaskmoeError {
  /** The file that names it (config.json, manifest.json). */
  readonly file: string;
  /** The field holding the name, e.g. `tokenizer`, `shards[0]`, `tasks.de.shards[0].file`. */
  readonly field: string;
  /** The offending name, as written. */
  readonly path: string;
  constructor(file: string, field: string, name: string, why: string) {
    super(
      'unsafe-path',
      `${file}: ${field} ${JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}...` : name)} ${why}; a model may only name files inside its own folder (plain relative names such as "weights-000.safetensors"). Fix or re-export the model.`,
    );
    this.file = file;
    this.field = field;
    this.path = name;
  }
}

/** A model file could not be read (missing, unreachable). */
export class ModelNotFoundError extends TaskmoeError {
  readonly path: string;
  constructor(path: string, options?: { cause?: unknown }) {
    super('model-not-found', `Cannot read model file "${path}". Check the model path or URL.`, options);
    this.path = path;
  }
}

/** A model specification that names no model this runtime can read (an unknown scheme, file: in a browser). */
export class ModelLocationError extends TaskmoeError {
  readonly spec: string;
  constructor(spec: string, why: string) {
    super(
      'model-not-found',
      `Cannot use "${spec}" as a model: ${why}. Pass a model folder or its manifest.json: a path or file:// URL in Node, an http(s) URL anywhere.`,
    );
    this.spec = spec;
  }
}

/** A manifest that cannot be used. */
export class ManifestError extends TaskmoeError {
  constructor(message: string) {
    super('malformed-model', `manifest.json: ${message}. Re-run \`taskmoe extract\` to rewrite it.`);
  }
}

/** A safetensors file is malformed, or lacks a tensor or dtype the caller asked for. Re-export or re-download it. */
export class SafetensorsError extends TaskmoeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('malformed-model', message, options);
  }
}

/** A downloaded (or cached) file does not match the manifest's size or sha256, even after one refetch. */
export class IntegrityError extends TaskmoeError {
  readonly file: string;
  readonly expected: { bytes: number; sha256: string };
  readonly actual: { bytes: number; sha256: string };
  /** `local`: the file was read from disk (not downloaded and refetched). */
  constructor(
    file: string,
    expected: { bytes: number; sha256: string },
    actual: { bytes: number; sha256: string },
    local = false,
  ) {
    super(
      'integrity',
      `${file}: got ${actual.bytes} bytes with sha256 ${actual.sha256}, the manifest says ${expected.bytes} bytes with sha256 ${expected.sha256}${
        local
          ? '. The file on disk is damaged or belongs to another model: re-extract or re-download the model.'
          : ' (refetched once). The server holds a different or damaged file: re-upload the model or check the manifest.'
      }`,
    );
    this.file = file;
    this.expected = { bytes: expected.bytes, sha256: expected.sha256 };
    this.actual = actual;
  }
}

/**
 * A download was cancelled through its AbortSignal: thrown by {@link ShardLoader}. Translator methods reject with the
 * signal's reason instead, as fetch does.
 */
export class DownloadAbortedError extends TaskmoeError {
  constructor(file: string) {
    super('aborted', `The download of ${file} was aborted.`);
  }
}

// Engine (src/engine)

/** The requested target language is not one the model translates into. */
export class UnknownLanguageError extends TaskmoeError {
  readonly language: string;
  readonly available: readonly string[];
  constructor(language: string, available: readonly string[]) {
    super('unknown-language', `Unknown target language "${language}". Available: ${available.join(', ')}.`);
    this.language = language;
    this.available = available;
  }
}

/** The requested backend cannot run here (no WebGPU adapter for `webgpu`; the WASM engine is not built yet). */
export class BackendUnavailableError extends TaskmoeError {
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super('backend-unavailable', message, options);
    this.backend = backend;
  }
}

/** The translator was disposed; create a new one. */
export class TranslatorDisposedError extends TaskmoeError {
  constructor() {
    super('disposed', 'This translator was disposed. Create a new one with createTranslator().');
  }
}

/** The translation worker failed to start or crashed (a script error, a wrong URL for `taskmoe/worker`). */
export class WorkerFailedError extends TaskmoeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      'worker-failed',
      `The translation worker failed: ${message}. Check that the Worker runs taskmoe/worker as a module ({ type: 'module' }).`,
      options,
    );
  }
}

/** A public option or argument has the wrong type or is out of range (beam, batchSize, maxSteps, texts, to). */
export class InvalidOptionError extends TaskmoeError {
  /** The option, e.g. `beam`, `texts[3]`. */
  readonly option: string;
  constructor(option: string, problem: string) {
    super('invalid-option', `Option "${option}" ${problem}. See the Limits and errors section of taskmoe's README.`);
    this.option = option;
  }
}

/**
 * Every error class above by its name: the worker's wire table (engine/wire-errors.ts) is this object, so a class
 * added here crosses a worker as itself. Keys are source names, which minifiers keep (unlike `Function.name`).
 */
export const ERROR_CLASSES = {
  TaskmoeError,
  LimitExceededError,
  DependencyMissingError,
  WebGPUUnavailableError,
  FeatureMissingError,
  DeviceLostError,
  KernelInputError,
  TokenizerError,
  ModelFormatError,
  TranslationAbortedError,
  UnsafePathError,
  ModelNotFoundError,
  ModelLocationError,
  ManifestError,
  SafetensorsError,
  IntegrityError,
  DownloadAbortedError,
  UnknownLanguageError,
  BackendUnavailableError,
  TranslatorDisposedError,
  WorkerFailedError,
  InvalidOptionError,
} as const;
