import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SentencePieceTokenizer, TokenizerError } from '../../src/tokenizer';

/** What test/fixtures/spm/make-fixture.py records with python's sentencepiece for one model. */
interface Fixture {
  model: string;
  sha256: string;
  sentencepiece: string;
  vocab_size: number;
  unk_id: number;
  bos_id: number;
  eos_id: number;
  pad_id: number;
  pieces: string[];
  cases: Array<{ text: string; ids: number[]; pieces: string[]; decoded: string }>;
  decode_cases: Array<{ ids: number[]; decoded: string }>;
}

const SPM = new URL('../fixtures/spm/', import.meta.url);
const readModel = (name: string) => new Uint8Array(readFileSync(new URL(`${name}.model`, SPM)));
const readFixture = (json: string) => JSON.parse(readFileSync(new URL(json, SPM), 'utf8')) as Fixture;

/** Small deterministic PRNG (mulberry32) so the fuzz loops are reproducible. */
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

const same = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Compares the tokenizer with one python fixture; reports the first few mismatches in full. */
function checkAgainstPython(label: string, bytes: Uint8Array, fx: Fixture): void {
  describe(`${label} vs python sentencepiece ${fx.sentencepiece}`, () => {
    const tok = SentencePieceTokenizer.fromBytes(bytes, label);

    it('is the model the fixture was recorded from', () => {
      const sha = createHash('sha256').update(bytes).digest('hex');
      expect(
        sha,
        `${fx.model} changed since its fixture was recorded: run /usr/bin/python3 test/fixtures/spm/make-fixture.py`,
      ).toBe(fx.sha256);
    });

    it('has the same vocabulary and special ids', () => {
      expect(tok.vocabSize).toBe(fx.vocab_size);
      expect([tok.unkId, tok.bosId, tok.eosId, tok.padId]).toEqual([fx.unk_id, fx.bos_id, fx.eos_id, fx.pad_id]);
      const pieces = Array.from({ length: tok.vocabSize }, (_, i) => tok.idToPiece(i));
      expect(pieces).toEqual(fx.pieces);
      for (let id = 0; id < fx.pieces.length; id++) {
        // pieceToId inverts idToPiece for every piece (the fixtures have no duplicate spellings).
        expect(tok.pieceToId(fx.pieces[id]!)).toBe(id);
      }
    });

    it(`encodes all ${fx.cases.length} sentences to exactly python's ids and pieces`, () => {
      const bad: string[] = [];
      for (const c of fx.cases) {
        const ids = tok.encode(c.text);
        const pieces = tok.encodeAsPieces(c.text);
        if (!same(ids, c.ids) || !same(pieces, c.pieces)) {
          bad.push(`${JSON.stringify(c.text)}\n   got  ${pieces.join(' ')}\n   want ${c.pieces.join(' ')}`);
        }
      }
      expect(bad.length, `${bad.length} mismatches:\n${bad.slice(0, 5).join('\n')}`).toBe(0);
    });

    it(`decodes python's ids and ${fx.decode_cases.length} random id sequences to python's text`, () => {
      const bad: string[] = [];
      for (const c of [...fx.cases, ...fx.decode_cases]) {
        const got = tok.decode(c.ids);
        if (got !== c.decoded)
          bad.push(`${JSON.stringify(c.ids)}: got ${JSON.stringify(got)} want ${JSON.stringify(c.decoded)}`);
      }
      expect(bad.length, `${bad.length} mismatches:\n${bad.slice(0, 5).join('\n')}`).toBe(0);
    });
  });
}

for (const name of ['multi', 'bytes', 'identity']) {
  checkAgainstPython(`${name}.model`, readModel(name), readFixture(`${name}.json`));
}

// Trained taskmoe tokenizers (models/<name>/*.model) recorded by make-fixture.py as models-<name>.json. The model is
// committed by the training pipeline, not with the fixture; where a checkout lacks it, there is nothing to compare.
for (const json of readdirSync(SPM).filter((f) => f.startsWith('models-') && f.endsWith('.json'))) {
  const fx = readFixture(json);
  const path = new URL(`../../${fx.model}`, import.meta.url);
  if (!existsSync(path)) continue;
  checkAgainstPython(fx.model, new Uint8Array(readFileSync(path)), fx);
}

