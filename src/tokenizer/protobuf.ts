/**
 * A minimal reader of the protobuf wire format (https://protobuf.dev/programming-guides/encoding/), enough to decode
 * `sentencepiece.ModelProto` without a protobuf runtime. It reads fields one at a time from a byte range and checks
 * every length against that range, so truncated or hostile bytes throw `TokenizerError` instead of reading past the
 * end or looping.
 */

import { TokenizerError } from '../errors';

/** Protobuf wire types. Groups (3, 4) are deprecated and not used by SentencePiece; they are rejected. */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

/** One field's key as read from the wire. */
export interface FieldKey {
  readonly field: number;
  readonly wireType: number;
}

/**
 * Sequential reader over one message's bytes. Call `next()` for each field key, then exactly one of the `read*`
 * methods matching the wire type (or `skip`).
 */
export class ProtoReader {
  private pos: number;
  private readonly end: number;
  private readonly dv: DataView;

  /**
   * @param bytes the message bytes (a sub-message's reader is made from `readBytes()`)
   * @param what what is being decoded, for error messages (e.g. 'sentencepiece model')
   */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.pos = 0;
    this.end = bytes.byteLength;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Throws a TokenizerError describing malformed wire data at the current position. */
  fail(problem: string): never {
    throw new TokenizerError(
      'malformed-model',
      `${this.what}: ${problem} at byte ${this.pos} of ${this.end}. The file is not a valid SentencePiece model; re-download or re-export it.`,
    );
  }

  /** True when every byte has been consumed. */
  done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads the next field key, or returns undefined at the end of the message. */
  next(): FieldKey | undefined {
    if (this.pos >= this.end) return undefined;
    const [lo, hi] = this.varint();
    // Field numbers are at most 2^29 - 1, so the key fits in 32 bits; anything larger is garbage.
    if (hi !== 0) this.fail('field key out of range');
    const field = lo >>> 3;
    const wireType = lo & 7;
    if (field === 0) this.fail('field number 0');
    return { field, wireType };
  }

  /** Reads a varint as [low 32 bits, high 32 bits], both unsigned. At most 10 bytes, as the format allows. */
  varint(): [number, number] {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.bytes[this.pos++]!;
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** Reads an int32 field (two's complement, sign-extended to 64 bits on the wire). */
  readInt32(wireType: number): number {
    this.expect(wireType, WireType.VARINT, 'int32');
    return this.varint()[0] | 0;
  }

  /** Reads a uint64 field as a number (exact up to 2^53). */
  readUint64(wireType: number): number {
    this.expect(wireType, WireType.VARINT, 'uint64');
    const [lo, hi] = this.varint();
    return hi * 2 ** 32 + lo;
  }

  /** Reads a bool field. */
  readBool(wireType: number): boolean {
    this.expect(wireType, WireType.VARINT, 'bool');
    const [lo, hi] = this.varint();
    return lo !== 0 || hi !== 0;
  }

  /** Reads a float field (32-bit IEEE, little-endian). */
  readFloat(wireType: number): number {
    this.expect(wireType, WireType.I32, 'float');
    if (this.end - this.pos < 4) this.fail('truncated float');
    const v = this.dv.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** Reads a length-delimited field's bytes (zero-copy subarray). */
  readBytes(wireType: number): Uint8Array {
    this.expect(wireType, WireType.LEN, 'bytes');
    const [lo, hi] = this.varint();
    if (hi !== 0 || lo > this.end - this.pos) this.fail(`length ${hi * 2 ** 32 + lo} runs past the end of the message`);
    const out = this.bytes.subarray(this.pos, this.pos + lo);
    this.pos += lo;
    return out;
  }

  /** Skips a field of any supported wire type (unknown fields are ignored, as protobuf parsers do). */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.VARINT:
        this.varint();
        return;
      case WireType.I64:
        if (this.end - this.pos < 8) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case WireType.LEN:
        this.readBytes(wireType);
        return;
      case WireType.I32:
        if (this.end - this.pos < 4) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }

  private expect(actual: number, wanted: number, type: string): void {
    if (actual !== wanted) this.fail(`a ${type} field has wire type ${actual}`);
  }
}
