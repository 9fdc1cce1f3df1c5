/**
 * Reader and writer of the safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON describing every tensor, then the raw tensor bytes.
 *
 * Model files arrive over the network and from caches, so every field is validated before anything is read: a
 * malformed file throws `SafetensorsError` (code 'malformed-model') and never reads out of bounds, throws another
 * error type, or spends time proportional to a claimed (rather than actual) size. Plain TypeScript on Uint8Array and
 * DataView, so it runs in browsers, workers and Node alike.
 */

import { SafetensorsError } from '../errors';
import type { ModelFiles } from './model-files';

/** The element types of the safetensors format that taskmoe can read. */
export type SafetensorsDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'I64'
  | 'U64'
  | 'F64';

/** Bytes per element of each dtype. Sub-byte dtypes (F4, F6) are not listed, so they are rejected as unknown. */
export const SAFETENSORS_ITEM_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/** One tensor's entry in the header. `begin` and `end` are byte offsets relative to the start of the data section. */
export interface SafetensorsTensorInfo {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A parsed safetensors file. The tensor data is not copied: `view` returns subarrays of the bytes given to parse. */
export interface SafetensorsFile {
  /** The `__metadata__` string map (empty when absent). */
  readonly metadata: Record<string, string>;
  /** Every tensor by name, in header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** Absolute byte offset of the data section in the file (8 + header length). */
  readonly dataOffset: number;
  /** The tensor's raw bytes, zero-copy (a subarray of the file bytes). */
  view(name: string): Uint8Array;
  /**
   * The tensor as f32 values, converting F16 and BF16. An aligned F32 tensor is returned zero-copy (it shares memory
   * with the file bytes: copy it before writing to it); everything else is a fresh array.
   */
  f32(name: string): Float32Array;
  /** The raw IEEE half bits of an F16 tensor, for uploading f16 weights unchanged; zero-copy when 2-byte aligned. */
  f16Bits(name: string): Uint16Array;
}

/** Options of `parseSafetensors`. */
export interface ParseSafetensorsOptions {
  /** Largest accepted JSON header, in bytes (default 100 MB, the limit of the reference implementation). */
  maxHeaderBytes?: number;
  /** Name used in error messages, e.g. the file name or URL (default 'safetensors file'). */
  name?: string;
}

const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

// Typed-array views use the platform byte order; on a big-endian platform every multi-byte read goes through DataView.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.hasOwn(SAFETENSORS_ITEM_SIZE, s);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and validates a safetensors file held in memory.
 *
 * Checks: the 8-byte header length lies within the file and under `maxHeaderBytes`; the header is valid UTF-8 JSON
 * whose top level is an object (trailing spaces, as written for alignment, are accepted; NUL padding is not); every
 * entry has a known dtype, a shape of non-negative safe integers and `data_offsets` [begin, end] inside the data
 * section with end - begin = numel * itemsize; no two tensors overlap; `__metadata__`, if present, maps strings to
 * strings. Any violation throws `SafetensorsError`.
 */
export function parseSafetensors(bytes: Uint8Array, opts: ParseSafetensorsOptions = {}): SafetensorsFile {
  const file = opts.name ?? 'safetensors file';
  const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const fail = (problem: string, cause?: unknown): never => {
    throw new SafetensorsError(
      `${file}: ${problem}. The file is not a valid safetensors file; re-export or re-download it.`,
      cause === undefined ? undefined : { cause },
    );
  };

  if (!(bytes instanceof Uint8Array)) fail('expected the file bytes as a Uint8Array');
  if (bytes.byteLength < 8) fail(`the file has ${bytes.byteLength} bytes, fewer than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // u64 read as two u32 halves: a non-zero high half is already far beyond any sane header.
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (hi !== 0 || headerLen > maxHeader) fail(`the header length ${headerLen} exceeds the limit of ${maxHeader} bytes`);
  if (headerLen < 2) fail(`the header length ${headerLen} is too small for a JSON object`);
  if (8 + headerLen > bytes.byteLength) {
    fail(`the header length ${headerLen} runs past the end of the file (${bytes.byteLength} bytes)`);
  }
  // The reference implementation requires the JSON to start with '{'; checking the byte also rejects a BOM.
  if (bytes[8] !== 0x7b) fail(`the header does not start with '{' (byte 0x${bytes[8]!.toString(16)})`);

  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch (e) {
    fail('the header is not valid UTF-8', e);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message})`, e);
  }
  if (!isPlainObject(header)) fail('the header is not a JSON object');
  const root = header as Record<string, unknown>;

