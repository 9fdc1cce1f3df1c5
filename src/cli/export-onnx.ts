// taskmoe export-onnx: writes the ONNX graphs (encoder, cached decoder step, prefix decoder) of each language, the
// models the WASM fallback runs on onnxruntime-web.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkShardIndex, shardIndex, taskShardIndex } from '../runtime/load-model';
import { exportOnnx, shardReader } from '../runtime/onnx-export';
import { parseSafetensors, type SafetensorsFile } from '../runtime/safetensors';
import { commaList, parseOptions, required } from './args';
import type { Io } from './io';
import { checkOutputFolder } from './output-paths';
import { checkModel, modelFolder } from './session';

export const EXPORT_ONNX_HELP = `Usage: taskmoe export-onnx --model <model> --out <dir> [--tasks de,fr]

Writes <out>/<lang>/encoder.onnx, decoder-step.onnx and decoder.onnx (opset 17, f32) for each language of a model:
extracted or not, any routing. Task-routed MoE layers are folded for the language; token-routed ones are gated in the
graph (every expert computed, the top 2 combined).
Encoder inputs: ids int64 [B, S], pos int64 [S], key_bias f32 [B, 1, 1, S] (0, or -1e9 at padding); outputs enc f32
[B, S, D] and cross_k.i, cross_v.i f32 [B, H, S, dh] for each decoder layer i.
decoder-step.onnx (one step, KV cache): inputs tok int64 [B, 1], pos int64 [1], key_bias, cross_k.i, cross_v.i,
past_k.i, past_v.i f32 [B, H, P, dh]; outputs logits, logp f32 [B, 1, V], present_k.i, present_v.i [B, H, P+1, dh].
decoder.onnx (recomputes the prefix): inputs tgt int64 [B, T], pos int64 [T], causal f32 [1, 1, T, T], enc, key_bias;
output logits f32 [B, T, V].

Options:
  --model <model>    model folder or its manifest.json: a path, file:// or http(s) URL (extracted or not)
  --out <dir>        folder to write the graphs to
  --tasks <list>     comma-separated languages (default: all of the model's)
  -h, --help         this help
`;

/** Runs `taskmoe export-onnx`; returns the exit status. */
export async function exportOnnxCommand(argv: readonly string[], io: Io): Promise<number> {
  const opts = parseOptions('export-onnx', argv, {
    model: { type: 'string', short: 'm' },
    out: { type: 'string', short: 'o' },
    tasks: { type: 'string' },
  });
  if (opts.help) {
    await io.out(EXPORT_ONNX_HELP);
    return 0;
  }
  const model = required('export-onnx', opts, 'model', '<model> (a model folder, its manifest.json or URL)');
  const out = required('export-onnx', opts, 'out', '<dir> (where to write the graphs)');
  const tasks = commaList(opts, 'tasks', 'language, e.g. --tasks de,fr');
  const files = modelFolder(model);
  if (!/^https?:/i.test(model)) checkOutputFolder('export-onnx', out, files.location);
  const { cfg, languages } = await checkModel(files, tasks ?? []);
  const trunk = [];
  // Every shard is checked against config.json's index (itself checked against the config's values), so graphs are
  // never written from a config that does not match its weights.
  for (const s of cfg.shards) {
    const file = parseSafetensors(await files.read(s), { name: s });
    checkShardIndex(file, s, shardIndex(cfg, s));
    trunk.push(file);
  }
  for (const lang of tasks ? languages : cfg.languages) {
    const shard = cfg.taskShards?.[lang];
    const own = shard ? [parseSafetensors(await files.read(shard), { name: shard })] : [];
    if (shard) checkShardIndex(own[0] as SafetensorsFile, shard, taskShardIndex(cfg));
    const read = shardReader([...own, ...trunk]);
    const onnx = exportOnnx(cfg, read, { lang, decoder: 'prefix' });
    const step = exportOnnx(cfg, read, { lang }).decoder;
    const dir = join(out, lang);
    await mkdir(dir, { recursive: true });
    const mib = (b: Uint8Array): string => `${(b.byteLength / 2 ** 20).toFixed(1)} MiB`;
    await writeFile(join(dir, 'encoder.onnx'), onnx.encoder);
    await writeFile(join(dir, 'decoder-step.onnx'), step);
    await writeFile(join(dir, 'decoder.onnx'), onnx.decoder);
    await io.out(
      `${lang}: ${dir}/encoder.onnx (${mib(onnx.encoder)}), decoder-step.onnx (${mib(step)}), decoder.onnx (${mib(onnx.decoder)})\n`,
    );
  }
  return 0;
}
