/** Model files in a folder on disk (Node only; not imported by browser code). */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type ModelFiles, ModelNotFoundError } from './model-files';

export function nodeFiles(dir: string): ModelFiles {
  const root = resolve(dir);
  return {
    location: root,
    async read(path) {
      try {
        const buf = await readFile(join(root, path));
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } catch (cause) {
        throw new ModelNotFoundError(join(root, path), { cause });
      }
    },
  };
}
