import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The demo (index.html), the throughput page (bench.html) and the browser-test pages are served from the repository root.
// Node builds (--ssr: the CLI, benchmarks, scripts) must not copy public/ (it holds prepared demo models).
export default defineConfig(({ isSsrBuild }) => ({
  root: '.',
  publicDir: isSsrBuild ? false : 'public',
  server: {
    host: '127.0.0.1',
    fs: { strict: true },
    // Not the sources: training/ holds Python environments and unpacked corpora (hundreds of thousands of files),
    // whose crawl delays the first page by tens of seconds and exhausts inotify watchers.
    watch: { ignored: ['**/training/**', '**/test-results/**', '**/bench-results/**', '**/dist/**'] },
  },
  // Pre-bundle dependencies when the server starts: a dependency discovered later (e.g. comlink inside the worker)
  // makes Vite reload the page mid-test ("Execution context was destroyed").
  optimizeDeps: {
    entries: ['index.html', 'bench.html', 'test/browser/*.html'],
    include: ['comlink'],
  },
  worker: { format: 'es' },
  build: {
    outDir: 'dist/app',
    target: 'es2022',
    rollupOptions: {
      input: { demo: resolve(import.meta.dirname, 'index.html'), bench: resolve(import.meta.dirname, 'bench.html') },
    },
  },
}));
