// What a user may pass as a model, turned into the URL of its manifest.json and a way to read it: a model folder or
// its manifest.json, as a filesystem path or file:// URL (Node) or an http(s) URL (anywhere, relative to the page
// in a browser). Browser-safe: Node's fs is reached only when a file: URL is read, through the running Node itself.
import {
  LimitExceededError,
  ModelFormatError,
  ModelLocationError,
  ModelNotFoundError,
  UnsafePathError,
} from '../errors';
import { parseModelConfig } from '../model/config';
import { MAX_FILE_BYTES, type Manifest, type ManifestFile } from './manifest';
import type { ModelFiles } from './model-files';

/** Where a model is: its manifest's absolute URL and the folder URL its files are named against. */
export interface ModelLocation {
  /** Absolute URL of manifest.json (file:, http: or https:). */
  manifestUrl: string;
  /** Absolute URL of the folder holding manifest.json, ending in "/". */
  baseUrl: string;
  /** True when the model is on this machine's disk (a file: URL; Node only). */
  local: boolean;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const WINDOWS_DRIVE = /^[a-z]:[\\/]/i;

/** True in Node (and runtimes that imitate it), where a string without a scheme is a filesystem path. */
function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string' && typeof (globalThis as { location?: unknown }).location !== 'object';
}

/** The file: URL of filesystem path `path` (absolute, or relative to the working directory). */
function fileUrlOfPath(path: string): URL {
  const proc = (globalThis as { process?: { cwd(): string; platform?: string } }).process;
  let p = path;
  if (proc?.platform === 'win32') p = p.replaceAll('\\', '/');
  // Characters that a URL parser would read as syntax, not as part of a file name.
  const escaped = p.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (WINDOWS_DRIVE.test(p)) return new URL(`file:///${escaped}`);
  let cwd = (proc?.cwd() ?? '/').replaceAll('\\', '/');
  if (!cwd.endsWith('/')) cwd += '/';
  if (WINDOWS_DRIVE.test(cwd)) cwd = `/${cwd}`;
  const cwdUrl = new URL(`file://${cwd.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`);
  return new URL(escaped, cwdUrl);
}

/**
 * Resolves a model specification: a model folder or its manifest.json, as an absolute or relative URL (relative to
 * the page or worker in a browser), a `file://` URL or a filesystem path (Node only; relative to the working
 * directory). A specification whose last segment ends in `.json` names the manifest; anything else names the folder
 * holding `manifest.json`. Throws {@link ModelLocationError} for what this runtime cannot read.
 */
export function resolveModelLocation(spec: string | URL): ModelLocation {
  const text = String(spec);
  if (text.trim() === '') throw new ModelLocationError(text, 'it is empty');
  let url: URL;
  if (spec instanceof URL || (SCHEME.test(text) && !WINDOWS_DRIVE.test(text))) {
    try {
      url = new URL(text);
    } catch {
      throw new ModelLocationError(text, 'it is not a valid URL');
    }
  } else if (isNode()) {
    url = fileUrlOfPath(text);
  } else {
    const here = (globalThis as { location?: { href: string } }).location?.href;
    if (!here) throw new ModelLocationError(text, 'a relative URL needs a page or worker to resolve against');
    url = new URL(text, here);
  }
  if (url.protocol === 'file:' && !isNode()) {
    throw new ModelLocationError(text, 'file: URLs can be read in Node only; serve the model over http(s)');
  }
  if (url.protocol !== 'file:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ModelLocationError(text, `the scheme "${url.protocol}" is not supported`);
  }
  url.hash = '';
  const last = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  if (!last.toLowerCase().endsWith('.json')) {
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    url = new URL('manifest.json', url);
  }
  const manifestUrl = url.toString();
  const base = new URL('./', url);
  base.search = '';
  return { manifestUrl, baseUrl: base.toString(), local: url.protocol === 'file:' };
}

/** The part of Node's fs/promises this module uses. */
interface NodeFs {
  readFile(path: URL, opts?: { signal?: AbortSignal }): Promise<Uint8Array>;
  stat(path: URL): Promise<{ isFile(): boolean; size: number }>;
}

