/**
 * SentencePiece text normalization, byte for byte as sentencepiece's normalizer.cc does it: a precompiled charsmap
 * (a darts-clone double-array trie of source strings plus a blob of NUL-terminated replacement strings, longest match
 * wins), user-defined symbols passed through unchanged, removal of extra whitespace, a dummy-prefix space and
 * escaping of spaces as U+2581. Everything works on UTF-8 bytes, as the C++ does, so results match exactly,
 * including for input the charsmap maps to several characters.
 */

import { TokenizerError } from '../errors';
import type { NormalizerSpec } from './model-proto';

/** U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space, in UTF-8. */
export const SPACE_SYMBOL = new Uint8Array([0xe2, 0x96, 0x81]);
/** U+FFFD REPLACEMENT CHARACTER in UTF-8: what an invalid byte normalizes or decodes to. */
export const REPLACEMENT_CHAR = new Uint8Array([0xef, 0xbf, 0xbd]);

/** Bytes of the UTF-8 sequence a lead byte announces (1 for continuation and invalid bytes), like OneCharLen. */
export function oneCharLen(lead: number): number {
  if (lead < 0xc0) return 1;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  return 4;
}

/**
 * Length of the valid UTF-8 character at `pos`, or 0 when the bytes there are not one (then SentencePiece consumes
 * one byte as U+FFFD). Same rules as sentencepiece's DecodeUTF8: no overlongs, no surrogates, at most U+10FFFF.
 */
export function validCharLen(b: Uint8Array, pos: number, end: number): number {
  const c0 = b[pos]!;
  const len = end - pos;
  const trail = (i: number) => (b[pos + i]! & 0xc0) === 0x80;
  if (c0 < 0x80) return 1;
  if (len >= 2 && (c0 & 0xe0) === 0xc0) {
    const cp = ((c0 & 0x1f) << 6) | (b[pos + 1]! & 0x3f);
    return trail(1) && cp >= 0x80 ? 2 : 0;
  }
  if (len >= 3 && (c0 & 0xf0) === 0xe0) {
    const cp = ((c0 & 0x0f) << 12) | ((b[pos + 1]! & 0x3f) << 6) | (b[pos + 2]! & 0x3f);
    return trail(1) && trail(2) && cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff) ? 3 : 0;
  }
  if (len >= 4 && (c0 & 0xf8) === 0xf0) {
    const cp = ((c0 & 0x07) << 18) | ((b[pos + 1]! & 0x3f) << 12) | ((b[pos + 2]! & 0x3f) << 6) | (b[pos + 3]! & 0x3f);
    return trail(1) && trail(2) && trail(3) && cp >= 0x10000 && cp <= 0x10ffff ? 4 : 0;
  }
  return 0;
}

/** A growable byte buffer. */
export class ByteSink {
  private buf = new Uint8Array(64);
  /** Number of bytes written. */
  length = 0;

  /** Appends `src[start, end)`. */
  push(src: Uint8Array, start = 0, end = src.length): void {
    const n = end - start;
    if (this.length + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.length + n) cap *= 2;
      const grown = new Uint8Array(cap);
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    for (let i = 0; i < n; i++) this.buf[this.length + i] = src[start + i]!;
    this.length += n;
  }

