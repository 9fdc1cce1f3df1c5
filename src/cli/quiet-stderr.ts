// Dawn prints its adapter-limit warnings ("Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced
// from ... to fit dynamic offset allocation limit.") from native code straight to file descriptor 2, where Node
// cannot intercept them. So the command runs itself as a child process and passes the child's stderr through a
// filter that drops exactly those lines; everything else, including partial lines, is forwarded as it arrives.
import { spawn } from 'node:child_process';

/** Lines Dawn prints on its own that say nothing to a user of the command. */
export const DAWN_NOISE = /^Warning: \w+ artificially reduced from \d+ to \d+ to fit [\w ]+\.\r?$/;

const CHILD_ENV = 'TASKMOE_CLI_CHILD';

/** Whether this process is the child that does the work (or filtering is off: TASKMOE_DAWN_WARNINGS=1). */
export function isWorkerProcess(): boolean {
  return process.env[CHILD_ENV] === '1' || process.env.TASKMOE_DAWN_WARNINGS === '1';
}

/** Removes Dawn's warning lines from a stream of text; `flush` returns what is left of an unterminated line. */
export function dawnFilter(): { push(text: string): string; flush(): string } {
  let pending = '';
  return {
    push(text) {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() as string;
      return lines
        .filter((l) => !DAWN_NOISE.test(l))
        .map((l) => `${l}\n`)
        .join('');
    },
    flush() {
      const rest = DAWN_NOISE.test(pending) ? '' : pending;
      pending = '';
      return rest;
    },
  };
}

/**
 * Runs this script again as a child with the same arguments, stdin and stdout, and its stderr filtered; resolves to
 * the child's exit status. SIGINT and SIGTERM are forwarded to the child (which treats signals closer than 200 ms
 * as one, so a terminal's Ctrl-C reaching both processes counts once).
 */
export function runFiltered(): Promise<number> {
  const script = process.argv[1] as string;
  const child = spawn(process.execPath, [...process.execArgv, script, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, [CHILD_ENV]: '1' },
  });
  const filter = dawnFilter();
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const out = filter.push(chunk);
    if (out) process.stderr.write(out);
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      child.kill(sig);
    });
  }
  return new Promise((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`taskmoe: cannot start: ${e.message}\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      const rest = filter.flush();
      if (rest) process.stderr.write(rest);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}
