// onnxruntime-web, loaded only when the WASM backend is chosen, so that apps on WebGPU never fetch or bundle it into
// their first chunk; it is an optional dependency, and its absence is reported by name.
import { importOptional } from '../gpu/dependency';

type Ort = typeof import('onnxruntime-web');

/** Options of onnxruntime-web's WASM backend (`createTranslator({ backend: 'wasm', wasm: { ... } })`). */
export interface WasmOptions {
  /**
   * Where onnxruntime-web's .wasm/.mjs files are served from: a URL prefix ending in "/" (e.g. a CDN path of the same
   * onnxruntime-web version), or a map from file name to URL. Default: where the bundler put them.
   */
  wasmPaths?: string | Record<string, string>;
  /**
   * WASM threads; default onnxruntime-web's (threads need a cross-origin isolated page, else it warns and uses 1).
   */
  numThreads?: number;
}

/** Loads onnxruntime-web (rejects with `DependencyMissingError` when it is not installed) and applies `opts`. */
export async function loadOnnxRuntime(opts: WasmOptions = {}): Promise<Ort> {
  const ort = (await importOptional('onnxruntime-web', 'The WASM backend', () => import('onnxruntime-web'))) as Ort;
  if (opts.wasmPaths !== undefined) ort.env.wasm.wasmPaths = opts.wasmPaths;
  if (opts.numThreads !== undefined) ort.env.wasm.numThreads = opts.numThreads;
  return ort;
}
