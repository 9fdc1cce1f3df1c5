// Errors crossing the worker boundary: structured clone keeps neither the class nor the fields of a TaskmoeError, so
// the worker sends {name, code, message, fields} and this side rebuilds an instance of the same class, looked up in
// src/errors.ts's ERROR_CLASSES (every error class of the library, so none arrives as a plain Error).
import { ERROR_CLASSES } from '../errors';

/** An error as it crosses a MessagePort. */
export interface WireError {
  /** Key of the error's class in this module's table (survives minification, unlike `name`). */
  kind: string;
  name: string;
  message: string;
  stack?: string;
  /** Own enumerable fields (code, language, available, file, ...), structured-cloneable. */
  fields: Record<string, unknown>;
}

/** The wire table: every error class of src/errors.ts by its source name (generated from that module's list). */
const CLASSES: Readonly<Record<string, { prototype: object }>> = ERROR_CLASSES;

/** Flattens an error for postMessage. */
export function toWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { kind: 'Error', name: 'Error', message: String(e), fields: {} };
  const proto = Object.getPrototypeOf(e);
  const kind = Object.keys(CLASSES).find((k) => CLASSES[k]?.prototype === proto) ?? 'Error';
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    try {
      structuredClone(v);
      fields[k] = v;
    } catch {
      // Not cloneable (e.g. a cause holding a GPU object): dropped.
    }
  }
  return { kind, name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}), fields };
}

/** Rebuilds an error from {@link toWire}: an instance of the same taskmoe class where there is one. */
export function fromWire(w: WireError): Error {
  const cls = CLASSES[w.kind];
  const e: Error = cls ? (Object.create(cls.prototype) as Error) : new Error(w.message);
  Object.defineProperty(e, 'message', { value: w.message, writable: true, configurable: true });
  Object.assign(e, w.fields);
  // A taskmoe class's table key is its source name, which a minifying bundler does not rename (e.name it may).
  Object.defineProperty(e, 'name', { value: cls ? w.kind : w.name, writable: true, configurable: true });
  if (w.stack) Object.defineProperty(e, 'stack', { value: w.stack, writable: true, configurable: true });
  return e;
}
