import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// A shader's header comment names how many entry points it has ("Two entry points: ..."); the count must match the
// @compute functions in the file, so the header cannot drift from the code. Shared pieces (shaders/include/) have none.
const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const DIR = join(__dirname, '../../shaders');

function header(code: string): string {
  const lines: string[] = [];
  for (const line of code.split('\n')) {
    if (!line.startsWith('//')) break;
    lines.push(line.slice(2));
  }
  return lines.join(' ');
}

describe('shader header comments', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.wgsl'));
  it('finds the shaders', () => expect(files.length).toBeGreaterThan(5));
  for (const f of files) {
    it(`${f}: the number of entry points its header names is the number it has`, () => {
      const code = readFileSync(join(DIR, f), 'utf8');
      const entries = (code.match(/@compute\b/g) ?? []).length;
      const count = new RegExp(`\\b(${WORDS.join('|')}|\\d+) entry points?\\b`, 'gi');
      const named = [...header(code).matchAll(count)].map((m) => {
        const w = (m[1] as string).toLowerCase();
        return WORDS.includes(w) ? WORDS.indexOf(w) : Number(w);
      });
      for (const n of named) expect(n, `${f} header says ${n} entry points, it has ${entries}`).toBe(entries);
    });
  }
  for (const f of readdirSync(join(DIR, 'include'))) {
    it(`include/${f} has no entry point`, () => {
      expect(readFileSync(join(DIR, 'include', f), 'utf8')).not.toMatch(/@compute\b/);
    });
  }
});
