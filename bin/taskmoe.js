#!/usr/bin/env node
// The taskmoe command. The CLI is bundled by Vite (the WGSL shaders are imported as text), so it runs from dist/.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('taskmoe: run `npm run build:cli` first\n');
  process.exit(1);
}
await import(main.href);
