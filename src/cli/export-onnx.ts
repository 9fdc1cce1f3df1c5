// taskmoe export-onnx: writes the ONNX graphs (encoder, decoder) of each language's dense sub-network, the models
// the WASM fallback runs on onnxruntime-web.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportOnnx, shardReader } from '../runtime/onnx-export';
import { parseSafetensors } from '../runtime/safetensors';
import { parseOptions, required, UsageError } from './args';
import type { Io } from './io';
import { checkModel, modelFolder } from './session';

export const EXPORT_ONNX_HELP = `Usage: taskmoe export-onnx --model <dir> --out <dir> [--tasks de,fr]

Writes <out>/<lang>/encoder.onnx and <out>/<lang>/decoder.onnx (opset 17, f32) for each language of a dense
sub-network: an extracted task model (taskmoe extract) or a dense model. Token-routed MoE layers have no ONNX form.
Encoder inputs: ids int64 [B, S], pos int64 [S], key_bias f32 [B, 1, 1, S]; output enc f32 [B, S, D]. Decoder
inputs: tgt int64 [B, T], pos int64 [T], causal f32 [1, 1, T, T], enc, key_bias; output logits f32 [B, T, V].

Options:
  --model <dir>      extracted or dense model folder
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
  const model = required('export-onnx', opts, 'model', '<dir> (an extracted or dense model folder)');
  const out = required('export-onnx', opts, 'out', '<dir> (where to write the graphs)');
  const tasks =
    typeof opts.tasks === 'string'
      ? opts.tasks
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
      : undefined;
  if (tasks && tasks.length === 0) throw new UsageError('--tasks needs at least one language, e.g. --tasks de,fr.');
  const files = modelFolder(model);
  const cfg = await checkModel(files, tasks ?? []);
  const trunk = [];
  for (const s of cfg.shards) trunk.push(parseSafetensors(await files.read(s), { name: s }));
  for (const lang of tasks ?? cfg.languages) {
    const shard = cfg.taskShards?.[lang];
    const own = shard ? [parseSafetensors(await files.read(shard), { name: shard })] : [];
    const onnx = exportOnnx(cfg, shardReader([...own, ...trunk]));
    const dir = join(out, lang);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'encoder.onnx'), onnx.encoder);
    await writeFile(join(dir, 'decoder.onnx'), onnx.decoder);
    await io.out(
      `${lang}: ${dir}/encoder.onnx (${(onnx.encoder.byteLength / 2 ** 20).toFixed(1)} MiB), decoder.onnx (${(onnx.decoder.byteLength / 2 ** 20).toFixed(1)} MiB)\n`,
    );
  }
  return 0;
}
