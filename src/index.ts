// The public API of the taskmoe package.
/// <reference types="@webgpu/types" preserve="true" />
export { createTranslator } from './engine/create-translator';
export {
  BackendUnavailableError,
  InvalidOptionError,
  TranslatorDisposedError,
  UnknownLanguageError,
  WorkerFailedError,
} from './engine/errors';
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
  createGpuContext,
  DeviceLostError,
  type GpuContext,
  LimitExceededError,
  TaskmoeError,
  WebGPUUnavailableError,
} from './gpu';
export { DependencyMissingError } from './gpu/dependency';
export { CONFIG_LIMITS, ModelFormatError } from './model/config';
export { TranslationAbortedError } from './model/errors';
export {
  MAX_FILE_BYTES,
  MAX_MANIFEST_BYTES,
  type Manifest,
  ManifestError,
  type ManifestFile,
} from './runtime/manifest';
export { ModelNotFoundError } from './runtime/model-files';
export { type ModelLocation, ModelLocationError, resolveModelLocation } from './runtime/model-source';
export { exportOnnx, type F32Reader, type FoldedGate, type OnnxModels, type OnnxOptions } from './runtime/onnx-export';
export { MAX_FILE_NAME_LENGTH, resolveModelFile, UnsafePathError } from './runtime/paths';
export {
  type CacheEntry,
  type CacheUsage,
  cacheApiCache,
  DownloadAbortedError,
  defaultCache,
  IntegrityError,
  indexedDbCache,
  memoryCache,
  type ShardCache,
} from './runtime/shard-loader';
