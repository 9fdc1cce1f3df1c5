/**
 * Decoding of a SentencePiece `.model` file: a serialized `sentencepiece.ModelProto` (sentencepiece_model.proto,
 * proto2). Only the fields the tokenizer needs are decoded; the others are skipped. Defaults are the proto2 defaults
 * of that schema, which is what SentencePiece sees for an absent field.
 */

import { ProtoReader } from './protobuf';

/** `ModelProto.SentencePiece.Type`. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** `TrainerSpec.ModelType`. */
export const ModelType = { UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 } as const;

/** One vocabulary entry. `piece` holds the raw UTF-8 bytes as stored (SentencePiece does not validate them). */
export interface ModelPiece {
  piece: Uint8Array;
  score: number;
  type: number;
}

/** The `TrainerSpec` fields that affect encoding and decoding. */
export interface TrainerSpec {
  modelType: number;
  vocabSize: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  unkPiece: string;
  bosPiece: string;
  eosPiece: string;
  padPiece: string;
  unkSurface: string;
  userDefinedSymbols: string[];
  controlSymbols: string[];
}

/** `NormalizerSpec` (also used for the optional denormalizer). */
export interface NormalizerSpec {
  name: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

/** The decoded model. */
export interface ModelProto {
  pieces: ModelPiece[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
  /** Present only when the file has a denormalizer_spec. */
  denormalizerSpec?: NormalizerSpec;
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function defaultTrainerSpec(): TrainerSpec {
  return {
    modelType: ModelType.UNIGRAM,
    vocabSize: 8000,
    byteFallback: false,
    treatWhitespaceAsSuffix: false,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    unkPiece: '<unk>',
    bosPiece: '<s>',
    eosPiece: '</s>',
    padPiece: '<pad>',
    unkSurface: ' \u2047 ',
    userDefinedSymbols: [],
    controlSymbols: [],
  };
}

function defaultNormalizerSpec(): NormalizerSpec {
  return {
    name: '',
    precompiledCharsmap: new Uint8Array(0),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
}

// Enum fields with a value outside the enum keep their default, as proto2 parsers do (the value goes to unknown
// fields), so a newer model type or piece type is never misread as another one.
function enumOr(value: number, allowed: Record<string, number>, fallback: number): number {
  return Object.values(allowed).includes(value) ? value : fallback;
}

function readPiece(r: ProtoReader): ModelPiece {
  const p: ModelPiece = { piece: new Uint8Array(0), score: 0, type: PieceType.NORMAL };
  for (let k = r.next(); k; k = r.next()) {
    if (k.field === 1) p.piece = r.readBytes(k.wireType);
    else if (k.field === 2) p.score = r.readFloat(k.wireType);
    else if (k.field === 3) p.type = enumOr(r.readInt32(k.wireType), PieceType, p.type);
    else r.skip(k.wireType);
  }
  return p;
}

function readTrainerSpec(r: ProtoReader, t: TrainerSpec): void {
  const str = (wt: number) => utf8.decode(r.readBytes(wt));
  for (let k = r.next(); k; k = r.next()) {
    const wt = k.wireType;
    switch (k.field) {
      case 3:
        t.modelType = enumOr(r.readInt32(wt), ModelType, t.modelType);
        break;
      case 4:
        t.vocabSize = r.readInt32(wt);
        break;
      case 24:
        t.treatWhitespaceAsSuffix = r.readBool(wt);
        break;
      case 30:
        t.controlSymbols.push(str(wt));
        break;
      case 31:
        t.userDefinedSymbols.push(str(wt));
        break;
      case 35:
        t.byteFallback = r.readBool(wt);
        break;
      case 40:
        t.unkId = r.readInt32(wt);
        break;
      case 41:
        t.bosId = r.readInt32(wt);
        break;
      case 42:
        t.eosId = r.readInt32(wt);
        break;
      case 43:
        t.padId = r.readInt32(wt);
        break;
      case 44:
        t.unkSurface = str(wt);
        break;
      case 45:
        t.unkPiece = str(wt);
        break;
      case 46:
        t.bosPiece = str(wt);
        break;
      case 47:
        t.eosPiece = str(wt);
        break;
      case 48:
        t.padPiece = str(wt);
        break;
      default:
        r.skip(wt);
    }
  }
}

function readNormalizerSpec(r: ProtoReader, n: NormalizerSpec): void {
  for (let k = r.next(); k; k = r.next()) {
    const wt = k.wireType;
    if (k.field === 1) n.name = utf8.decode(r.readBytes(wt));
    else if (k.field === 2) n.precompiledCharsmap = r.readBytes(wt);
    else if (k.field === 3) n.addDummyPrefix = r.readBool(wt);
    else if (k.field === 4) n.removeExtraWhitespaces = r.readBool(wt);
    else if (k.field === 5) n.escapeWhitespaces = r.readBool(wt);
    else r.skip(wt);
  }
}

/**
 * Decodes a serialized `sentencepiece.ModelProto`. Throws `TokenizerError` ('malformed-model') on malformed wire
 * data; semantic checks (piece types, special ids) are the tokenizer's job. A message field that occurs twice is
 * merged into one, as protobuf parsers do.
 */
export function parseModelProto(bytes: Uint8Array, what = 'sentencepiece model'): ModelProto {
  const r = new ProtoReader(bytes, what);
  const model: ModelProto = {
    pieces: [],
    trainerSpec: defaultTrainerSpec(),
    normalizerSpec: defaultNormalizerSpec(),
  };
  for (let k = r.next(); k; k = r.next()) {
    const sub = () => new ProtoReader(r.readBytes(k.wireType), what);
    switch (k.field) {
      case 1:
        model.pieces.push(readPiece(sub()));
        break;
      case 2:
        readTrainerSpec(sub(), model.trainerSpec);
        break;
      case 3:
        readNormalizerSpec(sub(), model.normalizerSpec);
        break;
      case 5:
        model.denormalizerSpec ??= defaultNormalizerSpec();
        readNormalizerSpec(sub(), model.denormalizerSpec);
        break;
      default:
        r.skip(k.wireType);
    }
  }
  return model;
}
