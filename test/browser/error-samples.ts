// One instance of every error class in src/errors.ts's ERROR_CLASSES, with every field set: the mapped type makes a
// class added there without a sample here a type error, so the round-trip test covers every class.
import {
  BackendUnavailableError,
  DependencyMissingError,
  DeviceLostError,
  DownloadAbortedError,
  type ERROR_CLASSES,
  FeatureMissingError,
  IntegrityError,
  InvalidOptionError,
  KernelInputError,
  LimitExceededError,
  ManifestError,
  ModelFormatError,
  ModelLocationError,
  ModelNotFoundError,
  SafetensorsError,
  TaskmoeError,
  TokenizerError,
  TranslationAbortedError,
  TranslatorDisposedError,
  UnknownLanguageError,
  UnsafePathError,
  WebGPUUnavailableError,
  WorkerFailedError,
} from '../../src/errors';

type Classes = typeof ERROR_CLASSES;

/** A sample of each class, by its key in ERROR_CLASSES. */
export const ERROR_SAMPLES: { [K in keyof Classes]: () => InstanceType<Classes[K]> } = {
  TaskmoeError: () => new TaskmoeError('line-count', 'Base class sample.'),
  LimitExceededError: () => new LimitExceededError('charactersPerText', 100_001, 100_000, 'A text'),
  DependencyMissingError: () => new DependencyMissingError('onnxruntime-web', 'The WASM backend'),
  WebGPUUnavailableError: () => new WebGPUUnavailableError('No adapter.'),
  FeatureMissingError: () => new FeatureMissingError('shader-f16'),
  DeviceLostError: () => new DeviceLostError('destroyed', 'gone'),
  KernelInputError: () => new KernelInputError('linear', 'x must be 2-D'),
  TokenizerError: () => new TokenizerError('unsupported-model', 'Only unigram models.'),
  ModelFormatError: () => new ModelFormatError('config.json: d_model is missing'),
  TranslationAbortedError: () => new TranslationAbortedError(),
  UnsafePathError: () => new UnsafePathError('config.json', 'shards[0]', '../x', 'leaves the folder'),
  ModelNotFoundError: () => new ModelNotFoundError('/models/x/config.json'),
  ModelLocationError: () => new ModelLocationError('ftp://x', 'unknown scheme'),
  ManifestError: () => new ManifestError('tasks is missing'),
  SafetensorsError: () => new SafetensorsError('header too long'),
  IntegrityError: () =>
    new IntegrityError('task-de.safetensors', { bytes: 10, sha256: 'aa' }, { bytes: 9, sha256: 'bb' }),
  DownloadAbortedError: () => new DownloadAbortedError('trunk-000.safetensors'),
  UnknownLanguageError: () => new UnknownLanguageError('xx', ['de', 'fr']),
  BackendUnavailableError: () => new BackendUnavailableError('webgpu', 'No WebGPU here.'),
  TranslatorDisposedError: () => new TranslatorDisposedError(),
  WorkerFailedError: () => new WorkerFailedError('script error'),
  InvalidOptionError: () => new InvalidOptionError('beam', 'must be an integer from 1 to 8'),
};
