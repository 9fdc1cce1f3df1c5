// Benchmark method (CONVENTIONS.md 11): warm-up, then N timed runs, each ending when the GPU has finished (a readback
// or onSubmittedWorkDone inside the timed function); median and spread reported. Browser-safe: used by the Node
// benchmarks (bench/) and the throughput page (bench.html).

/** Median and spread of N timed runs of one variant. */
export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
}

function summarize(ms: number[], runs: number): Timing {
  const s = [...ms].sort((a, b) => a - b);
  return {
    medianMs: s[Math.floor(s.length / 2)] as number,
    minMs: s[0] as number,
    maxMs: s[s.length - 1] as number,
    runs,
  };
}

/** Times `fn` (which must wait for the GPU itself) `runs` times after `warmup` untimed calls. */
export async function time(fn: () => Promise<void>, runs = 5, warmup = 2): Promise<Timing> {
  return (await timeInterleaved([fn], runs, warmup))[0] as Timing;
}

/**
 * Times several variants side by side: after warm-up, the variants run in turn (A, B, C, A, B, C, ...) so that load
 * from other processes falls on all of them alike; returns one Timing per variant. A function that resolves to a
 * number has timed its own region (in ms, e.g. the decoder steps after the encoder); else the whole call is timed.
 */
export async function timeInterleaved(fns: Array<() => Promise<unknown>>, runs = 7, warmup = 2): Promise<Timing[]> {
  for (let i = 0; i < warmup; i++) for (const fn of fns) await fn();
  const ms: number[][] = fns.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < fns.length; j++) {
      const t0 = performance.now();
      const own = await (fns[j] as () => Promise<unknown>)();
      (ms[j] as number[]).push(typeof own === 'number' ? own : performance.now() - t0);
    }
  }
  return ms.map((m) => summarize(m, runs));
}
