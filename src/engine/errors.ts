import { TaskmoeError } from '../gpu/errors';

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
