// createTranslator: picks the implementation of Translator from the options.
import { TaskmoeError } from '../gpu/errors';
import type { CreateTranslatorOptions, Translator } from './translator';

/**
 * Creates a translator for the model whose manifest.json is at `opts.model`: in a Web Worker when `opts.worker` is
 * given, else in this thread. Reads the manifest and the tokenizer; weights are fetched by `load` (or the first
 * `translate`) per language.
 */
export async function createTranslator(opts: CreateTranslatorOptions): Promise<Translator> {
  throw new TaskmoeError('not-implemented', `createTranslator(${opts.model}): the runtime is being built (issue 5).`);
}
