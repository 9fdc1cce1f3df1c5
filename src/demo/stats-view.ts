// Engine counters (Stats) and the bytes each language cost the first time it was used.
import type { Stats } from '../index';
import { byId, formatBytes, h, languageName } from './dom';

/** Renders Stats into #stats and the per-language byte table into #bytes. */
export class StatsView {
  private readonly dl = byId<HTMLDListElement>('stats');
  private readonly tbody = byId<HTMLTableElement>('bytes').tBodies[0] as HTMLTableSectionElement;
  /** Whether the model has per-language shards (else the first language pays for the whole model). */
  extracted = true;

  render(s: Stats): void {
    const rows: Array<[string, string, string]> = [
      ['engine', 'backend', `${s.backend === 'webgpu' ? 'WebGPU' : 'WASM'} on ${s.adapter}`],
      [
        'speed',
        'tokens-per-second',
        s.tokensPerSecond > 0 ? `${s.tokensPerSecond.toFixed(1)} tokens/s (last translation)` : '–',
      ],
      ['tokens', 'tokens', String(s.tokens)],
      ['downloaded', 'bytes-downloaded', formatBytes(s.bytesDownloaded)],
      ['from cache', 'bytes-from-cache', formatBytes(s.bytesFromCache)],
      ['GPU memory (weights)', 'bytes-resident', `${formatBytes(s.bytesResident)} of ${formatBytes(s.memoryBudget)}`],
      ['languages on the GPU', 'resident', s.resident.map(languageName).join(', ') || 'none'],
    ];
    if (s.evictions > 0) rows.push(['evicted', 'evictions', `${s.evictions} (memory budget)`]);
    if (s.deviceLosses > 0) rows.push(['device lost', 'device-losses', `${s.deviceLosses} times (recovered)`]);
    this.dl.replaceChildren(...rows.flatMap(([k, key, v]) => [h('dt', {}, k), h('dd', { 'data-stat': key }, v)]));
  }

  /** No engine: says so where the counters would be. */
  unavailable(): void {
    this.dl.replaceChildren(h('dt', {}, 'engine'), h('dd', { 'data-stat': 'backend' }, 'not running'));
  }

  clearLanguages(): void {
    this.tbody.replaceChildren();
    (this.tbody.parentElement as HTMLTableElement).hidden = true;
  }

  /** Adds the row of a language loaded for the first time; the first row also paid for the shared trunk. */
  addLanguage(lang: string, downloaded: number, fromCache: number): void {
    const first = this.tbody.rows.length === 0;
    (this.tbody.parentElement as HTMLTableElement).hidden = false;
    this.tbody.append(
      h(
        'tr',
        { 'data-lang': lang, 'data-downloaded': downloaded, 'data-cached': fromCache },
        h(
          'th',
          { scope: 'row' },
          `${languageName(lang)}${first ? (this.extracted ? ', first: trunk + its shard' : ', first: the whole model') : ''}`,
        ),
        h('td', {}, formatBytes(downloaded)),
        h('td', {}, formatBytes(fromCache)),
      ),
    );
  }
}
