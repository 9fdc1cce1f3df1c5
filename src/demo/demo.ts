// The translation demo: model and language pickers, streamed translation, per-file download progress, expert
// activation and engine counters. Uses only the public API (createTranslator and the Translator interface).
import type { CreateTranslatorOptions, Translator } from '../index';
import { ActivationView } from './activation-view';
import { byId, h, languageName } from './dom';
import { type DemoModel, modelListUrl, readModelList } from './models';
import { ProgressView } from './progress-view';
import { StatsView } from './stats-view';

type State = 'starting' | 'ready' | 'loading' | 'translating' | 'error' | 'unavailable';

/** What the page needs from the engine: `createTranslator` (injectable so the page can be tested in isolation). */
export type CreateFn = (opts: CreateTranslatorOptions) => Promise<Translator>;

const NO_WEBGPU =
  'WebGPU is missing in this browser. Use Chrome or Edge 113+, or Safari or Firefox with WebGPU enabled, on a secure (https or localhost) page.';

function isAbort(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name ?? '';
  return name === 'AbortError' || name === 'TranslationAbortedError' || (e as { code?: string })?.code === 'aborted';
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The demo page's controller. */
export class Demo {
  private readonly main = byId<HTMLElement>('demo');
  private readonly form = byId<HTMLFormElement>('form');
  private readonly modelSel = byId<HTMLSelectElement>('model');
  private readonly modelNote = byId<HTMLParagraphElement>('model-note');
  private readonly source = byId<HTMLTextAreaElement>('source');
  private readonly target = byId<HTMLSelectElement>('target');
  private readonly beam = byId<HTMLSelectElement>('beam');
  private readonly button = byId<HTMLButtonElement>('translate');
  private readonly stop = byId<HTMLButtonElement>('stop');
  private readonly output = byId<HTMLOutputElement>('output');
  private readonly error = byId<HTMLParagraphElement>('error');
  private readonly backend = byId<HTMLParagraphElement>('backend');
  private readonly progress = new ProgressView();
  private readonly activation = new ActivationView();
  private readonly stats = new StatsView();
  private models: DemoModel[] = [];
  private translator: Translator | null = null;
  /** Languages loaded at least once with the current translator (their bytes are in the table). */
  private seen = new Set<string>();
  private abort: AbortController | null = null;
  private runs = 0;

  /**
   * @param create makes the translator of a model
   * @param where where the engine runs, for the status line (e.g. "engine in a Web Worker")
   */
  constructor(
    private readonly create: CreateFn,
    private readonly where = '',
  ) {}

  private setState(s: State): void {
    this.main.dataset.state = s;
    const busy = s === 'loading' || s === 'translating' || s === 'starting';
    const usable = this.translator !== null;
    this.button.disabled = busy || !usable;
    this.target.disabled = busy || !usable;
    this.beam.disabled = busy || !usable;
    this.modelSel.disabled = busy || this.models.length === 0;
    this.stop.hidden = !(s === 'loading' || s === 'translating');
  }

  private showError(text: string | null): void {
    this.error.hidden = text === null;
    this.error.textContent = text ?? '';
  }

  async start(): Promise<void> {
    this.setState('starting');
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.translate();
    });
    this.source.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        if (!this.button.disabled) this.form.requestSubmit();
      }
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.abort) this.abort.abort();
    });
    this.stop.addEventListener('click', () => this.abort?.abort());
    this.modelSel.addEventListener('change', () => void this.openModel(this.modelSel.value));
    if (!('gpu' in navigator)) {
      this.backend.className = 'notice warn';
      this.backend.textContent = NO_WEBGPU;
    }
    try {
      this.models = await readModelList(modelListUrl());
    } catch (e) {
      this.showError(message(e));
      this.setState('error');
      return;
    }
    this.modelSel.replaceChildren(...this.models.map((m) => h('option', { value: m.id }, m.label)));
    const wanted = new URLSearchParams(location.search).get('model');
    const first = this.models.find((m) => m.id === wanted) ?? (this.models[0] as DemoModel);
    this.modelSel.value = first.id;
    await this.openModel(first.id);
  }

  /** Replaces the translator with one for model `id`. */
  private async openModel(id: string): Promise<void> {
    const model = this.models.find((m) => m.id === id);
    if (!model) return;
    this.abort?.abort();
    this.setState('starting');
    const old = this.translator;
    this.translator = null;
    await old?.dispose().catch(() => {});
    this.seen = new Set();
    this.stats.clearLanguages();
    this.progress.clear();
    this.activation.clear('Translate something to see its experts.');
    this.output.textContent = '';
    this.output.dataset.done = 'false';
    this.showError(null);
    this.modelNote.textContent = [
      `Routing (encoder / decoder): ${model.routing}.`,
      model.extracted ? 'A shared trunk plus one shard per language.' : 'Every language uses the whole model.',
      model.tiny ? 'A tiny near-random test model: its translations are junk, its shapes and routing are real.' : '',
      model.note ?? '',
    ]
      .filter((x) => x !== '')
      .join(' ');
    this.stats.extracted = model.extracted;
    this.main.dataset.model = model.id;
    let t: Translator;
    try {
      t = await this.create({ model: model.manifest });
    } catch (e) {
      this.backend.className = 'notice warn';
      if ('gpu' in navigator) {
        this.backend.textContent = 'The translation engine cannot start in this browser.';
        this.showError(message(e));
      } else {
        this.backend.textContent = `${NO_WEBGPU} The WASM fallback could not start either, so nothing can be translated.`;
        this.showError(message(e));
      }
      this.stats.unavailable();
      this.activation.clear('No engine is running, so there is no routing to show.');
      this.setState('unavailable');
      return;
    }
    this.translator = t;
    const s = await t.stats();
    this.backend.className = s.backend === 'wasm' ? 'notice warn' : 'notice ok';
    this.backend.textContent =
      s.backend === 'wasm'
        ? `${'gpu' in navigator ? 'WebGPU has no usable adapter here.' : NO_WEBGPU} The engine runs on its WASM fallback instead (slower).`
        : `WebGPU on ${s.adapter}${this.where ? `, ${this.where}` : ''}.`;
    this.stats.render(s);
    const langs = await t.languages();
    const keep = this.target.value;
    this.target.replaceChildren(...langs.map((l) => h('option', { value: l }, languageName(l))));
    if (langs.includes(keep)) this.target.value = keep;
    this.setState('ready');
  }

  private async translate(): Promise<void> {
    const t = this.translator;
    if (!t) return;
    const lang = this.target.value;
    const lines = this.source.value.split('\n');
    this.showError(null);
    this.abort = new AbortController();
    const signal = this.abort.signal;
    try {
      if (!(await t.loaded()).includes(lang)) {
        this.setState('loading');
        this.progress.begin(lang);
        const before = await t.stats();
        await t.load(lang, {
          onProgress: (p) => this.progress.update(p),
          onLanguageProgress: (p) => this.progress.language(p),
          signal,
        });
        this.progress.finish();
        const after = await t.stats();
        if (!this.seen.has(lang)) {
          this.seen.add(lang);
          this.stats.addLanguage(
            lang,
            after.bytesDownloaded - before.bytesDownloaded,
            after.bytesFromCache - before.bytesFromCache,
          );
        }
      } else {
        this.progress.clear();
      }
      this.setState('translating');
      this.output.dataset.done = 'false';
      this.output.dataset.lang = lang;
      this.output.classList.add('streaming');
      // Screen readers announce the translation once, when it is complete, not every partial.
      this.output.setAttribute('aria-busy', 'true');
      this.output.textContent = '';
      const beam = Number(this.beam.value) || 1;
      for await (const p of t.translateStream(lines, { to: lang, beam, signal })) {
        this.output.textContent = p.texts.join('\n');
        if (p.done) this.output.dataset.done = 'true';
      }
      this.activation.render(await t.activation());
      this.runs++;
      this.main.dataset.runs = String(this.runs);
    } catch (e) {
      if (isAbort(e)) this.showError('Stopped.');
      else this.showError(message(e));
    } finally {
      this.output.classList.remove('streaming');
      this.output.setAttribute('aria-busy', 'false');
      this.abort = null;
      if (this.translator === t) {
        this.stats.render(await t.stats());
        this.setState('ready');
      }
    }
  }
}
