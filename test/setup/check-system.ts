import { existsSync } from 'node:fs';

/**
 * Vitest global setup: the tests run WGSL on a real adapter (Dawn on a Vulkan driver) and in real Chromium, and never
 * skip. Fail at once, naming the script that installs what is missing.
 */
export default function checkSystem(): void {
  const missing: string[] = [];
  const icd = process.env.VK_ICD_FILENAMES ?? '/usr/share/vulkan/icd.d/lvp_icd.json';
  if (!existsSync(icd)) missing.push(`a Vulkan driver for Dawn (${icd})`);
  const chromium = process.env.TASKMOE_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) missing.push(`chromium (${chromium})`);
  if (missing.length) {
    throw new Error(
      `taskmoe's tests need ${missing.join(' and ')}. Install them with: sudo bash scripts/install-system-deps.sh`,
    );
  }
}
