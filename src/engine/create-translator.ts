// createTranslator: picks the implementation of Translator from the options.
import { openTranslator } from './open-translator';
import type { CreateTranslatorOptions, Translator } from './translator';
import { WorkerTranslator } from './worker-translator';

/**
 * Creates a translator for the model whose manifest.json is at `opts.model`: in a Web Worker when `opts.worker` is
 * given (a Worker running `taskmoe/worker`), else in this thread; on WebGPU, or on onnxruntime-web's WASM backend for
 * `backend: 'wasm'` and, where WebGPU cannot run, for `'auto'`. Reads the manifest; the weights are fetched by `load`
 * (or the first `translate`) per language.
 */
export async function createTranslator(opts: CreateTranslatorOptions): Promise<Translator> {
  const { worker, ...rest } = opts;
  if (worker) {
    const model = new URL(rest.model, globalThis.location?.href ?? 'http://localhost/').toString();
    return WorkerTranslator.create(worker, { ...rest, model });
  }
  return openTranslator(rest);
}
