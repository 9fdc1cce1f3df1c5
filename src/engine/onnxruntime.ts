// onnxruntime-web, loaded only when the WASM backend is chosen, so that apps on WebGPU never fetch or bundle it into
// their first chunk; it is an optional dependency, and its absence is reported by name.
import { importOptional } from '../gpu/dependency';
import type { WasmOptions } from './wasm-options';

type Ort = typeof import('onnxruntime-web');

/** Loads onnxruntime-web (rejects with `DependencyMissingError` when it is not installed) and applies `opts`. */
export async function loadOnnxRuntime(opts: WasmOptions = {}): Promise<Ort> {
  const ort = (await importOptional('onnxruntime-web', 'The WASM backend', () => import('onnxruntime-web'))) as Ort;
  if (opts.wasmPaths !== undefined) ort.env.wasm.wasmPaths = opts.wasmPaths;
  if (opts.numThreads !== undefined) ort.env.wasm.numThreads = opts.numThreads;
  return ort;
}
