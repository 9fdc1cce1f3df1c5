// The public translate options and texts, declared once and checked once at the boundary (InThreadTranslator,
// WasmTranslator, LocalModel, the CLI) before any work starts: wrong types give InvalidOptionError, sizes past
// the stated limits LimitExceededError.
import { InvalidOptionError, LimitExceededError } from '../errors';
import { CONFIG_LIMITS } from '../model/config';
import { MAX_BEAM } from '../model/limits';
import { type Fail, int, obj, optional, type Rule, str } from '../runtime/schema';

/** Stated limits of one translate call; checked before any work starts. */
export const TRANSLATE_LIMITS = {
  /** Characters (UTF-16 code units) per input text. */
  charactersPerText: 100_000,
  /** Texts per call. */
  textsPerCall: 10_000,
  /** Characters of all texts of one call together. */
  charactersPerCall: 2_000_000,
  /** Beam width (the engine's own constant). */
  beam: MAX_BEAM,
  /** Sentences decoded together. */
  batchSize: 1024,
  /** Decoding steps per sentence (the model's max_len caps it further). */
  maxSteps: CONFIG_LIMITS.maxLen,
} as const;

const fn: Rule<unknown> = (v, field, fail) => {
  if (typeof v !== 'function') fail(field, 'must be a function');
  return v;
};

const signal: Rule<unknown> = (v, field, fail) => {
  const s = v as { aborted?: unknown; addEventListener?: unknown } | null;
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.aborted !== 'boolean' ||
    typeof s.addEventListener !== 'function'
  ) {
    fail(field, 'must be an AbortSignal');
  }
  return v;
};

/** The declaration of {@link TranslateOptions}' checked fields. */
const TRANSLATE_OPTIONS = obj({
  to: str(64),
  beam: optional(int(1, TRANSLATE_LIMITS.beam)),
  batchSize: optional(int(1, TRANSLATE_LIMITS.batchSize)),
  maxSteps: optional(int(1, TRANSLATE_LIMITS.maxSteps)),
  signal: optional(signal),
  onPartial: optional(fn),
});

const failOption: Fail = (field, problem) => {
  throw new InvalidOptionError(field || 'options', problem);
};

/**
 * Checks the texts and options of a translate call: `texts` a list of strings within {@link TRANSLATE_LIMITS}, `to` a
 * string, `beam`, `batchSize` and `maxSteps` integers in range. Throws `InvalidOptionError` or `LimitExceededError`.
 */
export function checkTranslateCall(texts: unknown, opts: unknown): void {
  TRANSLATE_OPTIONS(opts, '', failOption);
  if (!Array.isArray(texts)) failOption('texts', 'must be a list of strings');
  const list = texts as unknown[];
  const L = TRANSLATE_LIMITS;
  if (list.length > L.textsPerCall) {
    throw new LimitExceededError('textsPerCall', list.length, L.textsPerCall, 'translate', {
      message: `${list.length} texts in one call; the limit is ${L.textsPerCall} (textsPerCall). Translate them in several calls.`,
    });
  }
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    if (typeof t !== 'string') failOption(`texts[${i}]`, `must be a string, got ${t === null ? 'null' : typeof t}`);
    const n = (t as string).length;
    if (n > L.charactersPerText) {
      throw new LimitExceededError('charactersPerText', n, L.charactersPerText, 'translate', {
        message: `Text ${i} has ${n} characters; the limit is ${L.charactersPerText} (charactersPerText). Split it into paragraphs.`,
      });
    }
    total += n;
  }
  if (total > L.charactersPerCall) {
    throw new LimitExceededError('charactersPerCall', total, L.charactersPerCall, 'translate', {
      message: `The texts of one call have ${total} characters together; the limit is ${L.charactersPerCall} (charactersPerCall). Translate them in several calls.`,
    });
  }
}

/** Checks a batch size where decoding uses one (a loop's progress must never depend on a value that can be 0). */
export function checkBatchSize(batchSize: unknown): number {
  return int(1, TRANSLATE_LIMITS.batchSize)(batchSize, 'batchSize', failOption);
}
