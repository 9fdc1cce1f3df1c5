// Entry of the taskmoe command (Node only), built by `npm run build:cli` into dist/cli/main.js for bin/taskmoe.js.
import { processIo } from './io';
import { run } from './run';

// Dawn can keep the process alive after the GPU context is disposed, so exit explicitly.
run(process.argv.slice(2), processIo()).then(
  (status) => process.exit(status),
  (e) => {
    process.stderr.write(`taskmoe: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
