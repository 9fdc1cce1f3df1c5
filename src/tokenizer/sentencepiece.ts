/**
 * A SentencePiece tokenizer for unigram models, reading the `.model` file directly and producing the same ids as
 * sentencepiece's C++ library (version 0.1.97, Debian's python3-sentencepiece, is the test oracle): normalization
 * (normalizer.ts), the optimized unigram Viterbi of unigram_model.cc including its float arithmetic, the unknown-piece
 * merging and byte fallback of SentencePieceProcessor::Encode, and SentencePieceProcessor::Decode.
 *
 * Strings cross the API as JavaScript strings; inside, everything is UTF-8 bytes as in the C++. A lone surrogate in
 * the input is encoded as U+FFFD (TextEncoder's rule), where Python would refuse the string.
 */

import { TokenizerError } from '../errors';
import { type ModelPiece, type ModelProto, ModelType, PieceType, parseModelProto } from './model-proto';
import { ByteSink, ByteTrie, Normalizer, oneCharLen, REPLACEMENT_CHAR, SPACE_SYMBOL, validCharLen } from './normalizer';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

// Pieces are keyed by their raw bytes spelled as a binary string, so keys stay exact even if a model holds bytes
// that are not UTF-8 (SentencePiece does not validate them).
function binaryKey(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38; // the smallest normal float: C++'s initial "max" score, see below
const UNK_PENALTY = 10;

function bytePiece(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** A SentencePiece unigram tokenizer. Construct with `SentencePieceTokenizer.fromBytes(modelFileBytes)`. */
export class SentencePieceTokenizer {
  /** Number of pieces in the vocabulary (ids are 0 .. vocabSize - 1). */
  readonly vocabSize: number;
  /** Id of the unknown piece. */
  readonly unkId: number;
  /** Id of the begin-of-sentence control piece, or -1 when the model has none. */
  readonly bosId: number;
  /** Id of the end-of-sentence control piece, or -1 when the model has none. */
  readonly eosId: number;
  /** Id of the padding control piece, or -1 when the model has none. */
  readonly padId: number;

  private readonly pieces: readonly ModelPiece[];
  private readonly pieceStrings: readonly string[];
  /** NORMAL, USER_DEFINED and UNUSED pieces: the ones the Viterbi search can emit. */
  private readonly trie = new ByteTrie();
  /** Same pieces by binary key, for pieceToId. */
  private readonly normalIds = new Map<string, number>();
  /** CONTROL, UNKNOWN and BYTE pieces, which PieceToId checks first. */
  private readonly reservedIds = new Map<string, number>();
  private readonly normalizer: Normalizer;
  private readonly denormalizer: Normalizer | undefined;
  private readonly minScore: number;
  private readonly maxScore: number;
  private readonly byteFallback: boolean;
  private readonly byteIds: Int32Array;
  private readonly unkSurface: Uint8Array;
  private readonly addDummyPrefix: boolean;
  private readonly removeExtraWhitespaces: boolean;

  private constructor(model: ModelProto, what: string) {
    const bad = (problem: string): never => {
      throw new TokenizerError(
        'malformed-model',
        `${what}: ${problem}. The file is not a valid SentencePiece model; re-download or re-export it.`,
      );
    };
    const spec = model.trainerSpec;
    if (spec.modelType !== ModelType.UNIGRAM) {
      const kind = Object.entries(ModelType).find(([, v]) => v === spec.modelType)?.[0] ?? String(spec.modelType);
      throw new TokenizerError(
        'unsupported-model',
        `${what}: is a ${kind} model; taskmoe implements only UNIGRAM SentencePiece models. Train the tokenizer with --model_type=unigram.`,
      );
    }
    if (model.pieces.length === 0) bad('it has no pieces');
    this.pieces = model.pieces;
    this.pieceStrings = model.pieces.map((p) => decoder.decode(p.piece));
    this.vocabSize = model.pieces.length;
    this.byteFallback = spec.byteFallback;

    // The checks of ModelInterface::InitializePieces, so a model the C++ refuses is refused here too.
    const userDefined = new ByteTrie();
    let unkId = -1;
    const byteIds = new Int32Array(256).fill(-1);
    let minScore = FLT_MAX;
    let maxScore = FLT_MIN;
    for (let id = 0; id < model.pieces.length; id++) {
      const p = model.pieces[id]!;
      if (p.piece.length === 0) bad(`piece ${id} is empty`);
      const key = binaryKey(p.piece);
      const normal = p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED || p.type === PieceType.UNUSED;
      const map = normal ? this.normalIds : this.reservedIds;
      if (map.has(key)) bad(`piece ${id} "${this.pieceStrings[id]}" is defined twice`);
      map.set(key, id);
      if (normal) this.trie.insert(p.piece, id);
      if (p.type === PieceType.USER_DEFINED) userDefined.insert(p.piece, id);
      if (p.type === PieceType.UNKNOWN) {
        if (unkId >= 0) bad(`pieces ${unkId} and ${id} are both the unknown piece`);
        unkId = id;
      }
      if (p.type === PieceType.BYTE) {
        if (!spec.byteFallback) bad(`byte piece ${id} "${this.pieceStrings[id]}" is present but byte_fallback is off`);
        const m = /^<0x([0-9A-F]{2})>$/.exec(this.pieceStrings[id]!);
        if (m === null) bad(`byte piece ${id} "${this.pieceStrings[id]}" is not of the form <0xHH>`);
        byteIds[Number.parseInt(m![1]!, 16)] = id;
      }
      // Scores are f32 in the file; min and max over NORMAL pieces only, starting from FLT_MAX and FLT_MIN exactly
      // like the C++ (so a vocabulary of negative scores has max_score = FLT_MIN, about 0, which sets the bonus of
      // user-defined symbols).
      if (p.type === PieceType.NORMAL) {
        minScore = Math.min(minScore, p.score);
        maxScore = Math.max(maxScore, p.score);
      }
    }
    if (unkId < 0) bad('it has no unknown piece');
    if (spec.byteFallback && byteIds.includes(-1)) bad('byte_fallback is on but not all 256 byte pieces are present');
    this.unkId = unkId;
    this.byteIds = byteIds;
    this.minScore = minScore;
    this.maxScore = maxScore;

    // SentencePieceProcessor::bos_id() etc.: look the piece up by name and accept it only with the right type.
    const special = (name: string, fallback: string, type: number): number => {
      const id = this.pieceToId(name.length > 0 ? name : fallback);
      return this.pieces[id]?.type === type ? id : -1;
    };
    this.bosId = special(spec.bosPiece, '<s>', PieceType.CONTROL);
    this.eosId = special(spec.eosPiece, '</s>', PieceType.CONTROL);
    this.padId = special(spec.padPiece, '<pad>', PieceType.CONTROL);

    this.unkSurface = encoder.encode(spec.unkSurface);
    this.addDummyPrefix = model.normalizerSpec.addDummyPrefix;
    this.removeExtraWhitespaces = model.normalizerSpec.removeExtraWhitespaces;
    this.normalizer = new Normalizer(model.normalizerSpec, spec.treatWhitespaceAsSuffix, userDefined, what);
    this.denormalizer =
      model.denormalizerSpec !== undefined && model.denormalizerSpec.precompiledCharsmap.length > 0
        ? new Normalizer(model.denormalizerSpec, false, undefined, what)
        : undefined;
  }

  /**
   * Reads a SentencePiece `.model` file (a serialized sentencepiece.ModelProto). Throws `TokenizerError` with code
   * 'malformed-model' for bytes that are not a valid model, 'unsupported-model' for a non-unigram model.
   * @param bytes the file contents
   * @param name the file name or URL, used in error messages
   */
  static fromBytes(bytes: Uint8Array, name = 'sentencepiece model'): SentencePieceTokenizer {
    if (!(bytes instanceof Uint8Array)) {
      throw new TokenizerError('invalid-input', `${name}: expected the model file bytes as a Uint8Array.`);
    }
    return new SentencePieceTokenizer(parseModelProto(bytes, name), name);
  }

  /** Encodes text to piece ids, without BOS/EOS (add them yourself), exactly like sentencepiece's `encode`. */
  encode(text: string): number[] {
    return this.encodeRaw(text).map((p) => p[1]);
  }

  /** Encodes text to piece strings, like sentencepiece's `encode(text, out_type=str)`. */
  encodeAsPieces(text: string): string[] {
    return this.encodeRaw(text).map((p) => decoder.decode(p[0]));
  }

  /** Decodes ids to text, like sentencepiece's `decode`. Throws `TokenizerError` ('invalid-input') for a bad id. */
  decode(ids: readonly number[]): string {
    const pieceIds = ids.map((id) => {
      this.checkId(id);
      // Decode(ids) turns ids into piece strings and Decode(pieces) maps them back with PieceToId; keep that round
      // trip, which matters only for models where a control piece and a normal piece share a spelling.
      return this.pieceToIdBytes(this.pieces[id]!.piece);
    });
    const text = new ByteSink();
    let byteRun: number[] = [];
    const flushBytes = () => {
      if (byteRun.length > 0) this.appendBytePieces(byteRun, text);
      byteRun = [];
    };
    // Only the first piece that starts with U+2581 loses it (the dummy prefix); with remove_extra_whitespaces every
    // leading one goes until some text has been produced.
    let isBosWs = true;
    let bosWsSeen = false;
    for (const id of pieceIds) {
      const p = this.pieces[id]!;
      if (p.type === PieceType.BYTE) {
        byteRun.push(Number.parseInt(this.pieceStrings[id]!.slice(3, 5), 16));
        continue;
      }
      flushBytes();
      if (bosWsSeen || text.length > 0) isBosWs = false;
      bosWsSeen = false;
      if (p.type === PieceType.CONTROL) continue;
      if (p.type === PieceType.UNKNOWN) {
        text.push(this.unkSurface);
        continue;
      }
      let piece = p.piece;
      if (isBosWs && (this.addDummyPrefix || this.removeExtraWhitespaces) && startsWithSpaceAt(piece, 0)) {
        piece = piece.subarray(SPACE_SYMBOL.length);
        bosWsSeen = !this.removeExtraWhitespaces;
      }
      appendUnescaped(piece, text);
    }
    flushBytes();
    let out = text.bytes();
    if (this.denormalizer !== undefined) out = this.denormalizer.normalize(out);
    return decoder.decode(out);
  }

  /** The piece string of an id. Throws `TokenizerError` ('invalid-input') for an id outside the vocabulary. */
  idToPiece(id: number): string {
    this.checkId(id);
    return this.pieceStrings[id]!;
  }

  /** The id of a piece string, or `unkId` when the vocabulary has no such piece (as sentencepiece does). */
  pieceToId(piece: string): number {
    return this.pieceToIdBytes(encoder.encode(piece));
  }

  /** The score (log probability) of a piece. */
  score(id: number): number {
    this.checkId(id);
    return this.pieces[id]!.score;
  }

  /** True for control pieces (BOS, EOS, PAD, ...), which encode never emits and decode skips. */
  isControl(id: number): boolean {
    this.checkId(id);
    return this.pieces[id]!.type === PieceType.CONTROL;
  }

  private pieceToIdBytes(piece: Uint8Array): number {
    const key = binaryKey(piece);
    return this.reservedIds.get(key) ?? this.normalIds.get(key) ?? this.unkId;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError('invalid-input', `piece id ${id} is out of range [0, ${this.vocabSize}).`);
    }
  }

  /** Normalize, Viterbi, then SentencePieceProcessor's post-processing: [piece bytes, id] pairs. */
  private encodeRaw(text: string): Array<[Uint8Array, number]> {
    const normalized = this.normalizer.normalize(encoder.encode(text));
    const out: Array<[Uint8Array, number]> = [];
    let prevUnk = false;
    for (const [start, end, id] of this.viterbi(normalized)) {
      const piece = normalized.subarray(start, end);
      const isUnk = id === this.unkId;
      if (isUnk && this.byteFallback) {
        for (const b of piece) out.push([encoder.encode(bytePiece(b)), this.byteIds[b]!]);
      } else if (isUnk && prevUnk) {
        // A run of unknown characters becomes one unknown piece, so decoders can copy it as a whole.
        const last = out[out.length - 1]!;
        const merged = new Uint8Array(last[0].length + piece.length);
        merged.set(last[0]);
        merged.set(piece, last[0].length);
        last[0] = merged;
      } else {
        out.push([piece, id]);
      }
      prevUnk = isUnk;
    }
    return out;
  }

  /**
   * unigram Model::EncodeOptimized: best path over byte positions. Scores are emulated in C++ types: a piece's
   * score is a double (the user-defined bonus `length * max_score - 0.1` makes the ternary double), the candidate is
   * the double sum with the stored float path score, compared in double and stored rounded to float; the unknown
   * candidate is float arithmetic throughout. Exact ties therefore resolve as in the C++.
   */
  private viterbi(s: Uint8Array): Array<[number, number, number]> {
    const size = s.length;
    if (size === 0) return [];
    const bestScore = new Float64Array(size + 1); // always holds f32 values
    const bestStart = new Int32Array(size + 1).fill(-1);
    const bestId = new Int32Array(size + 1).fill(-1);
    const unkScore = Math.fround(this.minScore - UNK_PENALTY);
    const pieces = this.pieces;
    let startsAt = 0;
    while (startsAt < size) {
      const tillHere = bestScore[startsAt]!;
      const mblen = Math.min(oneCharLen(s[startsAt]!), size - startsAt);
      let hasSingleNode = false;
      let node = 0;
      for (let keyPos = startsAt; keyPos < size; ) {
        node = this.trie.step(node, s[keyPos]!);
        keyPos++;
        if (node < 0) break;
        const id = this.trie.value(node);
        if (id < 0) continue;
        const p = pieces[id]!;
        if (p.type === PieceType.UNUSED) continue;
        const length = keyPos - startsAt;
        const score = p.type === PieceType.USER_DEFINED ? Math.fround(length * this.maxScore) - 0.1 : p.score;
        const candidate = score + tillHere;
        if (bestStart[keyPos] === -1 || candidate > bestScore[keyPos]!) {
          bestScore[keyPos] = Math.fround(candidate);
          bestStart[keyPos] = startsAt;
          bestId[keyPos] = id;
        }
        if (!hasSingleNode && length === mblen) hasSingleNode = true;
      }
      if (!hasSingleNode) {
        const target = startsAt + mblen;
        const candidate = Math.fround(unkScore + tillHere);
        if (bestStart[target] === -1 || candidate > bestScore[target]!) {
          bestScore[target] = candidate;
          bestStart[target] = startsAt;
          bestId[target] = this.unkId;
        }
      }
      startsAt += mblen;
    }
    const result: Array<[number, number, number]> = [];
    for (let endsAt = size; endsAt > 0; ) {
      const start = bestStart[endsAt]!;
      // Unreachable only for a model whose pieces split UTF-8 characters; stop rather than loop.
      if (start < 0 || start >= endsAt) break;
      result.push([start, endsAt, bestId[endsAt]!]);
      endsAt = start;
    }
    return result.reverse();
  }

  /** ProcessBytePieces: byte pieces form UTF-8 characters; each invalid byte decodes to U+FFFD. */
  private appendBytePieces(bytes: number[], text: ByteSink): void {
    const b = Uint8Array.from(bytes);
    for (let pos = 0; pos < b.length; ) {
      const n = validCharLen(b, pos, b.length);
      if (n === 0) {
        text.push(REPLACEMENT_CHAR);
        pos += 1;
      } else {
        text.push(b, pos, pos + n);
        pos += n;
      }
    }
  }
}

function startsWithSpaceAt(p: Uint8Array, i: number): boolean {
  return p[i] === SPACE_SYMBOL[0] && p[i + 1] === SPACE_SYMBOL[1] && p[i + 2] === SPACE_SYMBOL[2];
}

/** Appends `piece` with every U+2581 replaced by a space. */
function appendUnescaped(piece: Uint8Array, text: ByteSink): void {
  for (let i = 0; i < piece.length; ) {
    if (startsWithSpaceAt(piece, i)) {
      text.pushByte(0x20);
      i += SPACE_SYMBOL.length;
    } else {
      text.pushByte(piece[i]!);
      i++;
    }
  }
}
