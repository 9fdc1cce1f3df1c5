// createTranslator: picks the implementation of Translator from the options.
import { InThreadTranslator } from './inthread-translator';
import type { CreateTranslatorOptions, Translator } from './translator';
import { WorkerTranslator } from './worker-translator';

/**
 * Creates a translator for the model whose manifest.json is at `opts.model`: in a Web Worker when `opts.worker` is
 * given (a Worker running `taskmoe/worker`), else in this thread. Reads the manifest and opens the GPU device; the
 * weights are fetched by `load` (or the first `translate`) per language.
 */
export async function createTranslator(opts: CreateTranslatorOptions): Promise<Translator> {
  const { worker, ...rest } = opts;
  if (worker) {
    const model = new URL(rest.model, globalThis.location?.href ?? 'http://localhost/').toString();
    return WorkerTranslator.create(worker, { ...rest, model });
  }
  return InThreadTranslator.create(rest);
}
