// A small declarative validator: each file format and option set declares its fields once (config.json in
// model/config.ts, manifest.json in runtime/manifest.ts, translate options in engine/options.ts) and is checked once,
// at the boundary, before any work or allocation. A failed check calls the format's own `fail`, which throws that
// format's typed error naming the file and the field.

/** Throws the format's typed error for `field` (a path such as `tasks.de.shards[0].bytes`). */
export type Fail = (field: string, problem: string) => never;

/** Checks one value at `field`; returns it typed, or calls `fail`. */
export type Rule<T> = (v: unknown, field: string, fail: Fail) => T;

/** The output type of a rule. */
export type Out<R> = R extends Rule<infer T> ? T : never;

function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}

/** A language code as models name their tasks: letters, digits, `-` and `_`, at most 35 characters. */
export const LANGUAGE_CODE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,34}$/;

/** An integer in [min, max]. */
export function int(min: number, max: number): Rule<number> {
  return (v, field, fail) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      fail(field, `must be an integer from ${min} to ${max}, got ${show(v)}`);
    }
    return v as number;
  };
}

/** A finite number with `gt < v <= max`. */
export function num(gt: number, max: number): Rule<number> {
  return (v, field, fail) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v > gt) || v > max) {
      fail(field, `must be a number greater than ${gt} and at most ${max}, got ${show(v)}`);
    }
    return v as number;
  };
}

/** A boolean. */
export const bool: Rule<boolean> = (v, field, fail) => {
  if (typeof v !== 'boolean') fail(field, `must be true or false, got ${show(v)}`);
  return v as boolean;
};

/** A string of at most `maxLength` code units matching `pattern` (when given). */
export function str(maxLength: number, pattern?: RegExp, what = 'a string'): Rule<string> {
  return (v, field, fail) => {
    if (typeof v !== 'string' || v.length > maxLength || (pattern && !pattern.test(v))) {
      fail(field, `must be ${what} of at most ${maxLength} characters, got ${show(v)}`);
    }
    return v as string;
  };
}

/** One of the listed strings. */
export function oneOf<T extends string>(...values: T[]): Rule<T> {
  return (v, field, fail) => {
    if (typeof v !== 'string' || !(values as string[]).includes(v)) {
      fail(field, `must be one of ${values.join(', ')}, got ${show(v)}`);
    }
    return v as T;
  };
}

/** A constant value. */
export function literal<T extends string | number | boolean>(value: T): Rule<T> {
  return (v, field, fail) => {
    if (v !== value) fail(field, `must be ${show(value)}, got ${show(v)}`);
    return value;
  };
}

/** A list of `min` to `max` items, each checked by `item`. */
export function list<T>(item: Rule<T>, min: number, max: number): Rule<T[]> {
  return (v, field, fail) => {
    if (!Array.isArray(v) || v.length < min || v.length > max) {
      fail(field, `must be a list of ${min} to ${max} items, got ${Array.isArray(v) ? `${v.length} items` : show(v)}`);
    }
    // An index loop, not map(): map skips the holes of a sparse array, which would pass unchecked.
    const a = v as unknown[];
    const out: T[] = new Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = item(a[i], `${field}[${i}]`, fail);
    return out;
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An object with up to `max` keys matching `key`, each value checked by `value`. */
export function dict<T>(value: Rule<T>, max: number, key: RegExp = /^.{1,200}$/su): Rule<Record<string, T>> {
  return (v, field, fail) => {
    if (!isRecord(v)) fail(field, `must be an object, got ${show(v)}`);
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length > max) fail(field, `must have at most ${max} entries, got ${entries.length}`);
    const out: Record<string, T> = Object.create(null);
    for (const [k, x] of entries) {
      if (!key.test(k)) fail(field, `has an invalid key ${show(k)}`);
      out[k] = value(x, `${field}.${k}`, fail);
    }
    return out;
  };
}

/** Marks a field of {@link obj} as optional: absent (undefined) passes as undefined. */
export function optional<T>(rule: Rule<T>): Rule<T | undefined> & { optional: true } {
  const r = ((v, field, fail) => (v === undefined ? undefined : rule(v, field, fail))) as Rule<T | undefined> & {
    optional: true;
  };
  r.optional = true;
  return r;
}

/** A value passed through unchecked (fields kept for information only). */
export const any: Rule<unknown> = (v) => v;

type Shape = Record<string, Rule<unknown>>;

/** The object type a shape of rules declares. */
export type ShapeOut<S extends Shape> = { [K in keyof S]: Out<S[K]> };

/**
 * An object whose fields are declared by `shape`; other keys are allowed and ignored (the caller may keep them).
 * `field` names are joined with dots.
 */
export function obj<S extends Shape>(shape: S): Rule<ShapeOut<S>> {
  return (v, field, fail) => {
    if (!isRecord(v)) fail(field || 'the file', `must be an object, got ${show(v)}`);
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, rule] of Object.entries(shape)) {
      const has = Object.hasOwn(o, k);
      if (!has && !(rule as { optional?: boolean }).optional) fail(field ? `${field}.${k}` : k, 'is missing');
      out[k] = rule(has ? o[k] : undefined, field ? `${field}.${k}` : k, fail);
    }
    return out as ShapeOut<S>;
  };
}
