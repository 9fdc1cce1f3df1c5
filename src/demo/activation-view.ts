// The expert activation view: per MoE layer, the E experts with the ones the last translation used and their gate
// weights; for token-routed layers also a source-piece × expert heatmap of the translated sentence.
import type { Activation, LayerActivation } from '../index';
import { byId, h, languageName } from './dom';

const pct = (w: number): string => `${Math.round(w * 100)}%`;

/** Expert → gate weight for one routing decision. */
function weightsOf(experts: readonly number[], weights: readonly number[]): Map<number, number> {
  const m = new Map<number, number>();
  experts.forEach((e, i) => {
    m.set(e, (m.get(e) ?? 0) + (weights[i] ?? 0));
  });
  return m;
}

/** A row of E experts, the active ones marked with their weights. */
function expertRow(layer: LayerActivation, active: Map<number, number>, label: string): HTMLElement {
  const items: HTMLElement[] = [];
  for (let e = 0; e < layer.experts; e++) {
    const w = active.get(e);
    items.push(
      h(
        'li',
        {
          class: w === undefined ? 'expert' : 'expert active',
          'data-expert': e,
          'data-weight': w === undefined ? 0 : w.toFixed(4),
          style: `--w: ${w ?? 0}`,
          'aria-label': w === undefined ? `expert ${e}: not used` : `expert ${e}: gate weight ${pct(w)}`,
        },
        h('span', { class: 'id' }, `E${e}`),
        h('span', { class: 'w' }, w === undefined ? '–' : pct(w)),
      ),
    );
  }
  return h('ol', { class: 'experts', 'aria-label': label }, ...items);
}

/** Readable piece: SentencePiece's word-start mark as a visible dot. */
function pieceText(p: string): string {
  return p.replaceAll('\u2581', '·') || '∅';
}

/** What a token-routed layer's rows are: source pieces (encoder) or the piece fed at each decoding step (decoder). */
function unit(layer: LayerActivation): string {
  return layer.stack === 'encoder' ? 'source piece' : 'decoding step';
}

/** Pieces (rows) × experts (columns); each cell shaded by the piece's gate weight for that expert. */
function heatmap(layer: LayerActivation, name: string): HTMLElement {
  const t = layer.perToken as NonNullable<LayerActivation['perToken']>;
  const head = h('tr', {}, h('th', { scope: 'col' }, 'piece'));
  for (let e = 0; e < layer.experts; e++) head.append(h('th', { scope: 'col' }, `E${e}`));
  const body = h('tbody');
  t.tokens.forEach((tok, i) => {
    const m = weightsOf(t.experts[i] ?? [], t.weights[i] ?? []);
    const tr = h('tr', {}, h('th', { scope: 'row', class: 'piece' }, pieceText(tok)));
    for (let e = 0; e < layer.experts; e++) {
      const w = m.get(e) ?? 0;
      tr.append(
        h(
          'td',
          { 'data-weight': w.toFixed(4), style: `--w: ${w}`, title: `${pieceText(tok)} → E${e}: ${pct(w)}` },
          w > 0 ? pct(w) : '',
        ),
      );
    }
    body.append(tr);
  });
  return h(
    'div',
    { class: 'heatmap-wrap', tabindex: 0, role: 'region', 'aria-label': `${name}: experts per ${unit(layer)}` },
    h(
      'table',
      { class: 'heatmap' },
      h(
        'caption',
        {},
        layer.stack === 'encoder'
          ? 'Gate weight per source piece (first sentence)'
          : 'Gate weight per decoding step, by the piece fed in (first sentence)',
      ),
      h('thead', {}, head),
      body,
    ),
  );
}

/** Token-routed layer summary: mean gate weight of each expert over the sentence's pieces. */
function meanLoad(layer: LayerActivation): Map<number, number> {
  const t = layer.perToken as NonNullable<LayerActivation['perToken']>;
  const sum = new Map<number, number>();
  t.tokens.forEach((_, i) => {
    for (const [e, w] of weightsOf(t.experts[i] ?? [], t.weights[i] ?? [])) sum.set(e, (sum.get(e) ?? 0) + w);
  });
  for (const [e, w] of sum) sum.set(e, w / Math.max(1, t.tokens.length));
  return sum;
}

/** Renders {@link Activation} into #activation. */
export class ActivationView {
  private readonly root = byId<HTMLDivElement>('activation');
  /** The last activation of another language, to show what changed when the language changes. */
  private previous: Activation | null = null;
  private last: Activation | null = null;

  clear(message: string): void {
    this.root.replaceChildren(h('p', { class: 'empty' }, message));
    delete this.root.dataset.lang;
    this.previous = null;
    this.last = null;
  }

  render(a: Activation | null): void {
    if (!a || a.layers.length === 0) {
      this.clear(
        a ? 'This model has no MoE layer: every language uses the same dense network.' : 'No translation yet.',
      );
      return;
    }
    if (this.last && this.last.to !== a.to) this.previous = this.last;
    this.last = a;
    const prev = this.previous;
    this.root.dataset.lang = a.to;
    const parts: HTMLElement[] = [h('p', { class: 'for' }, `Routing for ${languageName(a.to)}`)];
    for (const layer of a.layers) {
      const name = `${layer.stack} layer ${layer.layer}`;
      const fig = h('figure', {
        class: `layer ${layer.routing}`,
        'data-stack': layer.stack,
        'data-layer': layer.layer,
        'data-routing': layer.routing,
      });
      const title = h(
        'figcaption',
        {},
        h('strong', {}, name),
        ` · ${layer.routing === 'task' ? 'task-routed: fixed per language' : `token-routed: per ${unit(layer)}`}`,
      );
      fig.append(title);
      if (layer.routing === 'task' && layer.task) {
        fig.append(expertRow(layer, weightsOf(layer.task.experts, layer.task.weights), `${name} experts`));
        const before = prev?.layers.find((l) => l.stack === layer.stack && l.layer === layer.layer)?.task;
        if (prev && before) {
          const same =
            before.experts.length === layer.task.experts.length &&
            before.experts.every((e, i) => e === layer.task?.experts[i]);
          const list = before.experts.map((e, i) => `E${e} ${pct(before.weights[i] ?? 0)}`).join(', ');
          fig.append(
            h(
              'p',
              { class: 'sub was' },
              `${languageName(prev.to)} uses ${list}${same ? ': the same experts, other weights' : ''}.`,
            ),
          );
        }
      } else if (layer.perToken && layer.perToken.tokens.length > 0) {
        fig.append(
          h('p', { class: 'sub' }, `Mean gate weight over the ${layer.stack === 'encoder' ? 'sentence' : 'steps'}:`),
          expertRow(layer, meanLoad(layer), `${name} mean expert load`),
          heatmap(layer, name),
        );
      } else {
        fig.append(
          h(
            'p',
            { class: 'sub' },
            layer.stack === 'decoder'
              ? 'Per-step routing of decoder layers is reported for greedy search only.'
              : 'The engine reports no per-token routing for this layer.',
          ),
        );
      }
      parts.push(fig);
    }
    this.root.replaceChildren(...parts);
  }
}
