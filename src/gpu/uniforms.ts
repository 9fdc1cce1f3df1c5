/**
 * Builds the bytes of a WGSL uniform struct whose fields are all 4-byte scalars (u32, i32, f32), in declaration
 * order. The result is padded to 16 bytes, as WGSL requires of a uniform struct's size.
 */
export class UniformBuilder {
  private readonly words: number[] = [];
  private readonly kinds: Array<'u32' | 'i32' | 'f32'> = [];

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`u32 uniform out of range: ${v}`);
    this.words.push(v);
    this.kinds.push('u32');
    return this;
  }

  i32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff)
      throw new RangeError(`i32 uniform out of range: ${v}`);
    this.words.push(v);
    this.kinds.push('i32');
    return this;
  }

  f32(v: number): this {
    this.words.push(v);
    this.kinds.push('f32');
    return this;
  }

  build(): ArrayBuffer {
    const n = Math.max(4, Math.ceil(this.words.length / 4) * 4);
    const buf = new ArrayBuffer(n * 4);
    const u = new Uint32Array(buf);
    const i = new Int32Array(buf);
    const f = new Float32Array(buf);
    this.words.forEach((w, k) => {
      const kind = this.kinds[k];
      if (kind === 'u32') u[k] = w;
      else if (kind === 'i32') i[k] = w;
      else f[k] = w;
    });
    return buf;
  }
}

/** WGSL type of a uniform field: every field is a 4-byte scalar. */
export type ScalarType = 'u32' | 'i32' | 'f32';

/** One field of a kernel's uniform struct: its name, WGSL type and what it holds (emitted as the WGSL comment). */
export type ParamField = readonly [name: string, type: ScalarType, doc: string];

/**
 * A kernel's uniform struct declared once: `wgsl` is the `struct Params` text spliced into the shader, `pack` builds
 * its bytes from named values, in the same order (padded to 16 bytes), so the two sides cannot drift apart.
 */
export class ParamsSchema<Name extends string> {
  readonly fields: readonly ParamField[];
  /** `struct Params { ... }` with one commented line per field and the padding WGSL needs. */
  readonly wgsl: string;

  constructor(fields: readonly ParamField[]) {
    this.fields = fields;
    const lines = fields.map(([n, t, doc]) => `  ${`${n}: ${t},`.padEnd(16)} // ${doc}`);
    const padded = Math.max(4, Math.ceil(fields.length / 4) * 4);
    for (let i = fields.length; i < padded; i++) lines.push(`  _pad${i - fields.length}: u32,`);
    this.wgsl = `struct Params {\n${lines.join('\n')}\n}\n`;
  }

  /** The uniform bytes for `values` (every field named; u32/i32 fields must be integers in range). */
  pack(values: Readonly<Record<Name, number>>): ArrayBuffer {
    const b = new UniformBuilder();
    for (const [n, t] of this.fields) b[t](values[n as Name]);
    return b.build();
  }
}

/** Declares a kernel's uniform struct (see {@link ParamsSchema}); field names become the keys `pack` takes. */
export function paramsSchema<const F extends readonly ParamField[]>(fields: F): ParamsSchema<F[number][0]> {
  return new ParamsSchema(fields);
}

/** WGSL `const FLAG_<NAME>: u32 = <bit>u;` lines for a kernel's flag bits, from the table the TS wrapper packs with. */
export function flagConstants(flags: Readonly<Record<string, number>>): string {
  return Object.entries(flags)
    .map(([n, v]) => `const FLAG_${n}: u32 = ${v}u;\n`)
    .join('');
}
