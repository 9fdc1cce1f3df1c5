// The page of errors.browser.test.ts: receives every sample error from a real Worker, rebuilds it as the worker proxy
// does (fromWire) and compares it with the same sample made here: class, name, code, message and own fields.
import { fromWire, type WireError } from '../../src/engine/wire-errors';
import { ERROR_CLASSES } from '../../src/errors';
import { ERROR_SAMPLES } from './error-samples';

/** One class's result, for the Node side. */
export interface RoundTrip {
  kind: string;
  sameClass: boolean;
  name: string;
  expectedName: string;
  code: unknown;
  expectedCode: unknown;
  message: string;
  expectedMessage: string;
  fields: string;
  expectedFields: string;
}

declare global {
  interface Window {
    __errors?: Promise<RoundTrip[]>;
  }
}

const own = (e: object): string => JSON.stringify(Object.fromEntries(Object.entries(e)));

window.__errors = new Promise<RoundTrip[]>((resolve, reject) => {
  const out: RoundTrip[] = [];
  const worker = new Worker(new URL('./errors-worker.ts', import.meta.url), { type: 'module' });
  worker.onerror = (e) => reject(new Error(e.message));
  worker.onmessage = (m: MessageEvent<{ kind: string; wire: WireError } | { done: true }>) => {
    if ('done' in m.data) {
      worker.terminate();
      resolve(out);
      return;
    }
    const { kind, wire } = m.data;
    const got = fromWire(wire) as Error & { code?: unknown };
    const want = ERROR_SAMPLES[kind as keyof typeof ERROR_SAMPLES]() as Error & { code?: unknown };
    const cls = ERROR_CLASSES[kind as keyof typeof ERROR_CLASSES];
    out.push({
      kind,
      sameClass: got instanceof cls && Object.getPrototypeOf(got) === cls.prototype,
      name: got.name,
      expectedName: want.name,
      code: got.code,
      expectedCode: want.code,
      message: got.message,
      expectedMessage: want.message,
      fields: own(got),
      expectedFields: own(want),
    });
  };
});
