// Kernel checks that run in the browser page: each draws random inputs, runs the WGSL and compares with the CPU
// reference, throwing on mismatch.
import type { GpuContext } from '../../src/gpu';
import { linear } from '../../src/kernels/linear';
import { moeLayer } from '../../src/model/moe-layer';
import { assertClose, assertExact, TOL } from '../reference/compare';
import { linearRef } from '../reference/linear';
import { moeLayerRef } from '../reference/moe';
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

/**
 * The whole MoE chain in one recorder (router linear or task-table lookup -> gating top-k -> GPU dispatch -> grouped
 * expert FFN -> combine with residual), compared with the f64 reference: expert indices exactly, outputs within the
 * dtype's tolerance.
 */
function moeCheck(
  kind: 'token' | 'task',
  N: number,
  E: number,
  D: number,
  F: number,
  dtype: 'f32' | 'f16',
): BrowserCheck {
  return {
    name: `moe chain ${kind}-routed ${dtype} N=${N} E=${E} D=${D} F=${F}`,
    async run(ctx) {
      const rng = new Rng();
      const w = (n: number, s = 1): Float32Array => {
        const a = rng.array(n, -s, s);
        return dtype === 'f16' ? roundF16(a) : a;
      };
      const x = rng.array(N * D);
      const res = rng.array(N * D);
      const ex = { wi: w(E * F * D, 0.5), bi: w(E * F, 0.5), wo: w(E * D * F, 0.5), bo: w(E * D, 0.5), E, D, F };
      const T = 3;
      const gate = w(E * D);
      const table = w(T * E, 2);
      const taskIds = Uint32Array.from({ length: N }, () => rng.int(T));
      const xt = ctx.upload(x, [N, D]);
      const rt = ctx.upload(res, [N, D]);
      const wt = {
        wi: ctx.createWeight(ex.wi, [E, F, D], dtype),
        bi: ctx.createWeight(ex.bi, [E, F], dtype),
        wo: ctx.createWeight(ex.wo, [E, D, F], dtype),
        bo: ctx.createWeight(ex.bo, [E, D], dtype),
      };
      const gt = ctx.createWeight(gate, [E, D], dtype);
      const tt = ctx.createWeight(table, [T, E], dtype);
      const ids = ctx.upload(taskIds, [N], 'u32');
      const rec = ctx.recorder();
      const out =
        kind === 'token'
          ? moeLayer(rec, xt, { kind: 'token', gate: gt }, wt, { k: 2, residual: rt })
          : moeLayer(rec, xt, { kind: 'task', table: tt, taskIds: ids }, wt, { k: 2, residual: rt });
      rec.submit();
      const ref = moeLayerRef(
        x,
        N,
        kind === 'token' ? { kind: 'token', gate } : { kind: 'task', table, T, taskIds },
        ex,
        { k: 2, residual: res },
      );
      assertExact(await ctx.read(out.indices), ref.indices, `expert indices, seed ${rng.seed}`);
      assertClose(await ctx.read(out.weights), ref.weights, TOL.f32, `gate weights, seed ${rng.seed}`);
      assertClose(await ctx.read(out.y), ref.y, TOL[dtype], `moe output, seed ${rng.seed}`);
      for (const t of [xt, rt, gt, tt, ids, wt.wi, wt.bi, wt.wo, wt.bo, out.y, out.indices, out.weights]) t.dispose();
    },
  };
}

export const browserChecks: BrowserCheck[] = [
  linearCheck(3, 257, 33, 'f32'),
  linearCheck(1, 130, 70, 'f16'),
  linearCheck(65, 17, 9, 'f16'),
  moeCheck('token', 37, 8, 24, 40, 'f32'),
  moeCheck('token', 1, 3, 16, 8, 'f16'),
  moeCheck('task', 57, 8, 24, 40, 'f16'),
];
