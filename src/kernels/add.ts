import shader from '../../shaders/add.wgsl?raw';
import { KernelInputError, type KernelSource, paramsSchema, type Recorder, type Tensor } from '../gpu';
import { ceilDiv, expectDType, expectLive, splitGrid } from './common';
import { assembleShader } from './kernel-plan';

/** Invocations per workgroup of add (one element each). */
export const ADD_WG = 256;

/** add's uniform struct (emitted into the WGSL as `struct Params`). */
const ADD_PARAMS = paramsSchema([['n', 'u32', 'elements']] as const);

/** Entry points of add: out of place, in place (`a += b`), and a tensor added to itself in place. */
export type AddEntry = 'main' | 'main_inplace' | 'main_self';

/** The pipeline source of one add entry point. */
export function addSource(entry: AddEntry = 'main'): KernelSource {
  const code = assembleShader('add:f32', () => ({ prelude: '', params: ADD_PARAMS, body: shader }));
  return { name: 'add', variant: 'f32', entryPoint: entry, code, constants: { WG: ADD_WG } };
}

/** Every add pipeline (for ahead-of-time compilation). */
export function addSources(): KernelSource[] {
  return [addSource('main'), addSource('main_inplace'), addSource('main_self')];
}

/** Options of {@link add}. */
export interface AddOptions {
  /** Write into this tensor instead of a new one; it may be `a` or `b` (in place). */
  out?: Tensor;
}

/**
 * Residual add y = a + b of two f32 tensors with the same number of elements; y has a's shape. With `out: a` (or
 * `out: b`) the sum is written in place. Grids over 65535 workgroups are split in two dimensions.
 */
export function add(rec: Recorder, a: Tensor, b: Tensor, opts: AddOptions = {}): Tensor {
  const kernel = 'add';
  const out = opts.out;
  expectLive(kernel, a, b, ...(out ? [out] : []));
  expectDType(kernel, 'a', a, 'f32');
  expectDType(kernel, 'b', b, 'f32');
  if (a.size !== b.size) {
    throw new KernelInputError(kernel, `a ${a.toString()} and b ${b.toString()} must have the same number of elements`);
  }
  if (out) {
    expectDType(kernel, 'out', out, 'f32');
    if (out.size !== a.size) throw new KernelInputError(kernel, `out ${out.toString()} must hold ${a.size} elements`);
  }
  const ctx = rec.ctx;
  const y = out ?? ctx.empty(a.shape, 'f32', 'add.y');
  const n = a.size;
  const uniforms = ADD_PARAMS.pack({ n });
  const grid = splitGrid(ctx, ceilDiv(n, ADD_WG));
  // Two bindings of one buffer where one is writable is a validation error, so aliasing picks the entry point.
  const inA = y.buffer === a.buffer;
  const inB = y.buffer === b.buffer;
  if (inA && inB) {
    rec.dispatch(addSource('main_self'), uniforms, [y], grid);
  } else if (inA || inB) {
    rec.dispatch(addSource('main_inplace'), uniforms, [y, inA ? b : a], grid);
  } else {
    rec.dispatch(addSource('main'), uniforms, [y, b, a], grid);
  }
  return y;
}
