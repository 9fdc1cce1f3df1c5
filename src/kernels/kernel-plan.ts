import gemmCore from '../../shaders/include/gemm.wgsl?raw';
import layerNormStats from '../../shaders/include/layer_norm_stats.wgsl?raw';
import { flagConstants, type Grid, type KernelProfile, type ParamsSchema } from '../gpu';

/**
 * Where one dispatch of a kernel runs: its entry point, the values of its `override` constants (workgroup and tile
 * sizes) and its workgroup grid. A wrapper's `plan` function computes it from the context and the shapes; the same
 * function serves ahead-of-time compilation (the entry points and constants it can return) and dispatch.
 */
export interface KernelPlan<Entry extends string = string> {
  entry: Entry;
  constants: Readonly<Record<string, number>>;
  grid: Grid;
}

/** One entry point of a kernel: its override constants and the output tile one workgroup covers. */
export interface EntrySpec {
  readonly constants: Readonly<Record<string, number>>;
  /** Output columns (or elements along x) per workgroup. */
  readonly cols: number;
  /** Output rows per workgroup. */
  readonly rows: number;
}

/** Which entry point a kernel takes for each kernel profile (one row per profile, one column per case). */
export type ProfileTable<Case extends string, Entry extends string> = Readonly<
  Record<KernelProfile, Readonly<Record<Case, Entry>>>
>;

/** WGSL pieces shared between shaders, prepended after the weight prelude (no entry points of their own). */
export const WGSL_INCLUDES = { gemm: gemmCore, layerNormStats } as const;

/** What a kernel's shader is assembled from, in this order. */
export interface ShaderParts {
  /** Weight prelude (src/kernels/weights.ts). */
  prelude: string;
  /** The uniform struct. */
  params: ParamsSchema<string>;
  /** Flag bits, emitted as `const FLAG_<NAME>: u32`. */
  flags?: Readonly<Record<string, number>>;
  /** Other shared values, emitted as `const <NAME>: u32` (values the TS grid maths also uses). */
  consts?: Readonly<Record<string, number>>;
  includes?: ReadonlyArray<keyof typeof WGSL_INCLUDES>;
  /** The shader file. */
  body: string;
}

const assembled = new Map<string, string>();

/**
 * The WGSL of a kernel: prelude, generated `struct Params`, flag and shared constants, includes, then the shader file.
 * Assembled once per `key` (kernel name and variant) and kept, so recording a dispatch does not rebuild it.
 */
export function assembleShader(key: string, parts: () => ShaderParts): string {
  let code = assembled.get(key);
  if (code === undefined) {
    const p = parts();
    const consts = Object.entries(p.consts ?? {})
      .map(([n, v]) => `const ${n}: u32 = ${v}u;\n`)
      .join('');
    code =
      p.prelude +
      p.params.wgsl +
      flagConstants(p.flags ?? {}) +
      consts +
      (p.includes ?? []).map((i) => WGSL_INCLUDES[i]).join('\n') +
      p.body;
    assembled.set(key, code);
  }
  return code;
}
