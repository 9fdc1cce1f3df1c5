// The public API of the taskmoe package.
/// <reference types="@webgpu/types" preserve="true" />
export { createTranslator } from './engine/create-translator';
export { defaultMemoryBudget, InThreadTranslator, type InThreadTranslatorOptions } from './engine/inthread-translator';
export { resolveLanguage } from './engine/languages';
export { openTranslator } from './engine/open-translator';
export { checkTranslateCall, TRANSLATE_LIMITS } from './engine/options';
export type {
  Activation,
  Backend,
  CreateTranslatorOptions,
  LanguageProgress,
  LayerActivation,
  LoadOptions,
  PartialTranslation,
  Progress,
  Stats,
  TranslateOptions,
  Translator,
} from './engine/translator';
export {
  createTranslatorApi,
  DownloadProgressEvent,
  type TranslationStream,
  TranslatorApi,
  type TranslatorApiSource,
  type TranslatorAvailability,
  type TranslatorCallOptions,
  TranslatorCreateMonitor,
  type TranslatorCreateOptions,
  type TranslatorLanguageOptions,
  TranslatorSession,
} from './engine/translator-api';
export type { WasmOptions } from './engine/wasm-options';
export { WasmTranslator } from './engine/wasm-translator';
export { exposeTranslatorHost, type TranslatorHost, type TranslatorHostOptions } from './engine/worker-host';
export { WorkerTranslator } from './engine/worker-translator';
export {
  BackendUnavailableError,
  DependencyMissingError,
  DeviceLostError,
  DownloadAbortedError,
  ERROR_CLASSES,
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
  type TokenizerErrorCode,
  TranslationAbortedError,
  TranslatorDisposedError,
  UnknownLanguageError,
  UnsafePathError,
  WebGPUUnavailableError,
  WorkerFailedError,
} from './errors';
export { createGpuContext, type GpuContext } from './gpu';
export { CONFIG_LIMITS } from './model/config';
export { MAX_FILE_BYTES, MAX_MANIFEST_BYTES, type Manifest, type ManifestFile } from './runtime/manifest';
export { type ModelLocation, resolveModelLocation } from './runtime/model-source';
export { exportOnnx, type F32Reader, type FoldedGate, type OnnxModels, type OnnxOptions } from './runtime/onnx-export';
export { MAX_FILE_NAME_LENGTH, resolveModelFile } from './runtime/paths';
export {
  type CacheEntry,
  type CacheUsage,
  cacheApiCache,
  defaultCache,
  indexedDbCache,
  memoryCache,
  type ShardCache,
} from './runtime/shard-loader';
