// Expert use of a translation, for the activation view: the gate outputs a WebGPU decode kept (model/transformer.ts's
// Trace) read back and named by token, or a task's fixed experts from the model's config.
import type { GpuContext } from '../gpu';
import type { ModelConfig } from '../model/config';
import type { Trace } from '../model/transformer';
import type { SentencePieceTokenizer } from '../tokenizer';
import type { TraceBatch } from './local-model';
import type { Activation, LayerActivation } from './translator';

type Choices = { experts: number[]; weights: number[] };
type PerToken = NonNullable<LayerActivation['perToken']>;

/** What a decode kept for {@link readActivation}: its target, the gate outputs and the rows they describe. */
export interface TracedDecode {
  to: string;
  trace: Trace | null;
  batch: TraceBatch | null;
}

/**
 * Reads `traced`'s gate outputs back from `ctx` into one entry per MoE layer: task-routed layers give the language's
 * experts (from the config where it fixes them), token-routed encoder layers the first sentence's pieces, token-routed
 * decoder layers each step of it (when the decoder was traced).
 */
export async function readActivation(
  ctx: GpuContext,
  cfg: ModelConfig,
  tok: SentencePieceTokenizer,
  traced: TracedDecode,
): Promise<Activation> {
  const { to, trace, batch } = traced;
  const layers: LayerActivation[] = [];
  for (const stack of ['encoder', 'decoder'] as const) {
    const routing = stack === 'encoder' ? cfg.encRouting : cfg.decRouting;
    if (routing === 'dense') continue;
    for (const layer of cfg.moeLayers[stack]) {
      const entry: LayerActivation = { stack, layer, routing, experts: cfg.nExperts };
      const g = trace?.gates.find((x) => x.stack === stack && x.layer === layer);
      const fixed = cfg.taskGates?.[to]?.find((x) => x.stack === stack && x.layer === layer);
      if (routing === 'task' && fixed) {
        entry.task = { experts: [...fixed.experts], weights: [...fixed.weights] };
      } else if (g && batch && batch.src.length > 0) {
        const k = g.indices.shape[1] as number;
        const idx = (await ctx.read(g.indices)) as Uint32Array;
        const wts = (await ctx.read(g.weights)) as Float32Array;
        const row = (s: number): Choices => ({
          experts: Array.from(idx.subarray(s * k, s * k + k)),
          weights: Array.from(wts.subarray(s * k, s * k + k)),
        });
        if (routing === 'task') entry.task = row(0);
        else if (stack === 'decoder') {
          const perToken = await decoderTokens(ctx, cfg, tok, trace as Trace, batch, layer);
          if (perToken) entry.perToken = perToken;
        } else {
          const src = batch.src[0] as number[];
          const rows = src.map((_, s) => row(s));
          entry.perToken = {
            tokens: src.map((id) => tok.idToPiece(id)),
            experts: rows.map((r) => r.experts),
            weights: rows.map((r) => r.weights),
          };
        }
      }
      layers.push(entry);
    }
  }
  return { to, text: batch?.texts[0] ?? 0, layers };
}

/**
 * Per decoder step of the batch's first sentence: the token fed in (<s>, then each output piece) and the experts its
 * gate chose. Needs the decoder trace (greedy decoding of a token-routed decoder).
 */
async function decoderTokens(
  ctx: GpuContext,
  cfg: ModelConfig,
  tok: SentencePieceTokenizer,
  trace: Trace,
  batch: TraceBatch,
  layer: number,
): Promise<PerToken | undefined> {
  if (!batch.decoderTraced) return undefined;
  const steps = trace.gates.filter((g) => g.stack === 'decoder' && g.layer === layer);
  const out = batch.out[0] ?? [];
  const n = Math.min(steps.length, out.length + 1);
  const res: PerToken = { tokens: [], experts: [], weights: [] };
  for (let t = 0; t < n; t++) {
    const g = steps[t] as (typeof steps)[number];
    const k = g.indices.shape[1] as number;
    const idx = (await ctx.read(g.indices)) as Uint32Array;
    const wts = (await ctx.read(g.weights)) as Float32Array;
    res.tokens.push(tok.idToPiece(t === 0 ? cfg.bosId : (out[t - 1] as number)));
    res.experts.push(Array.from(idx.subarray(0, k)));
    res.weights.push(Array.from(wts.subarray(0, k)));
  }
  return res;
}

/**
 * The task-routed layers' experts for `to` (the WASM engine, which traces no token routing): from the config where it
 * fixes them, else the gates folded into the language's graphs.
 */
export function taskActivation(
  cfg: ModelConfig,
  to: string,
  folded: ReadonlyArray<{
    stack: 'encoder' | 'decoder';
    layer: number;
    experts: readonly number[];
    weights: readonly number[];
  }>,
): Activation {
  const layers = (cfg.taskGates?.[to] ?? folded).map((g) => ({
    stack: g.stack,
    layer: g.layer,
    routing: 'task' as const,
    experts: cfg.nExperts,
    task: { experts: [...g.experts], weights: [...g.weights] },
  }));
  return { to, text: 0, layers };
}
