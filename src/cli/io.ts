// The streams a command talks to, so the commands do not reach for process.* themselves.

/** Standard input and output of a command. */
export interface Io {
  stdin: AsyncIterable<Uint8Array | string>;
  /** Whether stdin is a terminal (then the user is told how to end the input). */
  stdinIsTTY: boolean;
  /** Writes to stdout; resolves once the text is handed to the OS. */
  out(text: string): Promise<void>;
  /** Writes to stderr. */
  err(text: string): void;
  /** Aborted on Ctrl-C: translations stop at the next decoding step. */
  signal: AbortSignal;
}

/** The process's stdin, stdout and stderr; Ctrl-C aborts `signal` (a second Ctrl-C exits at once). */
export function processIo(): Io {
  const ctl = new AbortController();
  let abortedAt = 0;
  process.on('SIGINT', () => {
    // Signals closer than 200 ms count as one: a terminal's Ctrl-C reaches this process and the filtering parent
    // (quiet-stderr.ts), which forwards it.
    if (ctl.signal.aborted) {
      if (Date.now() - abortedAt > 200) process.exit(130);
      return;
    }
    abortedAt = Date.now();
    ctl.abort();
  });
  // A closed pipe (`taskmoe translate ... | head`) ends the program quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  return {
    stdin: process.stdin,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    out: (text) =>
      new Promise((resolve, reject) => {
        process.stdout.write(text, (e) => (e ? reject(e) : resolve()));
      }),
    err: (text) => {
      process.stderr.write(text);
    },
    signal: ctl.signal,
  };
}
