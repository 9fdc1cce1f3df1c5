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
