import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The npm library (`npm run build:lib`): ESM entries for `taskmoe`, `taskmoe/worker` and `taskmoe/node`, WGSL inlined
// as strings, dependencies left to the installer. The application constructs the Worker from `taskmoe/worker`.
// One output file per source module (preserveModules): the app's bundler then drops every module its main thread does
// not use, so a worker-only app's main chunk holds no shader and no onnxruntime-web.
export default defineConfig({
  publicDir: false,
  build: {
    outDir: 'dist/lib',
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    sourcemap: true,
    lib: {
      entry: {
        index: resolve(import.meta.dirname, 'src/index.ts'),
        worker: resolve(import.meta.dirname, 'src/engine/worker.ts'),
        node: resolve(import.meta.dirname, 'src/gpu/node.ts'),
      },
      formats: ['es'],
    },
    rollupOptions: {
      external: ['comlink', 'onnxruntime-web', 'webgpu', /^node:/],
      output: { preserveModules: true, preserveModulesRoot: 'src', entryFileNames: '[name].js' },
    },
  },
});
