/** Model files in a folder on disk (Node only; not imported by browser code). */
import { open, realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LimitExceededError, ModelNotFoundError, UnsafePathError } from '../errors';
import { MAX_FILE_BYTES } from './manifest';
import type { ModelFiles } from './model-files';
import { resolveModelFile } from './paths';

/**
 * Reads the regular file at `path`, at most `maxBytes` long. Anything else (a FIFO, a device such as /dev/zero, a
 * folder) is refused before it is opened, and a file whose real path (symbolic links followed) leaves `root` is
 * refused as {@link UnsafePathError}; a missing file is {@link ModelNotFoundError}.
 */
export async function readRegularFile(
  path: string,
  opts: { root?: string; maxBytes?: number; field?: string; signal?: AbortSignal } = {},
): Promise<Uint8Array> {
  const maxBytes = opts.maxBytes ?? MAX_FILE_BYTES;
  let real: string;
  try {
    real = await realpath(path);
  } catch (cause) {
    throw new ModelNotFoundError(path, { cause });
  }
  if (opts.root !== undefined) {
    const root = await realpath(opts.root).catch(() => opts.root as string);
    if (!real.startsWith(root.endsWith(sep) ? root : root + sep)) {
      throw new UnsafePathError('model', opts.field ?? 'file', path, `is a link to ${real}, outside ${root}`);
    }
  }
  const info = await stat(real);
  if (!info.isFile()) throw new UnsafePathError('model', opts.field ?? 'file', path, 'is not a regular file');
  if (info.size > maxBytes) {
    throw new LimitExceededError('bytesPerFile', info.size, maxBytes, path, {
      message: `${path} has ${info.size} bytes; the limit for this file is ${maxBytes}. Check that it is the right file.`,
    });
  }
  const fh = await open(real, 'r');
  try {
    const buf = new Uint8Array(info.size);
    let n = 0;
    while (n < buf.byteLength) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const { bytesRead } = await fh.read(buf, n, buf.byteLength - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return n === buf.byteLength ? buf : buf.slice(0, n);
  } finally {
    await fh.close();
  }
}

/**
 * The files of the model folder `dir`. Every name is resolved inside the folder (`resolveModelFile`), and only
 * regular files inside it are read ({@link readRegularFile}).
 */
export function nodeFiles(dir: string): ModelFiles {
  const base = pathToFileURL(dir.endsWith(sep) ? dir : dir + sep);
  const root = fileURLToPath(base);
  return {
    location: root.endsWith(sep) && root.length > 1 ? root.slice(0, -1) : root,
    async read(path, opts) {
      const file = fileURLToPath(resolveModelFile(base, path, 'model', path));
      try {
        await stat(file);
      } catch (cause) {
        throw new ModelNotFoundError(file, { cause });
      }
      return readRegularFile(file, { root, field: path, ...(opts?.signal ? { signal: opts.signal } : {}) });
    },
  };
}
