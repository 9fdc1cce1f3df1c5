// Picks the engine for a model: WebGPU where it runs, else (backend 'auto' or 'wasm') onnxruntime-web's WASM backend.
import { BackendUnavailableError } from '../errors';
import { InThreadTranslator, type InThreadTranslatorOptions, openModel } from './inthread-translator';
import type { Translator } from './translator';
import { WasmTranslator } from './wasm-translator';

/**
 * An in-thread translator on the backend `opts.backend` asks for: `webgpu`, `wasm`, or `auto` (default: WebGPU, and
 * the WASM engine with a warning where WebGPU cannot run). The manifest is read once for either.
 */
export async function openTranslator(opts: InThreadTranslatorOptions): Promise<Translator> {
  const backend = opts.backend ?? 'auto';
  const model = await openModel(opts);
  if (backend !== 'wasm') {
    try {
      return await InThreadTranslator.create({ ...opts, backend: 'webgpu' }, model);
    } catch (e) {
      if (backend === 'webgpu' || !(e instanceof BackendUnavailableError)) throw e;
      (opts.warn ?? ((m: string) => console.warn(`[taskmoe] ${m}`)))(
        `${(e as Error).message} Falling back to the WASM engine.`,
      );
    }
  }
  return WasmTranslator.create(model.manifest, model.loader, {
    ...(opts.wasm ? { wasm: opts.wasm } : {}),
    evictStale: opts.evictStale !== false,
  });
}
