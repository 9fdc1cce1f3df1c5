// taskmoe info: the WebGPU adapter Dawn gives this machine, what it offers and what taskmoe uses of it.
import { adapterName, OPTIONAL_FEATURES } from '../gpu';
import { nodeGpu } from '../gpu/node';
import { parseOptions } from './args';
import type { Io } from './io';
import { gpu } from './session';

export const INFO_HELP = `Usage: taskmoe info [--json]

Prints the WebGPU adapter taskmoe runs on in Node (through Dawn): its name, the features it offers, those taskmoe
enables, and the limits that bound model size. Without a GPU, Dawn uses Mesa's lavapipe (software Vulkan) if it
is installed.

Options:
  --json         print one JSON object instead of text
  -h, --help     this help
`;

const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** Runs `taskmoe info`; returns the exit status. */
export async function infoCommand(argv: readonly string[], io: Io): Promise<number> {
  const opts = parseOptions('info', argv, { json: { type: 'boolean' } });
  if (opts.help) {
    await io.out(INFO_HELP);
    return 0;
  }
  const ctx = await gpu();
  // The context enables only the features taskmoe uses; ask the adapter for all it offers.
  const adapter = await (await nodeGpu()).requestAdapter();
  const offered = [...(adapter?.features ?? ctx.features)].map(String).sort();
  const enabled = OPTIONAL_FEATURES.filter((f) => ctx.features.has(f));
  const limits = Object.fromEntries(LIMITS.map((k) => [k, ctx.limits[k]]));
  const a = ctx.adapter;
  if (opts.json) {
    await io.out(
      `${JSON.stringify({ adapter: adapterName(a), ...a, features: offered, taskmoeFeatures: enabled, limits })}\n`,
    );
    return 0;
  }
  const lines = [
    `adapter: ${adapterName(a)}`,
    ...(a.description ? [`description: ${a.description}`] : []),
    `fallback adapter: ${a.isFallbackAdapter ? 'yes' : 'no'}`,
    `features: ${offered.join(', ') || 'none'}`,
    `taskmoe uses: ${enabled.join(', ') || 'none'} (of ${OPTIONAL_FEATURES.join(', ')})`,
    ...LIMITS.map((k) => `${k}: ${ctx.limits[k]}`),
  ];
  await io.out(`${lines.join('\n')}\n`);
  return 0;
}
