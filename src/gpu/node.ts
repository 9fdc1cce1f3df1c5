/**
 * WebGPU in Node through Dawn (the `webgpu` package). Not imported by browser code.
 */
/// <reference types="@webgpu/types" preserve="true" />
import { existsSync } from 'node:fs';
import { importOptional } from './dependency';

const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

let cached: GPU | null = null;

/**
 * The `GPU` entry point of Dawn for Node. Where no Vulkan driver is chosen and Mesa's lavapipe is installed
 * (scripts/install-system-deps.sh), it is selected, so a machine without a GPU still runs WGSL for real. Rejects with
 * `DependencyMissingError` when the optional package `webgpu` is not installed.
 */
export async function nodeGpu(): Promise<GPU> {
  if (cached) return cached;
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(LAVAPIPE_ICD)) {
    process.env.VK_ICD_FILENAMES = LAVAPIPE_ICD;
  }
  const mod = (await importOptional('webgpu', 'WebGPU in Node (Dawn)', () => import('webgpu'))) as unknown as {
    create: (flags: string[]) => GPU;
    globals: Record<string, unknown>;
  };
  Object.assign(globalThis, mod.globals);
  cached = mod.create([]);
  return cached;
}
