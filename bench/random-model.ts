// Random-weight models of any size and routing, in the exported format, for throughput benchmarks (speed depends on
// shapes, not on trained values). Decoding of such a model never meets </s> early, so benchmarks force the steps.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { f32ToF16Bits } from '../src/gpu/tensor';
import type { Routing } from '../src/model/config';
import { writeSafetensors } from '../src/runtime/safetensors';
import { SentencePieceTokenizer } from '../src/tokenizer';

export interface RandomModelSpec {
  variant: string;
  dModel: number;
  nHeads: number;
  dFF: number;
  encLayers: number;
  decLayers: number;
  nExperts: number;
  encRouting: Routing;
  decRouting: Routing;
  /** A SentencePiece model with <2xx> tags for `languages`; its size sets the vocabulary. */
  tokenizer: string;
  languages: string[];
  maxLen?: number;
  seed?: number;
  /**
   * Dense stacks only: give the odd layers (where MoE stacks have experts) a dense FFN of width 2·d_ff, i.e. the
   * dense model with the active size of an extracted top-2 sub-network.
   */
  wideOddLayers?: boolean;
}

/** Writes config.json, spm.model and weights-NNN.safetensors (f16) of a random model into `dir`. */
export function writeRandomModel(dir: string, spec: RandomModelSpec): void {
  mkdirSync(dir, { recursive: true });
  const spmBytes = readFileSync(spec.tokenizer);
  const tok = SentencePieceTokenizer.fromBytes(new Uint8Array(spmBytes));
  const V = tok.vocabSize;
  const { dModel: D, dFF: F, nExperts: E } = spec;
  let s = (spec.seed ?? 1) >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const tensors: Array<[string, number[], number]> = []; // name, shape, scale
  const lin = (p: string, out: number, inp: number): void => {
    tensors.push([`${p}.weight`, [out, inp], 2 / Math.sqrt(inp)], [`${p}.bias`, [out], 0.02]);
  };
  const ln = (p: string): void => {
    tensors.push([`${p}.weight`, [D], 0], [`${p}.bias`, [D], 0]);
  };
  tensors.push(['embed.weight', [V, D], 2 / Math.sqrt(D)]);
  const moeLayers = { encoder: [] as number[], decoder: [] as number[] };
  for (const stack of ['encoder', 'decoder'] as const) {
    const n = stack === 'encoder' ? spec.encLayers : spec.decLayers;
    const routing = stack === 'encoder' ? spec.encRouting : spec.decRouting;
    for (let i = 0; i < n; i++) {
      const p = `${stack}.layers.${i}`;
      for (const a of stack === 'encoder' ? ['self_attn'] : ['self_attn', 'cross_attn']) {
        ln(`${p}.${a}_norm`);
        for (const m of ['q', 'k', 'v', 'o']) lin(`${p}.${a}.${m}`, D, D);
      }
      ln(`${p}.ffn_norm`);
      if (routing !== 'dense' && i % 2 === 1) {
        moeLayers[stack].push(i);
        tensors.push(
          [`${p}.moe.wi`, [E, F, D], 2 / Math.sqrt(D)],
          [`${p}.moe.bi`, [E, F], 0.02],
          [`${p}.moe.wo`, [E, D, F], 2 / Math.sqrt(F)],
          [`${p}.moe.bo`, [E, D], 0.02],
        );
        if (routing === 'token') tensors.push([`${p}.moe.gate.weight`, [E, D], 2 / Math.sqrt(D)]);
        else tensors.push([`${p}.moe.gate.table`, [spec.languages.length, E], 4]);
      } else {
        const width = spec.wideOddLayers && i % 2 === 1 ? 2 * F : F;
        lin(`${p}.ffn.wi`, width, D);
        lin(`${p}.ffn.wo`, D, width);
      }
    }
    ln(`${stack}.norm`);
  }
  const index: Record<string, { shape: number[]; dtype: 'F16'; shard: string }> = {};
  const shards: string[] = [];
  let cur: Record<string, { dtype: 'F16'; shape: number[]; data: Uint8Array }> = {};
  let size = 0;
  const flush = (): void => {
    const name = `weights-${String(shards.length).padStart(3, '0')}.safetensors`;
    for (const [k, v] of Object.entries(cur)) index[k] = { shape: v.shape, dtype: 'F16', shard: name };
    writeFileSync(join(dir, name), writeSafetensors(cur));
    shards.push(name);
    cur = {};
    size = 0;
  };
  for (const [name, shape, scale] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    const bits = new Uint16Array(n);
    const isGamma = name.endsWith('_norm.weight') || name.endsWith('norm.weight');
    for (let i = 0; i < n; i++) bits[i] = f32ToF16Bits(isGamma ? 1 : rnd() * scale);
    if (size > 0 && size + n * 2 > 45 * 2 ** 20) flush();
    cur[name] = { dtype: 'F16', shape, data: new Uint8Array(bits.buffer) };
    size += n * 2;
  }
  flush();
  const config = {
    variant: spec.variant,
    d_model: D,
    n_heads: spec.nHeads,
    d_ff: F,
    enc_layers: spec.encLayers,
    dec_layers: spec.decLayers,
    n_experts: E,
    top_k: 2,
    enc_routing: spec.encRouting,
    dec_routing: spec.decRouting,
    moe_layers: moeLayers,
    vocab_size: V,
    max_len: spec.maxLen ?? 256,
    n_tasks: spec.languages.length,
    languages: spec.languages,
    lang_tag_ids: Object.fromEntries(spec.languages.map((l) => [l, tok.pieceToId(`<2${l}>`)])),
    pad_id: 0,
    bos_id: 2,
    eos_id: 3,
    unk_id: 1,
    ln_eps: 1e-5,
    tokenizer: 'spm.model',
    random_weights: true,
    shards,
    tensors: index,
  };
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 1)}\n`);
  writeFileSync(join(dir, 'spm.model'), spmBytes);
}
