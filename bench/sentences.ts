// English test sentences for the throughput benchmarks: the corpus's test set where it exists, else the committed
// fixtures. Repeated to reach `n`.
import { readFileSync } from 'node:fs';

const FILES = [
  'training/work/data/de/test.lohelp.src',
  'training/fixtures/de/test.lohelp.src',
  'training/fixtures/de/dev.src',
];

/** `n` English sentences (cycled when the files hold fewer). */
export function testSentences(n: number): string[] {
  const lines: string[] = [];
  for (const f of FILES) {
    try {
      lines.push(
        ...readFileSync(f, 'utf8')
          .split('\n')
          .filter((l) => l.trim()),
      );
    } catch {
      // a missing corpus file is fine: the committed fixtures are enough
    }
    if (lines.length >= n) break;
  }
  return Array.from({ length: n }, (_, i) => lines[i % lines.length] as string);
}
