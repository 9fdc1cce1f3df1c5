/**
 * Splits a text into pieces of at most `maxTokens` tokens for translation: at sentence boundaries first, then, for a
 * sentence still too long, into consecutive runs of its token ids. Nothing is dropped or truncated.
 */
export function segment(text: string, encode: (s: string) => number[], maxTokens: number): number[][] {
  const ids = encode(text);
  if (ids.length <= maxTokens) return [ids];
  const sentences = text.match(/[^.!?。！？;]+[.!?。！？;]*\s*/gu) ?? [text];
  const pieces: number[][] = [];
  let cur: string[] = [];
  const flush = (): void => {
    if (cur.length === 0) return;
    const joined = cur.join('').trim();
    cur = [];
    if (!joined) return;
    const e = encode(joined);
    for (let i = 0; i < e.length; i += maxTokens) pieces.push(e.slice(i, i + maxTokens));
  };
  for (const s of sentences) {
    const candidate = [...cur, s].join('').trim();
    if (cur.length > 0 && encode(candidate).length > maxTokens) flush();
    cur.push(s);
  }
  flush();
  return pieces;
}
