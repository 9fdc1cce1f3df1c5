// createTranslator: picks the implementation of Translator from the options.

import { InvalidOptionError } from '../errors';
import { resolveModelLocation } from '../runtime/model-source';
import type { CreateTranslatorOptions, Translator } from './translator';
import type { WasmTranslator } from './wasm-translator';
import { WorkerTranslator } from './worker-translator';

/**
 * Creates a translator for the model whose manifest.json is at `opts.model`: in a Web Worker when `opts.worker` is
 * given (a Worker running `taskmoe/worker`), else in this thread; on WebGPU, or on onnxruntime-web's WASM backend for
 * `backend: 'wasm'` and, where WebGPU cannot run, for `'auto'`. Reads the manifest; the weights are fetched by `load`
 * (or the first `translate`) per language.
 *
 * The WASM fallback ({@link WasmTranslator}) runs every model variant, extracted or not, with the same options
 * (`beam`, `batchSize`, streaming, abort) and the same translations as WebGPU, more slowly: it builds ONNX graphs in
 * memory (an encoder and a decoder step with a KV cache) per loaded language. Its limits: token-routed MoE layers
 * compute all E experts per token (E/2 times the FFN work), each loaded language holds its own f32 copy of the network
 * (unextracted task-routed layers folded for it), `activation()` reports task-routed layers only, and no memory budget
 * or device-loss recovery applies (`stats().deviceLosses` is 0).
 */
export async function createTranslator(opts: CreateTranslatorOptions): Promise<Translator> {
  const { worker, ...rest } = opts;
  if (worker) {
    if (rest.gpu) throw new InvalidOptionError('gpu', 'cannot be sent to a worker: the worker uses its own WebGPU');
    return WorkerTranslator.create(worker, { ...rest, model: resolveModelLocation(rest.model).manifestUrl });
  }
  // Loaded on demand, so that an app running the engine in a worker ships neither it nor its shaders here.
  const { openTranslator } = await import('./open-translator');
  return openTranslator(rest);
}
