// The page of hostile.browser.test.ts: runs one hostile probe on a translator created in this thread or in a Web
// Worker (the public API and the worker entry), and reports the error's class, code and whether it is an instance of
// the public class here, on this side of the worker boundary.
import * as taskmoe from '../../src/index';

/** What a probe returns to the Node side. */
export interface ProbeResult {
  ok: boolean;
  name?: string;
  code?: string;
  message?: string;
  /** Whether the error is an instance of the public class of that name (and of TaskmoeError). */
  instance?: boolean;
}

declare global {
  interface Window {
    __hostile?: {
      ready: boolean;
      probe(model: string, inThread: boolean, kind: 'load' | 'oversize' | 'option'): Promise<ProbeResult>;
    };
  }
}

function describe(e: unknown): ProbeResult {
  const err = e as Error & { code?: string };
  const cls = (taskmoe as unknown as Record<string, unknown>)[err?.name];
  const instance = typeof cls === 'function' && e instanceof cls && e instanceof taskmoe.TaskmoeError;
  return { ok: false, name: err?.name, ...(err?.code ? { code: err.code } : {}), message: err?.message, instance };
}

window.__hostile = {
  ready: true,
  async probe(model, inThread, kind) {
    const worker = inThread
      ? null
      : new Worker(new URL('../../src/engine/worker.ts', import.meta.url), { type: 'module' });
    let t: taskmoe.Translator | null = null;
    try {
      t = await taskmoe.createTranslator({ model, backend: 'webgpu', ...(worker ? { worker } : {}) });
      if (kind === 'load') await t.load('de');
      if (kind === 'oversize') {
        await t.translate(['x'.repeat(taskmoe.TRANSLATE_LIMITS.charactersPerText + 1)], { to: 'de' });
      }
      if (kind === 'option') await t.translate(['Open the file.'], { to: 'de', beam: 9 });
      return { ok: true };
    } catch (e) {
      return describe(e);
    } finally {
      await t?.dispose().catch(() => {});
      worker?.terminate();
    }
  },
};
