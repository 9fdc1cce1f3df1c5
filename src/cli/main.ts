// Entry of the taskmoe command (Node only), built by `npm run build:cli` into dist/cli/main.js for bin/taskmoe.js.
import { processIo } from './io';
import { isWorkerProcess, runFiltered } from './quiet-stderr';
import { run } from './run';

/** Commands that open a GPU device (through Dawn, which prints its own warnings on stderr). */
const GPU_COMMANDS = new Set(['translate', 'eval', 'info']);

const argv = process.argv.slice(2);
const status = GPU_COMMANDS.has(argv[0] ?? '') && !isWorkerProcess() ? runFiltered() : run(argv, processIo());

// Dawn can keep the process alive after the GPU context is disposed, so exit explicitly.
status.then(
  (s) => process.exit(s),
  (e) => {
    process.stderr.write(`taskmoe: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