describe('tokenizer API', () => {
  const tok = SentencePieceTokenizer.fromBytes(readModel('multi'), 'multi.model');

  it('keeps user-defined language tags whole and round-trips text', () => {
    const ids = tok.encode('<2de> Hallo Welt');
    expect(ids).toContain(tok.pieceToId('<2de>'));
    expect(tok.decode(ids)).toBe('<2de> Hallo Welt');
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([])).toBe('');
  });

  it('maps unknown pieces to unkId and skips control ids when decoding', () => {
    expect(tok.pieceToId('no such piece')).toBe(tok.unkId);
    const ids = tok.encode('Hallo');
    expect(tok.decode([tok.bosId, ...ids, tok.eosId, tok.padId])).toBe('Hallo');
    expect(tok.isControl(tok.bosId)).toBe(true);
    expect(tok.isControl(ids[0]!)).toBe(false);
    expect(Number.isFinite(tok.score(ids[0]!))).toBe(true);
  });

  it('rejects ids outside the vocabulary with TokenizerError invalid-input', () => {
    for (const id of [-1, tok.vocabSize, 1.5, Number.NaN]) {
      for (const call of [() => tok.decode([id]), () => tok.idToPiece(id)]) {
        try {
          call();
          expect.unreachable();
        } catch (e) {
          expect(e).toBeInstanceOf(TokenizerError);
          expect((e as TokenizerError).code).toBe('invalid-input');
        }
      }
    }
  });

  it('encodes a lone surrogate as U+FFFD would be', () => {
    expect(tok.encode('a\ud800b')).toEqual(tok.encode('a\ufffdb'));
  });

  it('is fast enough for long input', () => {
    const text = 'Der schnelle braune Fuchs springt über den faulen Hund. Съешь же ещё этих булок. '.repeat(400);
    const t0 = performance.now();
    const ids = tok.encode(text);
    const ms = performance.now() - t0;
    expect(ids).not.toContain(tok.unkId);
    expect(tok.decode(ids)).toBe(text.trim());
    expect(ms).toBeLessThan(2000);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Hand-built models: a tiny protobuf writer, so every malformed case is one small, readable edit.

function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
const key = (field: number, wt: number) => varint(field * 8 + wt);
const vField = (field: number, v: number | boolean) => [...key(field, 0), ...varint(typeof v === 'boolean' ? +v : v)];
const bField = (field: number, bytes: Uint8Array | number[]) => [...key(field, 2), ...varint(bytes.length), ...bytes];
const sField = (field: number, s: string) => bField(field, [...new TextEncoder().encode(s)]);
const fField = (field: number, f: number) => [...key(field, 5), ...new Uint8Array(new Float32Array([f]).buffer)];
const piece = (s: string, score: number, type?: number) =>
  bField(1, [...sField(1, s), ...fField(2, score), ...(type === undefined ? [] : vField(3, type))]);

interface Spec {
  pieces?: number[][];
  trainer?: number[];
  normalizer?: number[];
  extra?: number[];
}
const BASE_PIECES = [
  piece('<unk>', 0, 2),
  piece('<s>', 0, 3),
  piece('</s>', 0, 3),
  piece('▁', -1),
  piece('a', -2),
  piece('b', -2),
  piece('▁ab', -1.5),
  piece('<t>', 0, 4),
];
function model(spec: Spec = {}): Uint8Array {
  return new Uint8Array([
    ...(spec.pieces ?? BASE_PIECES).flat(),
    ...bField(2, spec.trainer ?? vField(3, 1)),
    ...bField(3, spec.normalizer ?? [...sField(1, 'identity')]),
    ...(spec.extra ?? []),
  ]);
}

function expectTokenizerError(code: string, fn: () => unknown, message?: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TokenizerError);
    expect((e as TokenizerError).code).toBe(code);
    if (message) expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected TokenizerError ${code}, but it succeeded`);
}

describe('hand-built models', () => {
  it('encodes with a minimal identity model', () => {
    const tok = SentencePieceTokenizer.fromBytes(model());
    expect(tok.encodeAsPieces('ab ab<t>c')).toEqual(['▁ab', '▁ab', '<t>', 'c']);
    expect(tok.encode('ab ab<t>c')).toEqual([6, 6, 7, 0]);
    expect(tok.encode('cc b')).toEqual([3, 0, 3, 5]); // a run of unknowns is one unknown piece
    expect(tok.encodeAsPieces('cc b')).toEqual(['▁', 'cc', '▁', 'b']);
    expect(tok.decode(tok.encode('ab ab<t>c'))).toBe('ab ab<t> \u2047 ');
    expect([tok.unkId, tok.bosId, tok.eosId, tok.padId]).toEqual([0, 1, 2, -1]);
  });

  it('honours normalizer flags: no dummy prefix, kept whitespace, no escaping', () => {
    const tok = SentencePieceTokenizer.fromBytes(
      model({
        pieces: [...BASE_PIECES, piece(' ', -1)],
        normalizer: [...sField(1, 'identity'), ...vField(3, false), ...vField(4, false), ...vField(5, false)],
      }),
    );
    expect(tok.encodeAsPieces(' a  b ')).toEqual([' ', 'a', ' ', ' ', 'b', ' ']);
  });

  it('puts the dummy space at the end with treat_whitespace_as_suffix', () => {
    const tok = SentencePieceTokenizer.fromBytes(
      model({ pieces: [...BASE_PIECES, piece('a▁', -1)], trainer: [...vField(3, 1), ...vField(24, true)] }),
    );
    expect(tok.encodeAsPieces('a')).toEqual(['a▁']);
  });

  const malformed: Array<[string, () => Uint8Array, RegExp]> = [
    ['empty file', () => new Uint8Array(0), /no pieces/],
    ['no unknown piece', () => model({ pieces: BASE_PIECES.slice(1) }), /no unknown piece/],
    ['two unknown pieces', () => model({ pieces: [...BASE_PIECES, piece('<unk2>', 0, 2)] }), /both the unknown/],
    ['duplicate piece', () => model({ pieces: [...BASE_PIECES, piece('a', -3)] }), /defined twice/],
    ['empty piece', () => model({ pieces: [...BASE_PIECES, piece('', -3)] }), /is empty/],
    [
      'byte piece without byte_fallback',
      () => model({ pieces: [...BASE_PIECES, piece('<0x41>', 0, 6)] }),
      /byte_fallback is off/,
    ],
    [
      'byte_fallback without 256 byte pieces',
      () => model({ pieces: [...BASE_PIECES, piece('<0x41>', 0, 6)], trainer: [...vField(3, 1), ...vField(35, true)] }),
      /256 byte pieces/,
    ],
    [
      'invalid byte piece',
      () => model({ pieces: [...BASE_PIECES, piece('<0xZZ>', 0, 6)], trainer: [...vField(3, 1), ...vField(35, true)] }),
      /<0xHH>/,
    ],
    ['truncated varint', () => new Uint8Array([0x0a, 0x80]), /truncated varint/],
    ['varint longer than 10 bytes', () => new Uint8Array([0x48, ...Array(11).fill(0xff), 0x01]), /longer than 10/],
    ['length past the end', () => new Uint8Array([0x0a, 0x7f, 0x00]), /runs past the end/],
    ['huge length', () => new Uint8Array([0x0a, ...varint(2n ** 62n)]), /runs past the end/],
    ['field number 0', () => new Uint8Array([0x02, 0x00]), /field number 0/],
    ['group wire type', () => new Uint8Array([0x0b, 0x0c]), /wire type 3/],
    [
      'wrong wire type for a piece score',
      () => model({ pieces: [bField(1, [...sField(1, 'x'), ...vField(2, 1)])] }),
      /wire type 0/,
    ],
    [
      'truncated float',
      () => model({ pieces: [bField(1, [...sField(1, 'x'), ...key(2, 5), 0, 0])] }),
      /truncated float/,
    ],
    [
      'charsmap shorter than its header',
      () => model({ normalizer: [...bField(2, [1, 0, 0])] }),
      /charsmap is broken \(shorter/,
    ],
    [
      'charsmap trie larger than the blob',
      () => model({ normalizer: [...bField(2, [0xff, 0, 0, 0, 1, 2, 3, 4])] }),
      /exceeds the blob/,
    ],
  ];
  for (const [label, make, message] of malformed) {
    it(`rejects: ${label}`, () => {
      expectTokenizerError('malformed-model', () => SentencePieceTokenizer.fromBytes(make(), 'bad.model'), message);
    });
  }

  it('rejects a BPE model as unsupported', () => {
    expectTokenizerError(
      'unsupported-model',
      () => SentencePieceTokenizer.fromBytes(model({ trainer: vField(3, 2) })),
      /BPE model/,
    );
  });

  it('skips unknown fields, including ones with 64-bit and 32-bit wire types', () => {
    const extra = [...key(99, 1), 1, 2, 3, 4, 5, 6, 7, 8, ...key(98, 5), 1, 2, 3, 4, ...vField(97, 2 ** 40)];
    expect(SentencePieceTokenizer.fromBytes(model({ extra })).vocabSize).toBe(BASE_PIECES.length);
  });

  it('does not read outside a charsmap whose trie points anywhere', () => {
    // A 1024-unit trie of random words: lookups must stay in bounds (or report a malformed model), never crash.
    const rand = rng(77);
    for (let iter = 0; iter < 200; iter++) {
      const trie = new Uint8Array(4096).map(() => Math.floor(rand() * 256));
      const table = new Uint8Array(64).map(() => (rand() < 0.3 ? 0 : 0x61 + Math.floor(rand() * 26)));
      const blob = [...new Uint8Array(new Uint32Array([trie.length]).buffer), ...trie, ...table];
      let tok: SentencePieceTokenizer;
      try {
        tok = SentencePieceTokenizer.fromBytes(model({ normalizer: bField(2, blob) }));
      } catch (e) {
        expect(e).toBeInstanceOf(TokenizerError);
        continue;
      }
      try {
        tok.encode('abc ÄÖÜ 日本 🙂 \u0000\u00ff');
      } catch (e) {
        expect(e).toBeInstanceOf(TokenizerError);
        expect((e as TokenizerError).code).toBe('malformed-model');
      }
    }
  });
});

describe('malformed model fuzz', () => {
  for (const name of ['identity', 'multi']) {
    it(`${name}.model: truncations and random mutations give TokenizerError or a working tokenizer`, () => {
      const base = readModel(name);
      const rand = rng(name === 'identity' ? 1 : 2);
      const probe = 'Hallo Welt, <2de> Ｆｕｌｌ ÄÖÜ 日本語 🙂  x\u3000y';
      let ok = 0;
      let rejected = 0;
      const attempt = (bytes: Uint8Array, what: string) => {
        let tok: SentencePieceTokenizer;
        try {
          tok = SentencePieceTokenizer.fromBytes(bytes);
        } catch (e) {
          if (!(e instanceof TokenizerError)) throw new Error(`${what}: ${e}`);
          rejected++;
          return;
        }
        try {
          const ids = tok.encode(probe);
          tok.decode(ids);
          tok.encodeAsPieces(probe);
          ok++;
        } catch (e) {
          if (!(e instanceof TokenizerError)) throw new Error(`${what}: ${e}`);
          rejected++;
        }
      };
      const cuts = name === 'identity' ? base.length : 300;
      for (let i = 0; i < cuts; i++) {
        const n = name === 'identity' ? i : Math.floor(rand() * base.length);
        attempt(base.subarray(0, n), `truncated at ${n}`);
      }
      const mutations = name === 'identity' ? 3000 : 400;
      for (let iter = 0; iter < mutations; iter++) {
        const m = base.slice();
        for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
          const pos = Math.floor(rand() * m.length);
          m[pos] = rand() < 0.5 ? Math.floor(rand() * 256) : m[pos]! ^ (1 << Math.floor(rand() * 8));
        }
        attempt(m, `mutation ${iter}`);
      }
      expect(ok).toBeGreaterThan(0);
      expect(rejected).toBeGreaterThan(0);
    });
  }
});
