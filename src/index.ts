// The public API of the taskmoe package.
export { createTranslator } from './engine/create-translator';
export { UnknownLanguageError } from './engine/errors';
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
export { DeviceLostError, TaskmoeError, WebGPUUnavailableError } from './gpu/errors';
export { TranslationAbortedError } from './model/search';
export { ManifestError } from './runtime/manifest';
export { ModelNotFoundError } from './runtime/model-files';
