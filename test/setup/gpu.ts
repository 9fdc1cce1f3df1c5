import { adapterName, createGpuContext, type GpuContext, type GpuContextOptions } from '../../src/gpu';
import { nodeGpu } from '../../src/gpu/node';

const printed = new Set<string>();

/**
 * A GPU context on the Node WebGPU adapter (Dawn). Prints the adapter once per configuration, so every test log says
 * where the WGSL ran. Fails (never skips) when no adapter exists.
 */
export async function testContext(options: Omit<GpuContextOptions, 'gpu'> = {}): Promise<GpuContext> {
  const ctx = await createGpuContext({ ...options, gpu: await nodeGpu() });
  const line = `[taskmoe] WebGPU adapter: ${adapterName(ctx.adapter)}; features: ${[...ctx.features].join(', ') || 'none'}`;
  if (!printed.has(line)) {
    printed.add(line);
    console.log(line);
  }
  return ctx;
}

/** f16 reading mode x kernel profile: the contexts kernel tests with more than one entry point run on. */
export const KERNEL_MODES = [
  ['f16 native', 'gpu'],
  ['f16 packed', 'gpu'],
  ['f16 native', 'emulated'],
  ['f16 packed', 'emulated'],
] as const;

/** A test context for one of {@link KERNEL_MODES}. */
export function modeContext(mode: (typeof KERNEL_MODES)[number]): Promise<GpuContext> {
  const [f16, kernelProfile] = mode;
  return testContext({
    kernelProfile,
    ...(f16 === 'f16 packed' ? { disableFeatures: ['shader-f16' as const] } : {}),
  });
}
