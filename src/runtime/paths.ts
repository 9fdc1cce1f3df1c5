// Every file a model names (config.json's tokenizer, shards and task shards, manifest.json's files) is resolved here
// against the model's base URL, then compared with it: a name must stay inside the model's folder. Browser-safe.
import { UnsafePathError } from '../errors';

/** Longest file name (in UTF-16 code units) a model may use. */
export const MAX_FILE_NAME_LENGTH = 255;

/**
 * Why `name` is not a plain relative file name inside a model folder, or null when it is. Rejected: empty names,
 * names longer than {@link MAX_FILE_NAME_LENGTH}, schemes (`https:`, `file:`, `data:`, `C:`), absolute paths,
 * backslashes, percent-encoding (`%2e%2e`), query and fragment markers, control characters, and `.`/`..`/empty
 * segments.
 */
export function fileNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'is not a string';
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_FILE_NAME_LENGTH) return `is longer than ${MAX_FILE_NAME_LENGTH} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is rejected
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'contains a control character';
  if (name.trim() !== name) return 'starts or ends with white space';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.includes('%')) return 'contains percent-encoding';
  if (name.includes('?') || name.includes('#')) return 'contains a query or fragment';
  if (/^[a-z][a-z0-9+.-]*:/i.test(name)) return 'has a URL scheme or drive letter';
  if (name.startsWith('/')) return 'is an absolute path';
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') return 'has an empty, "." or ".." path segment';
  }
  return null;
}

/** Throws {@link UnsafePathError} unless `name` is a plain relative file name ({@link fileNameProblem}). */
export function checkFileName(name: unknown, file: string, field: string): string {
  const why = fileNameProblem(name);
  if (why !== null) throw new UnsafePathError(file, field, String(name), why);
  return name as string;
}

/** `base` as a folder URL: with a trailing slash, without query or fragment. */
export function folderUrl(base: URL): URL {
  const u = new URL(base.href);
  u.search = '';
  u.hash = '';
  if (!u.pathname.endsWith('/')) u.pathname = u.pathname.slice(0, u.pathname.lastIndexOf('/') + 1);
  return u;
}

/**
 * The URL of file `name` of the model whose folder is `base` (a folder URL; a file URL stands for its folder).
 * Checks the name ({@link fileNameProblem}), resolves it against `base`, then compares: the result must have the
 * same origin and lie below the folder's path. Throws {@link UnsafePathError} naming `file` and `field` otherwise.
 */
export function resolveModelFile(base: URL, name: string, file = 'model', field = 'file'): URL {
  checkFileName(name, file, field);
  const folder = folderUrl(base);
  let url: URL;
  try {
    url = new URL(name, folder);
  } catch {
    throw new UnsafePathError(file, field, name, 'is not a valid URL path');
  }
  const inside =
    url.protocol === folder.protocol &&
    url.host === folder.host &&
    url.pathname.startsWith(folder.pathname) &&
    url.pathname.length > folder.pathname.length &&
    url.search === '' &&
    url.hash === '';
  if (!inside) throw new UnsafePathError(file, field, name, `resolves to ${url.href}, outside ${folder.href}`);
  return url;
}