/** Node's fs/promises, reached without a static import so that browser bundles never see it. */
async function nodeFs(): Promise<NodeFs> {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const builtin = proc?.getBuiltinModule?.('node:fs/promises') as NodeFs | undefined;
  if (builtin) return builtin;
  const id = 'node:fs/promises';
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ id)) as NodeFs;
}

function isMissing(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/**
 * `fetchImpl` extended to `file:` URLs (Node): the file's bytes with status 200, or status 404 when it does not
 * exist. A `manifest.json` missing from a folder that holds a model export (config.json, tokenizer, weights) is made
 * in memory from those files ({@link wholeModelManifest}), so an unextracted export loads as it is shipped.
 */
export function fileAwareFetch(fetchImpl: typeof fetch = (i, o) => fetch(i, o)): typeof fetch {
  return async (input, init) => {
    const href = input instanceof Request ? input.url : String(input);
    if (!href.startsWith('file:')) return fetchImpl(input, init);
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();
    const url = new URL(href);
    url.search = '';
    const fs = await nodeFs();
    const read = async (u: URL): Promise<Uint8Array | null> => {
      try {
        // Only regular files (links followed), never larger than any model file may be: a FIFO or a device such as
        // /dev/zero would block or never end.
        const info = await fs.stat(u);
        if (!info.isFile()) throw new UnsafePathError('model', 'file', u.href, 'is not a regular file');
        if (info.size > MAX_FILE_BYTES) {
          throw new LimitExceededError('bytesPerFile', info.size, MAX_FILE_BYTES, u.href, {
            message: `${u.href} has ${info.size} bytes, more than any model file may have (${MAX_FILE_BYTES}).`,
          });
        }
        return await fs.readFile(u, signal ? { signal } : {});
      } catch (e) {
        if (isMissing(e)) return null;
        throw e;
      }
    };
    let bytes = await read(url);
    if (!bytes && url.pathname.endsWith('/manifest.json')) {
      const dir = new URL('./', url);
      if (await read(new URL('config.json', dir))) {
        const manifest = await wholeModelManifest({
          location: dir.toString(),
          read: async (path) => {
            const b = await read(new URL(path, dir));
            if (!b) throw new ModelNotFoundError(new URL(path, dir).toString());
            return b;
          },
        });
        bytes = new TextEncoder().encode(JSON.stringify(manifest));
      }
    }
    if (!bytes) return new Response(null, { status: 404, statusText: 'Not Found' });
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      status: 200,
      headers: { 'content-length': String(bytes.byteLength) },
    });
  };
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The manifest of a model served whole, as the training pipeline exports it (config.json naming its tokenizer and
 * weight shards; no per-language shards): every file with bytes and sha256, every language needing all of them.
 * `taskmoe extract` writes the smaller per-language form of a task-routed model.
 */
export async function wholeModelManifest(files: ModelFiles): Promise<Manifest> {
  const configBytes = await files.read('config.json');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(configBytes));
  } catch {
    throw new ModelFormatError(`${files.location}: config.json is not valid JSON`);
  }
  const cfg = parseModelConfig(json);
  const entry = async (file: string, known?: Uint8Array): Promise<ManifestFile> => {
    const bytes = known ?? (await files.read(file));
    return { file, bytes: bytes.byteLength, sha256: await sha256(bytes) };
  };
  const trunk: ManifestFile[] = [];
  for (const s of cfg.shards) trunk.push(await entry(s));
  return {
    format: 'taskmoe-manifest',
    version: 1,
    model: cfg.variant,
    extracted: false,
    config: await entry('config.json', configBytes),
    tokenizer: await entry(cfg.tokenizer),
    trunk,
    tasks: Object.fromEntries(cfg.languages.map((l) => [l, { shards: [], bytes: 0 }])),
    features: [],
    memory: { trunkBytes: trunk.reduce((n, f) => n + f.bytes, 0), taskBytes: {} },
  };
}
