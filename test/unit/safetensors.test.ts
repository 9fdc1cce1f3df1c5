import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../../src/errors';
import {
  bf16ToF32,
  f16ToF32,
  parseSafetensors,
  type SafetensorsFile,
  writeSafetensors,
} from '../../src/runtime/safetensors';

const FIXTURE = new URL('../fixtures/safetensors/reference.safetensors', import.meta.url);

/** Small deterministic PRNG (mulberry32) so the fuzz loop is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds a file from a raw header string and data bytes (no validation: for hostile inputs). */
function rawFile(header: string, data: Uint8Array = new Uint8Array(0), headerLen?: number): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  const dv = new DataView(out.buffer);
  const len = headerLen ?? json.byteLength;
  dv.setUint32(0, len % 2 ** 32, true);
  dv.setUint32(4, Math.floor(len / 2 ** 32), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

function expectMalformed(fn: () => unknown): SafetensorsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    expect((e as SafetensorsError).code).toBe('malformed-model');
    return e as SafetensorsError;
  }
  throw new Error('expected a SafetensorsError, but parsing succeeded');
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

describe('safetensors: files written by the Python reference library', () => {
  const bytes = new Uint8Array(readFileSync(FIXTURE));
  const file = parseSafetensors(bytes, { name: 'reference.safetensors' });

  it('reads metadata, names, dtypes and shapes', () => {
    expect(file.metadata).toEqual({ format: 'pt', note: 'taskmoe fixture ✓' });
    const summary = Object.fromEntries([...file.tensors].map(([n, t]) => [n, `${t.dtype}${JSON.stringify(t.shape)}`]));
    expect(summary).toEqual({
      w_f32: 'F32[2,3]',
      w_f16: 'F16[5]',
      w_bf16: 'BF16[2,2]',
      ids: 'I32[4]',
      big: 'I64[2]',
      mask: 'U8[3]',
      empty: 'F32[0,4]',
      scalar: 'F32[]',
    });
    expect(file.dataOffset).toBe(8 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true));
  });

  it('converts F32, F16 and BF16 to f32 exactly', () => {
    expect([...file.f32('w_f32')]).toEqual([-1, -0.5, 0, 0.5, 1, 1.5]);
    expect([...file.f32('w_f16')]).toEqual([1, -2, 0.5, 65504, 2 ** -24]);
    expect([...file.f32('w_bf16')]).toEqual([1, -1.5, 3.140625, -0.0078125]);
    expect([...file.f32('scalar')]).toEqual([42]);
    expect(file.f32('empty').length).toBe(0);
  });

  it('returns raw half bits and zero-copy views', () => {
    expect([...file.f16Bits('w_f16')]).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001]);
    const v = file.view('mask');
    expect([...v]).toEqual([0, 1, 255]);
    expect(v.buffer).toBe(bytes.buffer);
    const ids = file.view('ids');
    expect([...new Int32Array(ids.slice().buffer)]).toEqual([0, -1, 2 ** 31 - 1, 7]);
    const big = file.view('big');
    expect([...new BigInt64Array(big.slice().buffer)]).toEqual([2n ** 40n, -3n]);
  });

  it('throws SafetensorsError for a missing tensor or a dtype the accessor cannot read', () => {
    expect(expectMalformed(() => file.view('nope')).message).toContain('"nope"');
    expect(expectMalformed(() => file.f32('ids')).message).toContain('I32');
    expect(expectMalformed(() => file.f16Bits('w_f32')).message).toContain('F32');
  });
});

