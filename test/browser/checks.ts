// Kernel checks that run in the browser page: each draws random inputs, runs the WGSL and compares with the CPU
// reference, throwing on mismatch.
import type { GpuContext } from '../../src/gpu';
import { linear } from '../../src/kernels/linear';
import { assertClose, TOL } from '../reference/compare';
import { linearRef } from '../reference/linear';
import { Rng, roundF16 } from '../reference/random';

export interface BrowserCheck {
  name: string;
  run(ctx: GpuContext): Promise<void>;
}

function linearCheck(M: number, N: number, K: number, dtype: 'f32' | 'f16'): BrowserCheck {
  return {
    name: `linear ${dtype} [${M}x${K}]·[${N}x${K}]ᵀ relu`,
    async run(ctx) {
      const rng = new Rng();
      const x = rng.array(M * K);
      const w = dtype === 'f16' ? roundF16(rng.array(N * K)) : rng.array(N * K);
      const b = dtype === 'f16' ? roundF16(rng.array(N)) : rng.array(N);
      const rec = ctx.recorder();
      const xt = ctx.upload(x, [M, K]);
      const wt = ctx.createWeight(w, [N, K], dtype);
      const bt = ctx.createWeight(b, [N], dtype);
      const y = linear(rec, xt, wt, bt, { relu: true });
      rec.submit();
      assertClose(await ctx.read(y), linearRef(x, w, b, M, N, K, true), TOL[dtype], `seed ${rng.seed}`);
      for (const t of [xt, wt, bt, y]) t.dispose();
    },
  };
}

export const browserChecks: BrowserCheck[] = [
  linearCheck(3, 257, 33, 'f32'),
  linearCheck(1, 130, 70, 'f16'),
  linearCheck(65, 17, 9, 'f16'),
];
