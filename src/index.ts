// The public API of the taskmoe package.
export { createTranslator } from './engine/create-translator';
export {
  BackendUnavailableError,
  TranslatorDisposedError,
  UnknownLanguageError,
  WorkerFailedError,
} from './engine/errors';
export { defaultMemoryBudget, InThreadTranslator, type InThreadTranslatorOptions } from './engine/inthread-translator';
export { openTranslator } from './engine/open-translator';
export type {
  Activation,
  Backend,
  CreateTranslatorOptions,
  LayerActivation,
  LoadOptions,
  PartialTranslation,
  Progress,
  Stats,
  TranslateOptions,
  Translator,
} from './engine/translator';
export { WasmTranslator } from './engine/wasm-translator';
export { WorkerTranslator } from './engine/worker-translator';
export { createGpuContext, DeviceLostError, type GpuContext, TaskmoeError, WebGPUUnavailableError } from './gpu';
export { TranslationAbortedError } from './model/search';
export { type Manifest, ManifestError, type ManifestFile } from './runtime/manifest';
export { ModelNotFoundError } from './runtime/model-files';
export { exportOnnx, type F32Reader, type FoldedGate, type OnnxModels, type OnnxOptions } from './runtime/onnx-export';
export {
  cacheApiCache,
  DownloadAbortedError,
  defaultCache,
  IntegrityError,
  indexedDbCache,
  memoryCache,
  type ShardCache,
} from './runtime/shard-loader';