describe('safetensors: writer', () => {
  it('round-trips every dtype, metadata and empty/scalar tensors', () => {
    const half = new Uint16Array([0x3c00, 0x8001, 0x7c00, 0xfc00]);
    const bf = new Uint16Array([0x3f80, 0xbfc0, 0x0000, 0x8000]);
    const tensors = {
      a: { dtype: 'F32' as const, shape: [2, 2], data: f32Bytes([1, 2, 3, -4]) },
      h: { dtype: 'F16' as const, shape: [4], data: new Uint8Array(half.buffer) },
      b: { dtype: 'BF16' as const, shape: [2, 2], data: new Uint8Array(bf.buffer) },
      u: { dtype: 'U8' as const, shape: [3], data: new Uint8Array([9, 8, 7]) },
      z: { dtype: 'I64' as const, shape: [0], data: new Uint8Array(0) },
      s: { dtype: 'F64' as const, shape: [], data: new Uint8Array(new Float64Array([Math.PI]).buffer) },
    };
    const bytes = writeSafetensors(tensors, { k: 'v', emoji: '🙂' });
    expect(new DataView(bytes.buffer).getUint32(0, true) % 8).toBe(0);
    const f = parseSafetensors(bytes);
    expect(f.metadata).toEqual({ k: 'v', emoji: '🙂' });
    expect([...f.tensors.keys()]).toEqual(['a', 'h', 'b', 'u', 'z', 's']);
    for (const [name, t] of Object.entries(tensors)) {
      expect(f.tensors.get(name)!.dtype).toBe(t.dtype);
      expect(f.tensors.get(name)!.shape).toEqual(t.shape);
      expect([...f.view(name)]).toEqual([...t.data]);
    }
    expect([...f.f32('a')]).toEqual([1, 2, 3, -4]);
    expect([...f.f32('h')]).toEqual([1, -(2 ** -24), Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect([...f.f32('b')]).toEqual([1, -1.5, 0, -0]);
  });

  it('rejects inconsistent tensors', () => {
    expectMalformed(() => writeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Uint8Array(8) } }));
    expectMalformed(() => writeSafetensors({ a: { dtype: 'F32', shape: [-1], data: new Uint8Array(0) } }));
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong dtype
    expectMalformed(() => writeSafetensors({ a: { dtype: 'Q4' as any, shape: [1], data: new Uint8Array(1) } }));
  });

  it('reads tensors at unaligned offsets (copying) and at aligned ones (zero-copy)', () => {
    // A 1-byte tensor first puts the F32 and F16 tensors at odd offsets inside the data section.
    const bytes = writeSafetensors({
      pad: { dtype: 'U8', shape: [1], data: new Uint8Array([5]) },
      x: { dtype: 'F32', shape: [3], data: f32Bytes([1.5, -2, 1e-3]) },
      h: { dtype: 'F16', shape: [2], data: new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer) },
      y: { dtype: 'BF16', shape: [1], data: new Uint8Array(new Uint16Array([0x4049]).buffer) },
    });
    const f = parseSafetensors(bytes);
    expect((f.dataOffset + f.tensors.get('x')!.begin) % 4).not.toBe(0);
    expect([...f.f32('x')]).toEqual([...new Float32Array([1.5, -2, 1e-3])]);
    expect([...f.f16Bits('h')]).toEqual([0x3c00, 0xc000]);
    expect([...f.f32('h')]).toEqual([1, -2]);
    expect([...f.f32('y')]).toEqual([3.140625]);
    // The same file placed at an odd offset of a bigger buffer: every typed read must still work.
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 3);
    const g = parseSafetensors(shifted.subarray(3));
    expect([...g.f32('x')]).toEqual([...f.f32('x')]);
    // Aligned F32 is returned without a copy.
    const aligned = parseSafetensors(writeSafetensors({ x: { dtype: 'F32', shape: [2], data: f32Bytes([1, 2]) } }));
    expect(aligned.f32('x').buffer).toBe(aligned.view('x').buffer);
  });

  it('converts every half-precision bit pattern like the reference formula', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = f16ToF32(all);
    for (const h of [0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3555, 0x3c00, 0x7bff, 0x7c00, 0xfc00]) {
      const sign = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 0x1f;
      const m = h & 0x3ff;
      const expected =
        e === 0 ? sign * m * 2 ** -24 : e === 31 ? sign * Infinity : sign * (1 + m / 1024) * 2 ** (e - 15);
      expect(f[h]).toBe(expected);
    }
    expect(Number.isNaN(f[0x7e00])).toBe(true);
    expect([...bf16ToF32(new Uint16Array([0x3f80, 0x7f80, 0xff80]))]).toEqual([1, Infinity, -Infinity]);
  });
});

