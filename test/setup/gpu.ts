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
