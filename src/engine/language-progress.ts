// One progress figure for everything a language needs, from the per-file progress of the shard loader: the total is
// summed from the manifest before anything is fetched, so that one bar can be drawn from the first report.
import type { Manifest, ManifestFile } from '../runtime/manifest';
import type { FileProgress, ShardLoader } from '../runtime/shard-loader';
import type { LanguageProgress, LoadOptions } from './translator';

/** Sums per-file progress over `files` into {@link LanguageProgress} reports for `onReport`. */
export class LanguageProgressTracker {
  private readonly sizes = new Map<string, number>();
  private readonly loaded = new Map<string, number>();
  private readonly total: number;
  private reported = -1;
  private readonly language: string;
  private readonly onReport: ((p: LanguageProgress) => void) | undefined;

  constructor(language: string, files: readonly ManifestFile[], onReport: ((p: LanguageProgress) => void) | undefined) {
    this.language = language;
    this.onReport = onReport;
    for (const f of files) this.sizes.set(f.file, f.bytes);
    this.total = files.reduce((n, f) => n + f.bytes, 0);
  }

  /** Reports `loaded` 0 of the total (before the first byte is fetched). */
  start(): void {
    this.report();
  }

  /** Counts one file's progress (a refetch never makes the sum go back). */
  file(p: FileProgress): void {
    const size = this.sizes.get(p.shard);
    if (size === undefined) return;
    this.loaded.set(p.shard, Math.max(this.loaded.get(p.shard) ?? 0, Math.min(p.loaded, size)));
    this.report();
  }

  /** Counts `files` as loaded at once (already in the cache, for a prefetch). */
  done(files: readonly ManifestFile[]): void {
    for (const f of files) if (this.sizes.has(f.file)) this.loaded.set(f.file, f.bytes);
    this.report();
  }

  /** Reports the whole total as loaded (the load succeeded). */
  finish(): void {
    for (const [f, n] of this.sizes) this.loaded.set(f, n);
    this.report();
  }

  private report(): void {
    let n = 0;
    for (const v of this.loaded.values()) n += v;
    if (n <= this.reported) return;
    this.reported = n;
    this.onReport?.({ language: this.language, loaded: n, total: this.total, files: this.sizes.size });
  }
}

/** A text or texts as the engines take them: a string is one text (never a list of characters). */
export function textList(input: string | readonly string[]): { texts: string[]; one: boolean } {
  if (typeof input === 'string') return { texts: [input], one: true };
  // Anything else that is not a list goes on as it is, for the option checks to name it.
  return { texts: Array.isArray(input) ? [...input] : (input as unknown as string[]), one: false };
}

/** Every file `manifest` lists: config, tokenizer, trunk and every language's shards. */
export function listedFiles(manifest: Manifest): ManifestFile[] {
  return [
    manifest.config,
    manifest.tokenizer,
    ...manifest.trunk,
    ...Object.values(manifest.tasks).flatMap((t) => t.shards),
  ];
}

/**
 * Downloads into the cache the files of `files` not cached yet, with per-file and whole-language progress (cached
 * files count as loaded at once). Shared by the WebGPU and WASM engines.
 */
export async function prefetchFiles(
  loader: ShardLoader,
  lang: string,
  files: readonly ManifestFile[],
  opts: LoadOptions,
): Promise<void> {
  const progress = new LanguageProgressTracker(lang, files, opts.onLanguageProgress);
  progress.start();
  const missing: ManifestFile[] = [];
  for (const f of files) if (!(await loader.has(f))) missing.push(f);
  progress.done(files.filter((f) => !missing.includes(f)));
  const onProgress = opts.onProgress;
  for (const f of missing) {
    await loader.load(f, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (p) => {
        onProgress?.(p);
        progress.file(p);
      },
    });
  }
  progress.finish();
}
