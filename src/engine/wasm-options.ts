// The WASM backend's options, apart from the code that loads onnxruntime-web, so that the public types never name
// that optional package.

/** Options of onnxruntime-web's WASM backend (`createTranslator({ backend: 'wasm', wasm: { ... } })`). */
export interface WasmOptions {
  /**
   * Where onnxruntime-web's .wasm/.mjs files are served from: a URL prefix ending in "/" (e.g. a CDN path of the same
   * onnxruntime-web version), or a map from file name to URL. Default: where the bundler put them.
   */
  wasmPaths?: string | Record<string, string>;
  /** WASM threads; default onnxruntime-web's (threads need a cross-origin isolated page, else it uses 1). */
  numThreads?: number;
}