  /** Appends one byte. */
  pushByte(b: number): void {
    if (this.length === this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    this.buf[this.length++] = b;
  }

  /** The written bytes (a view; valid until the next push). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/**
 * A byte trie with integer values, used for vocabulary pieces and user-defined symbols. Children live in one Map
 * keyed by node * 256 + byte, which keeps a 32k-piece vocabulary compact.
 */
export class ByteTrie {
  private readonly children = new Map<number, number>();
  private readonly values: number[] = [-1];

  /** Inserts `key` with `value`; the first value stored for a key wins (as darts-clone builds keep the first). */
  insert(key: Uint8Array, value: number): void {
    let node = 0;
    for (const b of key) {
      const k = node * 256 + b;
      let child = this.children.get(k);
      if (child === undefined) {
        child = this.values.length;
        this.values.push(-1);
        this.children.set(k, child);
      }
      node = child;
    }
    if (this.values[node] === -1) this.values[node] = value;
  }

  /** Child of `node` along byte `b`, or -1. The root is node 0. */
  step(node: number, b: number): number {
    return this.children.get(node * 256 + b) ?? -1;
  }

  /** Value stored at `node`, or -1 when no key ends there. */
  value(node: number): number {
    return this.values[node]!;
  }

  /** Length of the longest key that is a prefix of `s[pos, end)`, or 0. */
  longestPrefix(s: Uint8Array, pos: number, end: number): number {
    let node = 0;
    let best = 0;
    for (let i = pos; i < end; i++) {
      node = this.step(node, s[i]!);
      if (node < 0) break;
      if (this.values[node]! >= 0) best = i + 1 - pos;
    }
    return best;
  }
}

/**
 * The precompiled charsmap: `<u32 LE trie size><darts-clone double array><NUL-terminated replacement strings>`.
 * Lookup follows darts-clone's commonPrefixSearch. Every index is bounds-checked: a corrupt trie either misses or
 * throws TokenizerError when a match points outside the string table, where the C++ would read out of bounds.
 */
class CharsMap {
  private readonly units: Uint32Array;
  private readonly normalized: Uint8Array;
  private readonly what: string;

  constructor(blob: Uint8Array, what: string) {
    const bad = (problem: string): never => {
      throw new TokenizerError(
        'malformed-model',
        `${what}: the precompiled charsmap is broken (${problem}). Re-download or re-export the model.`,
      );
    };
    if (blob.length <= 4) bad('shorter than its header');
    const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieSize = dv.getUint32(0, true);
    if (trieSize >= blob.length) bad(`trie size ${trieSize} exceeds the blob size ${blob.length}`);
    const n = Math.floor(trieSize / 4);
    // The blob sits at an arbitrary offset inside the model bytes: copy the units out through DataView.
    this.units = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.units[i] = dv.getUint32(4 + 4 * i, true);
    const start = 4 + trieSize;
    if (start > blob.length) bad('trie runs past the blob');
    this.normalized = blob.subarray(start);
    this.what = what;
  }

  /**
   * Longest charsmap entry that is a prefix of `s[pos, end)`: returns [matched byte length, replacement start,
   * replacement end] or undefined.
   */
  longestMatch(s: Uint8Array, pos: number, end: number): [number, number, number] | undefined {
    const units = this.units;
    if (units.length === 0) return undefined;
    let nodePos = offsetOf(units[0]!);
    let bestLen = 0;
    let bestValue = -1;
    for (let i = pos; i < end; i++) {
      const c = s[i]!;
      nodePos ^= c;
      if (nodePos >= units.length) break;
      const unit = units[nodePos]!;
      // label(): the low byte plus the MSB, so a leaf unit never matches a byte.
      if ((unit & 0x800000ff) >>> 0 !== c) break;
      nodePos ^= offsetOf(unit);
      if ((unit >>> 8) & 1) {
        if (nodePos >= units.length) break;
        bestLen = i + 1 - pos;
        bestValue = units[nodePos]! & 0x7fffffff;
      }
    }
    if (bestLen === 0) return undefined;
    const from = bestValue;
    if (from >= this.normalized.length) {
      throw new TokenizerError(
        'malformed-model',
        `${this.what}: the precompiled charsmap points at offset ${from}, outside its ${this.normalized.length}-byte string table. Re-download or re-export the model.`,
      );
    }
    let to = from;
    while (to < this.normalized.length && this.normalized[to] !== 0) to++;
    return [bestLen, from, to];
  }

  /** The replacement string table. */
  get table(): Uint8Array {
    return this.normalized;
  }
}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

/** Normalizes UTF-8 text as SentencePiece's Normalizer::Normalize does (without the offset mapping). */
export class Normalizer {
  private readonly charsMap: CharsMap | undefined;

  /**
   * @param spec normalizer (or denormalizer) spec of the model
   * @param treatWhitespaceAsSuffix trainer_spec.treat_whitespace_as_suffix (false for a denormalizer)
   * @param userDefined trie of user-defined symbols, which pass through unnormalized (undefined for a denormalizer)
   * @param what model name for error messages
   */
  constructor(
    private readonly spec: NormalizerSpec,
    private readonly treatWhitespaceAsSuffix: boolean,
    private readonly userDefined: ByteTrie | undefined,
    what: string,
  ) {
    this.charsMap = spec.precompiledCharsmap.length > 0 ? new CharsMap(spec.precompiledCharsmap, what) : undefined;
  }

  /**
   * Normalizes one prefix of `s[pos, end)`: returns the replacement bytes as [source, start, end) and the number of
   * input bytes consumed. Mirrors NormalizePrefix: user-defined symbol, else longest charsmap entry, else one
   * character copied (one invalid byte becomes U+FFFD).
   */
  private prefix(s: Uint8Array, pos: number, end: number): [Uint8Array, number, number, number] {
    if (this.userDefined !== undefined) {
      const n = this.userDefined.longestPrefix(s, pos, end);
      if (n > 0) return [s, pos, pos + n, n];
    }
    const m = this.charsMap?.longestMatch(s, pos, end);
    if (m !== undefined) return [this.charsMap!.table, m[1], m[2], m[0]];
    const n = validCharLen(s, pos, end);
    if (n === 0) return [REPLACEMENT_CHAR, 0, 3, 1];
    return [s, pos, pos + n, n];
  }

  /** Returns the normalized UTF-8 bytes of `input`. */
  normalize(input: Uint8Array): Uint8Array {
    const spec = this.spec;
    const out = new ByteSink();
    let pos = 0;
    const end = input.length;
    if (end === 0) return out.bytes();

    // Leading whitespace: whole prefixes that normalize to exactly one space are dropped.
    if (spec.removeExtraWhitespaces) {
      while (pos < end) {
        const [src, a, b, consumed] = this.prefix(input, pos, end);
        if (!(b - a === 1 && src[a] === 0x20)) break;
        pos += consumed;
      }
    }
    if (pos >= end) return out.bytes();

    const addWs = () => {
      if (spec.escapeWhitespaces) out.push(SPACE_SYMBOL);
      else out.pushByte(0x20);
    };
    if (!this.treatWhitespaceAsSuffix && spec.addDummyPrefix) addWs();

    let isPrevSpace = spec.removeExtraWhitespaces;
    while (pos < end) {
      const [src, a0, b, consumed] = this.prefix(input, pos, end);
      let a = a0;
      // Spaces at the start of this piece are dropped when the previous piece ended in one.
      while (isPrevSpace && a < b && src[a] === 0x20) a++;
      if (a < b) {
        for (let i = a; i < b; i++) {
          const c = src[i]!;
          if (spec.escapeWhitespaces && c === 0x20) out.push(SPACE_SYMBOL);
          else out.pushByte(c);
        }
        isPrevSpace = src[b - 1] === 0x20;
      }
      pos += consumed;
      if (!spec.removeExtraWhitespaces) isPrevSpace = false;
    }

    let result = out.bytes();
    if (spec.removeExtraWhitespaces) {
      const space = spec.escapeWhitespaces ? SPACE_SYMBOL : new Uint8Array([0x20]);
      let len = result.length;
      while (len >= space.length && endsWithAt(result, len, space)) len -= space.length;
      result = result.subarray(0, len);
    }
    if (this.treatWhitespaceAsSuffix && spec.addDummyPrefix) {
      const sink = new ByteSink();
      sink.push(result);
      if (spec.escapeWhitespaces) sink.push(SPACE_SYMBOL);
      else sink.pushByte(0x20);
      result = sink.bytes();
    }
    return result;
  }
}

function endsWithAt(s: Uint8Array, len: number, suffix: Uint8Array): boolean {
  for (let i = 0; i < suffix.length; i++) if (s[len - suffix.length + i] !== suffix[i]) return false;
  return true;
}
