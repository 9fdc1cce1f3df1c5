import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The demo (index.html) and the browser-test pages are served from the repository root.
export default defineConfig({
  root: '.',
  publicDir: 'public',
  server: { host: '127.0.0.1', fs: { strict: true } },
  build: {
    outDir: 'dist/app',
    target: 'es2022',
    rollupOptions: { input: { demo: resolve(import.meta.dirname, 'index.html') } },
  },
});
