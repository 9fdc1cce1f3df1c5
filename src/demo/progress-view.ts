// Download progress of a language: one overall bar (its total known from the manifest before the first byte) and a
// bar per file, shown while the files arrive (the first time the language is used).
import type { LanguageProgress, Progress } from '../index';
import { byId, formatBytes, h, languageName } from './dom';

/** The progress panel: one overall bar from LanguageProgress events and one bar per file named in Progress events. */
export class ProgressView {
  private readonly panel = byId<HTMLDivElement>('progress');
  private readonly overall = byId<HTMLProgressElement>('progress-overall');
  private readonly overallText = byId<HTMLSpanElement>('progress-overall-bytes');
  private readonly list = byId<HTMLUListElement>('progress-list');
  private readonly rows = new Map<string, { bar: HTMLProgressElement; text: HTMLSpanElement; li: HTMLLIElement }>();

  /** Clears the bars and hides the panel (a language that is already loaded downloads nothing). */
  clear(): void {
    this.rows.clear();
    this.overall.max = 1;
    this.overall.value = 0;
    this.overallText.textContent = '';
    this.list.replaceChildren();
    this.panel.hidden = true;
  }

  /** Starts a panel for `lang`; bars appear with the first event of each file. */
  begin(lang: string): void {
    this.clear();
    byId('progress-verb').textContent = 'Downloading';
    byId('progress-lang').textContent = languageName(lang);
    this.panel.dataset.lang = lang;
    this.panel.dataset.done = 'false';
  }

  /** The whole language: bytes of every file it needs, loaded so far. */
  language(p: LanguageProgress): void {
    this.overall.max = Math.max(1, p.total);
    this.overall.value = p.loaded;
    this.overall.dataset.total = String(p.total);
    this.overallText.textContent = `${formatBytes(p.loaded)} of ${formatBytes(p.total)}`;
  }

  update(p: Progress): void {
    let row = this.rows.get(p.shard);
    if (!row) {
      const id = `progress-${this.rows.size}`;
      const bar = h('progress', { id, max: Math.max(1, p.total), value: 0 });
      const text = h('span', { class: 'bytes' });
      const li = h('li', { 'data-shard': p.shard }, h('label', { for: id }, p.shard), bar, text);
      row = { bar, text, li };
      this.rows.set(p.shard, row);
      this.list.append(li);
      this.panel.hidden = false;
    }
    row.bar.max = Math.max(1, p.total);
    row.bar.value = p.loaded;
    row.li.dataset.cached = String(p.cached);
    row.text.textContent = `${formatBytes(p.loaded)} of ${formatBytes(p.total)}${p.cached ? ' (cache)' : ''}`;
  }

  /** Marks the load finished; the bars stay until the next translation so that one can see what it cost. */
  finish(): void {
    this.panel.dataset.done = 'true';
    const cached = [...this.rows.values()].every(({ li }) => li.dataset.cached === 'true');
    byId('progress-verb').textContent = cached ? 'Read from the cache for' : 'Downloaded for';
    for (const { bar } of this.rows.values()) bar.value = bar.max;
    this.overall.value = this.overall.max;
  }

  /** Files that reported progress in this load. */
  shards(): string[] {
    return [...this.rows.keys()];
  }
}
