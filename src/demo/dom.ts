// Small DOM helpers for the demo page (plain DOM, no framework).

type Attrs = Record<string, string | number | boolean | undefined>;

/** Creates an element with attributes (`class`, `data-*`, `aria-*`, ...) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  el.append(...children);
  return el;
}

/** The element with this id; throws when the page lacks it (a broken index.html, not a user error). */
export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo page: no element #${id}`);
  return el as T;
}

/** Bytes as KiB / MiB with one decimal. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

const names = new Intl.DisplayNames(['en'], { type: 'language' });

/** A language code as a readable name with the code, e.g. "German (de)", "Brazilian Portuguese (pt-br)". */
export function languageName(code: string): string {
  try {
    const name = names.of(code);
    return name && name.toLowerCase() !== code.toLowerCase() ? `${name} (${code})` : code;
  } catch {
    return code;
  }
}
