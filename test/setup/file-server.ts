// A fetch that serves a folder's files below a base URL, streamed in chunks, for loader and translator tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A fetch serving the files of `dir` below `base`, streamed in `chunkBytes` chunks with a Content-Length (404 for a
 * missing file; an aborted signal errors the stream); `requests` lists the file names asked for, in order.
 */
export function fileServer(base: string, dir: string, chunkBytes: number): { fetch: typeof fetch; requests: string[] } {
  const requests: string[] = [];
  return {
    requests,
    fetch: async (input, init) => {
      const name = String(input).slice(base.length);
      requests.push(name);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(join(dir, name)));
      } catch {
        return new Response('not found', { status: 404 });
      }
      const signal = init?.signal ?? undefined;
      let off = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          await new Promise((r) => setTimeout(r, 0));
          if (signal?.aborted) return ctl.error(new DOMException('aborted', 'AbortError'));
          if (off >= bytes.byteLength) return ctl.close();
          ctl.enqueue(bytes.slice(off, off + chunkBytes));
          off += chunkBytes;
        },
      });
      return new Response(body, { headers: { 'content-length': String(bytes.byteLength) } });
    },
  };
}
