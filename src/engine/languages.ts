// Language tags: the model names its target languages with BCP 47 tags in any case ("de", "pt-br", "zh-cn"); callers
// may write any equivalent tag ("DE", "pt-BR", "zh-Hans"). Matching goes through Intl.getCanonicalLocales and
// Intl.Locale, as the platform's own Translator API does.

function canonical(tag: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined; // not a well-formed BCP 47 tag
  }
}

function maximized(tag: string): Intl.Locale {
  return new Intl.Locale(tag).maximize();
}

/**
 * The model language (one of `available`, returned as spelled there) that the BCP 47 tag `tag` asks for, or undefined
 * when none fits or `tag` is not a well-formed tag. In order:
 * 1. the same canonical tag, case-insensitively (`DE` -> `de`, `pt-BR` -> `pt-br`);
 * 2. the same tag once likely subtags are added (`Intl.Locale.maximize`): `zh`, `zh-Hans`, `zh-Hans-CN` -> `zh-cn`
 *    and `pt` -> `pt-br` (but `zh-TW`, Traditional, and `pt-PT` match nothing);
 * 3. a model language that names only a language covers every region written in its usual script: `de-AT` and
 *    `de-CH` -> `de`, `es-MX` -> `es` (but `sr-Latn` does not match a Cyrillic `sr`).
 */
export function resolveLanguage(tag: string, available: readonly string[]): string | undefined {
  const want = canonical(tag);
  if (!want) return undefined;
  const models = available.flatMap((a) => {
    const c = canonical(a);
    return c ? [{ tag: a, canonical: c }] : [];
  });
  const exact = models.find((m) => m.canonical.toLowerCase() === want.toLowerCase());
  if (exact) return exact.tag;
  const w = maximized(want);
  const likely = models.find((m) => maximized(m.canonical).toString() === w.toString());
  if (likely) return likely.tag;
  const plain = models.find((m) => {
    const l = new Intl.Locale(m.canonical);
    return !l.script && !l.region && l.language === w.language && maximized(m.canonical).script === w.script;
  });
  return plain?.tag;
}

/** Whether `tag` is a well-formed BCP 47 tag for English (`en`, `EN`, `en-US`, `en-Latn-GB`): the source language. */
export function isEnglish(tag: string): boolean {
  const c = canonical(tag);
  return c !== undefined && new Intl.Locale(c).language === 'en';
}