describe('safetensors: hostile input', () => {
  const valid = writeSafetensors(
    {
      a: { dtype: 'F32', shape: [2, 3], data: f32Bytes([1, 2, 3, 4, 5, 6]) },
      b: { dtype: 'F16', shape: [4], data: new Uint8Array(8) },
    },
    { m: 'x' },
  );
  const headerLen = new DataView(valid.buffer).getUint32(0, true);
  const d24 = new Uint8Array(24);
  const t = (entry: string) => rawFile(`{"t":${entry}}`, d24);

  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['empty file', () => new Uint8Array(0), /fewer than the 8-byte/],
    ['7 bytes', () => valid.subarray(0, 7), /fewer than the 8-byte/],
    ['header length past the end', () => rawFile('{}', new Uint8Array(0), 1000), /past the end/],
    ['header length 2^40', () => rawFile('{}', new Uint8Array(0), 2 ** 40), /exceeds the limit/],
    ['header length 0', () => rawFile('', new Uint8Array(0), 0), /too small/],
    ['header not JSON', () => rawFile('{nope}'), /not valid JSON/],
    ['header JSON array', () => rawFile('[1, 2]'), /start with '\{'/],
    ['header JSON null', () => rawFile('null'), /start with '\{'/],
    ['header with BOM', () => rawFile('\ufeff{}'), /start with '\{'/],
    ['invalid UTF-8', () => rawFile('{"x": 1}').map((b, i) => (i === 10 ? 0xff : b)), /UTF-8/],
    ['NUL padding', () => rawFile('{}\0\0\0\0\0\0'), /not valid JSON/],
    ['entry not an object', () => rawFile('{"t": 3}'), /not a JSON object/],
    ['metadata not an object', () => rawFile('{"__metadata__": [1]}'), /__metadata__/],
    ['metadata value not a string', () => rawFile('{"__metadata__": {"a": 1}}'), /__metadata__\["a"\]/],
    ['unknown dtype', () => t('{"dtype":"Q4","shape":[6],"data_offsets":[0,24]}'), /unknown dtype "Q4"/],
    ['missing dtype', () => t('{"shape":[6],"data_offsets":[0,24]}'), /unknown dtype/],
    ['shape not an array', () => t('{"dtype":"F32","shape":6,"data_offsets":[0,24]}'), /shape is not an array/],
    ['negative shape', () => t('{"dtype":"F32","shape":[-6],"data_offsets":[0,24]}'), /non-negative integer/],
    ['fractional shape', () => t('{"dtype":"F32","shape":[1.5,4],"data_offsets":[0,24]}'), /non-negative integer/],
    ['string shape', () => t('{"dtype":"F32","shape":["6"],"data_offsets":[0,24]}'), /non-negative integer/],
    ['shape past 2^53', () => t('{"dtype":"F32","shape":[1e300],"data_offsets":[0,24]}'), /non-negative integer/],
    [
      'huge shape whose product overflows',
      () => t('{"dtype":"F32","shape":[9007199254740991,9007199254740991,9007199254740991],"data_offsets":[0,24]}'),
      /more than 24 bytes/,
    ],
    ['many dims of 2', () => t(`{"dtype":"U8","shape":[${Array(100).fill(2)}],"data_offsets":[0,24]}`), /needs more/],
    ['size mismatch', () => t('{"dtype":"F32","shape":[5],"data_offsets":[0,24]}'), /needs 20 bytes but/],
    ['offsets past the data', () => t('{"dtype":"F32","shape":[7],"data_offsets":[0,28]}'), /run past the data/],
    ['negative offset', () => t('{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}'), /not a valid range/],
    ['end before begin', () => t('{"dtype":"U8","shape":[0],"data_offsets":[8,4]}'), /not a valid range/],
    ['fractional offset', () => t('{"dtype":"U8","shape":[1],"data_offsets":[0.5,1.5]}'), /not integers/],
    ['offsets not a pair', () => t('{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}'), /pair/],
    ['offsets missing', () => t('{"dtype":"U8","shape":[1]}'), /pair/],
    ['offsets 2^60', () => t('{"dtype":"U8","shape":[1],"data_offsets":[1152921504606846976,1]}'), /not integers/],
    [
      'overlapping tensors',
      () =>
        rawFile(
          '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}',
          d24,
        ),
      /"a" \[0, 16\] and "b" \[8, 16\] overlap/,
    ],
    [
      'identical ranges',
      () =>
        rawFile(
          '{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}',
          d24,
        ),
      /overlap/,
    ],
  ];

  for (const [label, make, message] of cases) {
    it(`rejects: ${label}`, () => {
      const e = expectMalformed(() => parseSafetensors(make(), { name: 'hostile.safetensors' }));
      expect(e.message).toMatch(message);
      expect(e.message).toContain('hostile.safetensors');
    });
  }

  it('accepts space padding, empty tensors sharing an offset, and gaps between tensors', () => {
    const f = parseSafetensors(
      rawFile(
        '{"e1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"e2":{"dtype":"F32","shape":[3,0],"data_offsets":[4,4]},"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]},"b":{"dtype":"U8","shape":[2],"data_offsets":[12,14]}}    ',
        d24,
      ),
    );
    expect([...f.tensors.keys()]).toEqual(['e1', 'e2', 'a', 'b']);
  });

  it('accepts __metadata__: null as no metadata', () => {
    expect(parseSafetensors(rawFile('{"__metadata__": null}')).metadata).toEqual({});
  });

  it('accepts a zero dimension next to a huge one', () => {
    const f = parseSafetensors(t('{"dtype":"F32","shape":[9007199254740991,0],"data_offsets":[0,0]}'));
    expect(f.f32('t').length).toBe(0);
  });

  it('honours maxHeaderBytes', () => {
    expectMalformed(() => parseSafetensors(valid, { maxHeaderBytes: headerLen - 1 }));
    expect(parseSafetensors(valid, { maxHeaderBytes: headerLen }).tensors.size).toBe(2);
  });

  it('rejects the valid file truncated at every byte', () => {
    // Cutting anywhere in the length, the header or the data must be caught: the last tensor ends at the file end.
    for (let n = 0; n < valid.byteLength; n++) {
      expectMalformed(() => parseSafetensors(valid.subarray(0, n)));
    }
    expect(parseSafetensors(valid).tensors.size).toBe(2);
  });

  it('fuzz: random mutations give a SafetensorsError or a consistent file, never another exception', () => {
    const rand = rng(0x5afe7e45);
    const bases = [valid, new Uint8Array(readFileSync(FIXTURE))];
    let ok = 0;
    let rejected = 0;
    for (let iter = 0; iter < 4000; iter++) {
      const base = bases[iter % bases.length]!;
      let m = base.slice();
      const mutations = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < mutations; k++) {
        const kind = Math.floor(rand() * 5);
        const pos = Math.floor(rand() * m.byteLength);
        if (kind === 0) m[pos] = Math.floor(rand() * 256);
        else if (kind === 1) m[pos] = m[pos]! ^ (1 << Math.floor(rand() * 8));
        else if (kind === 2) m = m.slice(0, pos);
        else if (kind === 3) {
          // Digits are where the shape and offset numbers live; bumping them is the interesting mutation.
          const digit = 0x30 + Math.floor(rand() * 10);
          m[pos] = digit;
        } else {
          const ins = Math.floor(rand() * 256);
          const grown = new Uint8Array(m.byteLength + 1);
          grown.set(m.subarray(0, pos));
          grown[pos] = ins;
          grown.set(m.subarray(pos), pos + 1);
          m = grown;
        }
      }
      let f: SafetensorsFile;
      try {
        f = parseSafetensors(m);
      } catch (e) {
        if (!(e instanceof SafetensorsError)) throw new Error(`iteration ${iter}: non-SafetensorsError ${e}`);
        rejected++;
        continue;
      }
      ok++;
      // Whatever was accepted must be readable in full without an out-of-bounds surprise.
      for (const [name, info] of f.tensors) {
        const v = f.view(name);
        expect(v.byteLength).toBe(info.end - info.begin);
        expect(f.dataOffset + info.end).toBeLessThanOrEqual(m.byteLength);
        if (info.dtype === 'F32' || info.dtype === 'F16' || info.dtype === 'BF16') f.f32(name);
      }
    }
    expect(ok + rejected).toBe(4000);
    expect(rejected).toBeGreaterThan(100);
    expect(ok).toBeGreaterThan(10);
  });
});