  const dataOffset = 8 + headerLen;
  const dataLen = bytes.byteLength - dataOffset;
  const metadataEntries: [string, string][] = [];
  const tensors = new Map<string, SafetensorsTensorInfo>();

  for (const [name, entry] of Object.entries(root)) {
    if (name === '__metadata__') {
      // The reference implementation reads __metadata__ as an optional map, so null means "none".
      if (entry === null) continue;
      if (!isPlainObject(entry)) fail('__metadata__ is not a JSON object');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__["${k}"] is not a string`);
        metadataEntries.push([k, v as string]);
      }
      continue;
    }
    const where = `tensor "${name}"`;
    if (!isPlainObject(entry)) fail(`${where}: the entry is not a JSON object`);
    const e = entry as Record<string, unknown>;
    const { dtype, shape, data_offsets: offsets } = e;
    if (!isDtype(dtype)) fail(`${where}: unknown dtype ${JSON.stringify(dtype) ?? 'undefined'}`);
    const dt = dtype as SafetensorsDtype;
    if (!Array.isArray(shape)) fail(`${where}: shape is not an array`);
    const dims = shape as unknown[];
    for (const d of dims) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        fail(`${where}: shape ${JSON.stringify(shape)} has a dimension that is not a non-negative integer`);
      }
    }
    if (!Array.isArray(offsets) || offsets.length !== 2) fail(`${where}: data_offsets is not a [begin, end] pair`);
    const [begin, end] = offsets as unknown[];
    if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin)) {
      fail(`${where}: data_offsets ${JSON.stringify(offsets)} are not integers`);
    }
    if (!Number.isSafeInteger(end) || (begin as number) < 0 || (begin as number) > (end as number)) {
      fail(`${where}: data_offsets ${JSON.stringify(offsets)} are not a valid range`);
    }
    const b = begin as number;
    const en = end as number;
    if (en > dataLen) fail(`${where}: data_offsets [${b}, ${en}] run past the data section (${dataLen} bytes)`);
    // numel is computed against the data size as it grows, so a huge shape never overflows or loops long; a zero
    // dimension anywhere makes the tensor empty whatever the other dimensions claim.
    const itemSize = SAFETENSORS_ITEM_SIZE[dt];
    const size = (dims as number[]).includes(0) ? 0 : boundedByteSize(dims as number[], itemSize, dataLen);
    if (size !== en - b) {
      fail(
        `${where}: shape ${JSON.stringify(shape)} of ${dt} needs ${size < 0 ? `more than ${dataLen}` : size} bytes but data_offsets [${b}, ${en}] hold ${en - b}`,
      );
    }
    tensors.set(name, Object.freeze({ dtype: dt, shape: Object.freeze([...(dims as number[])]), begin: b, end: en }));
  }

  // Overlap check on the sorted non-empty ranges: O(n log n) whatever the tensor count.
  const ranges = [...tensors.entries()].filter(([, t]) => t.end > t.begin).sort(([, a], [, b]) => a.begin - b.begin);
  for (let i = 1; i < ranges.length; i++) {
    const [prevName, prev] = ranges[i - 1]!;
    const [curName, cur] = ranges[i]!;
    if (cur.begin < prev.end) {
      fail(
        `tensors "${prevName}" [${prev.begin}, ${prev.end}] and "${curName}" [${cur.begin}, ${cur.end}] overlap in the data section`,
      );
    }
  }

  const metadata: Record<string, string> = Object.fromEntries(metadataEntries);
  const get = (name: string): SafetensorsTensorInfo => {
    const t = tensors.get(name);
    if (t === undefined) {
      throw new SafetensorsError(
        `${file}: has no tensor "${name}". Check that the file matches the model configuration (it holds ${tensors.size} tensors).`,
      );
    }
    return t;
  };
  const view = (name: string): Uint8Array => {
    const t = get(name);
    return bytes.subarray(dataOffset + t.begin, dataOffset + t.end);
  };

  return {
    metadata,
    tensors,
    dataOffset,
    view,
    f32(name: string): Float32Array {
      const t = get(name);
      const raw = view(name);
      switch (t.dtype) {
        case 'F32':
          return typedF32(raw);
        case 'F16':
          return f16ToF32(typedU16(raw));
        case 'BF16':
          return bf16ToF32(typedU16(raw));
        default:
          throw new SafetensorsError(
            `${file}: tensor "${name}" is ${t.dtype}; f32() converts only F32, F16 and BF16 tensors.`,
          );
      }
    },
    f16Bits(name: string): Uint16Array {
      const t = get(name);
      if (t.dtype !== 'F16') {
        throw new SafetensorsError(`${file}: tensor "${name}" is ${t.dtype}; f16Bits() reads only F16 tensors.`);
      }
      return typedU16(view(name));
    },
  };
}

/** Byte size of a tensor, or -1 as soon as the running product exceeds `limit` (all dims are positive here). */
function boundedByteSize(dims: readonly number[], itemSize: number, limit: number): number {
  let size = itemSize;
  for (const d of dims) {
    size *= d;
    if (size > limit) return -1;
  }
  return size;
}

function typedF32(raw: Uint8Array): Float32Array {
  const n = raw.byteLength / 4;
  if (LITTLE_ENDIAN && raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, n);
  const out = new Float32Array(n);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  return out;
}

function typedU16(raw: Uint8Array): Uint16Array {
  const n = raw.byteLength / 2;
  if (LITTLE_ENDIAN && raw.byteOffset % 2 === 0) return new Uint16Array(raw.buffer, raw.byteOffset, n);
  const out = new Uint16Array(n);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < n; i++) out[i] = dv.getUint16(2 * i, true);
  return out;
}

// f16 -> f32 through a 65536-entry table built on first use: exact (every half is representable in f32) and fast.
let f16Table: Float32Array | undefined;

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Converts raw IEEE half bits to f32 values (exact). */
export function f16ToF32(bits: Uint16Array): Float32Array {
  if (f16Table === undefined) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = halfToFloat(h);
  }
  const table = f16Table;
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/** Converts raw bfloat16 bits to f32 values (exact: bf16 is the top half of an f32). */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const u32 = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u32[i] = bits[i]! << 16;
  return out;
}

/** One tensor to write: dtype, shape and its raw little-endian bytes. */
export interface SafetensorsTensorInput {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: Uint8Array;
}

/**
 * Serializes tensors (in the given order, packed without gaps) and optional string metadata to safetensors bytes.
 * The header is padded with spaces to a multiple of 8 bytes, as the reference implementation does, so the data
 * section starts aligned. Throws `SafetensorsError` when a tensor's byte length does not match its dtype and shape.
 */
export function writeSafetensors(
  tensors: Record<string, SafetensorsTensorInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new SafetensorsError('writeSafetensors: "__metadata__" is not a tensor name.');
    if (!isDtype(t.dtype))
      throw new SafetensorsError(`writeSafetensors: tensor "${name}" has unknown dtype ${t.dtype}.`);
    let numel = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new SafetensorsError(
          `writeSafetensors: tensor "${name}" has an invalid shape ${JSON.stringify(t.shape)}.`,
        );
      }
      numel *= d;
    }
    const size = numel * SAFETENSORS_ITEM_SIZE[t.dtype];
    if (size !== t.data.byteLength) {
      throw new SafetensorsError(
        `writeSafetensors: tensor "${name}" (${t.dtype} ${JSON.stringify(t.shape)}) needs ${size} bytes but has ${t.data.byteLength}.`,
      );
    }
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + padded + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, padded % 2 ** 32, true);
  dv.setUint32(4, Math.floor(padded / 2 ** 32), true);
  out.set(json, 8);
  let pos = 8 + padded;
  for (const [, t] of entries) {
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Reads and parses the safetensors shards `names` of a model folder, in order (a task's shard, then the trunk's). */
export async function readShards(
  files: Pick<ModelFiles, 'read'>,
  names: readonly string[],
): Promise<SafetensorsFile[]> {
  const out: SafetensorsFile[] = [];
  for (const n of names) out.push(parseSafetensors(await files.read(n), { name: n }));
  return out;
}
