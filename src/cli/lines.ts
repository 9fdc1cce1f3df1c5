// Line-oriented text I/O of the CLI: one translation per input line, always.
import { readFile } from 'node:fs/promises';
import { TaskmoeError } from '../errors';

/** An input file of the CLI (--src, --ref) could not be read. */
export class InputFileError extends TaskmoeError {
  constructor(path: string, options?: { cause?: unknown }) {
    const why = (options?.cause as { code?: string } | undefined)?.code ?? 'unreadable';
    super('input-not-found', `Cannot read "${path}" (${why}). Check the file name.`, options);
  }
}

/**
 * Splits text into lines at \n and \r\n. A final line break does not start another line, so "a\nb\n" and "a\nb" are
 * both two lines and "" is none.
 */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// Everything some reader (Python's str.splitlines among them) takes as a line break.
// biome-ignore lint/suspicious/noControlCharactersInRegex: \x1c-\x1e and \x85 are line breaks to Python.
const BREAKS = /[\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+/g;

/** A translation as exactly one output line: line breaks inside it become spaces. */
export function oneLine(text: string): string {
  return text.replace(BREAKS, ' ').trim();
}

const utf8 = new TextDecoder('utf-8');

/** All of stdin as UTF-8 (a byte-order mark is dropped; invalid bytes become U+FFFD). */
export async function readStdin(stream: AsyncIterable<Uint8Array | string> = process.stdin): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? new TextEncoder().encode(c) : c);
  return utf8.decode(Buffer.concat(chunks));
}

/** The lines of a UTF-8 text file. */
export async function readLines(path: string): Promise<string[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new InputFileError(path, { cause });
  }
  return splitLines(utf8.decode(bytes));
}
