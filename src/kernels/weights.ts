import { type DType, type GpuContext, KernelInputError } from '../gpu';

/** How a kernel reads weights: f32, f16 packed two per u32 (any adapter), or native f16 (shader-f16). */
export type WeightVariant = 'f32' | 'f16packed' | 'f16';

/** The variant for weights of `dtype` on `ctx`: native f16 where the device has shader-f16. */
export function weightVariant(ctx: GpuContext, dtype: DType): WeightVariant {
  if (dtype === 'f32') return 'f32';
  if (dtype === 'f16') return ctx.hasF16 ? 'f16' : 'f16packed';
  throw new KernelInputError('weights', `weights must be f32 or f16, got ${dtype}`);
}

/**
 * WGSL prelude declaring, for each weight array `name`, its element type `name_t` and an accessor
 * `fn load_name(i: u32) -> f32` reading element i as f32. The kernel declares `var<storage, read> name: array<name_t>`.
 */
export function weightPrelude(variant: WeightVariant, names: readonly string[]): string {
  return mixedWeightPrelude(names.map((n) => [n, variant] as const));
}

/** {@link weightPrelude} with a variant per array (e.g. f16 weights with an f32 bias). */
export function mixedWeightPrelude(arrays: ReadonlyArray<readonly [string, WeightVariant]>): string {
  const lines: string[] = [];
  if (arrays.some(([, v]) => v === 'f16')) lines.push('enable f16;');
  for (const [n, variant] of arrays) {
    if (variant === 'f32') {
      lines.push(`alias ${n}_t = f32;`, `fn load_${n}(i: u32) -> f32 { return ${n}[i]; }`);
    } else if (variant === 'f16') {
      lines.push(`alias ${n}_t = f16;`, `fn load_${n}(i: u32) -> f32 { return f32(${n}[i]); }`);
    } else {
      lines.push(
        `alias ${n}_t = u32;`,
        `fn load_${n}(i: u32) -> f32 { let p = unpack2x16float(${n}[i >> 1u]); return select(p.x, p.y, (i & 1u) == 1u); }`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
