import { ModelNotFoundError } from '../errors';
import { resolveModelFile } from './paths';

/** Where a model's files come from: a folder on disk, a URL, a cache. Paths are relative to the model's root. */
export interface ModelFiles {
  /** A name for messages (the folder or base URL). */
  readonly location: string;
  read(path: string, opts?: { signal?: AbortSignal }): Promise<Uint8Array>;
}

/** Model files served over HTTP(S) below `baseUrl` (a manifest's folder). */
export function fetchFiles(baseUrl: string, fetchImpl: typeof fetch = fetch): ModelFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return {
    location: base,
    async read(path, opts) {
      // Names stay inside the model's folder (UnsafePathError otherwise).
      const url = resolveModelFile(new URL(base, globalThis.location?.href ?? 'http://localhost/'), path).toString();
      let res: Response;
      try {
        res = await fetchImpl(url, opts?.signal ? { signal: opts.signal } : {});
      } catch (cause) {
        if (opts?.signal?.aborted) throw cause;
        throw new ModelNotFoundError(url, { cause });
      }
      if (!res.ok) throw new ModelNotFoundError(`${url} (HTTP ${res.status})`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}
