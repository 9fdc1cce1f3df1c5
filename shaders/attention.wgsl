// attention: out = softmax(q·kᵀ·scale + mask)·v for every (batch, head), with an online (running-max) softmax in f32.
//
// Layout: q and out are [B, Tq, D], k and v are [B, Tk, D], D = H·dh, and head h owns columns h·dh .. h·dh+dh-1 —
// exactly what the q/k/v `linear` projections produce, so no transpose is ever materialised.
// Key j is visible to query i of batch b iff j < kv_len (the filled part of a preallocated cache), j < key_lengths[b]
// (when given: padding of the encoder states) and, when causal, j <= q_offset + i (q_offset: absolute position of
// query 0 while decoding with a KV cache). A query with no visible key outputs zeros, never NaN.
//
// Two entry points, same bindings and grid (x: queries, y: head + H·column chunk, z: batch):
//   `main`         16 queries × 32 keys per step, Q/K/V tiles staged in workgroup memory (encoder, teacher forcing);
//   `main_decode`  one query per workgroup (decoding): 64 keys per step, one per lane, then a max/sum reduction.
// A workgroup writes DV = 64 output columns of its head (one per thread), so its state does not grow with dh; wider
// heads take several column chunks (grid y), each recomputing the scores.
//
// Masked scores hold the finite sentinel NEG rather than -inf, because WGSL implementations may assume finite math.
// Loops that read global memory are bounded by uniforms (never by constants alone): llvmpipe fully unrolls
// constant-count loops, and unrolled global loads made this pipeline take minutes to compile there.

struct Params {
  B: u32,          // batch rows
  Tq: u32,         // queries per batch row
  Tk: u32,         // key rows per batch row (the row stride of k and v)
  D: u32,          // model width, H·dh
  H: u32,          // heads
  dh: u32,         // head width
  kv_len: u32,     // keys 0 .. kv_len-1 are valid
  q_offset: u32,   // absolute position of query 0 (causal masking)
  flags: u32,      // bit 0: causal, bit 1: key_lengths given
  scale: f32,      // score scale, usually 1/sqrt(dh)
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;             // [B, Tq, D]
@group(0) @binding(2) var<storage, read> k: array<f32>;             // [B, Tk, D]
@group(0) @binding(3) var<storage, read> v: array<f32>;             // [B, Tk, D]
@group(0) @binding(4) var<storage, read> key_lengths: array<u32>;   // [B] (unread when bit 1 of flags is 0)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;     // [B, Tq, D]

const WG: u32 = 64u;     // threads per workgroup (both entry points)
const BQ: u32 = 16u;     // queries per workgroup in `main`
const BK: u32 = 32u;     // keys per step in `main`
const DC: u32 = 32u;     // head dims per scoring step in `main`
const DCP: u32 = 33u;    // padded row of the Q/K tiles, so the rows a thread quad reads sit in different banks
const DV: u32 = 64u;     // output columns per workgroup: one per thread
const KT: u32 = 64u;     // keys per step in `main_decode`: one per thread
const QT: u32 = 1056u;   // offset of the Q tile in `tile`, after the K tile [BK, DCP]
const NEG: f32 = -1.0e30;

// `main` scores with K [BK, DCP] at tile[0..1056) and Q [BQ, DCP] at tile[QT..QT+528), then reuses all of tile for
// V [BK, DV]. Accumulators live in workgroup memory: dynamically indexed private arrays would spill on GPUs.
var<workgroup> tile: array<f32, 2048>;
var<workgroup> ss: array<f32, 512>;     // [BQ, BK] scores, then probabilities; `main_decode` uses [KT]
var<workgroup> acc: array<f32, 1024>;   // [BQ, DV] unnormalised outputs of `main`
var<workgroup> row_m: array<f32, 16>;   // [BQ] running max
var<workgroup> row_l: array<f32, 16>;   // [BQ] running sum of exp
var<workgroup> row_a: array<f32, 16>;   // [BQ] rescale of the accumulators for the current key tile
var<workgroup> red: array<f32, 64>;     // [WG] reduction scratch of `main_decode`

// One past the last key any query up to `last_q` of batch row b may see. Depends only on uniforms, the workgroup id
// and read-only storage, so loops bounded by it keep barriers in uniform control flow.
fn key_end(b: u32, last_q: u32) -> u32 {
  var e = params.kv_len;
  if ((params.flags & 2u) != 0u) {
    e = min(e, key_lengths[b]);
  }
  if ((params.flags & 1u) != 0u) {
    e = min(e, params.q_offset + last_q + 1u);
  }
  return e;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let Tq = params.Tq;
  let Tk = params.Tk;
  let D = params.D;
  let H = params.H;
  let dh = params.dh;
  let causal = (params.flags & 1u) != 0u;
  let b = wid.z;
  let head0 = (wid.y % H) * dh;
  let dv0 = (wid.y / H) * DV;
  let col_ok = dv0 + t < dh;   // this thread's output column exists
  let col = head0 + dv0 + t;
  let q0 = wid.x * BQ;
  let nq = min(BQ, Tq - q0);
  let kend = key_end(b, q0 + nq - 1u);
  // Scoring: thread t owns query r of the tile and keys cb, cb+4, ..., cb+28 of each key tile. Rows r >= nq (past
  // Tq) compute on stale tile rows; nothing reads their results.
  let r = t / 4u;
  let cb = t % 4u;
  let qi = q0 + r;
  if (t < BQ) {
    row_m[t] = NEG;
    row_l[t] = 0.0;
  }
  for (var i = 0u; i < nq; i++) {
    acc[i * DV + t] = 0.0;
  }
  workgroupBarrier();
  for (var k0 = 0u; k0 < kend; k0 += BK) {
    let nk = min(BK, kend - k0);
    // Explicit zeros: a bare `var s: array<f32, 8>;` in this loop kept the previous tile's sums on Dawn + llvmpipe.
    var s = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var d0 = 0u; d0 < dh; d0 += DC) {
      let nd = min(DC, dh - d0);
      for (var e = t; e < nq * DC; e += WG) {
        let c = e % DC;
        let ok = c < nd;
        let x = q[select(0u, (b * Tq + q0 + e / DC) * D + head0 + d0 + c, ok)];
        tile[QT + (e / DC) * DCP + c] = select(0.0, x, ok);
      }
      for (var e = t; e < nk * DC; e += WG) {
        let c = e % DC;
        let ok = c < nd;
        let x = k[select(0u, (b * Tk + k0 + e / DC) * D + head0 + d0 + c, ok)];
        tile[(e / DC) * DCP + c] = select(0.0, x, ok);
      }
      workgroupBarrier();
      for (var c = 0u; c < nd; c++) {
        let qv = tile[QT + r * DCP + c];
        for (var j = 0u; j < 8u; j++) {
          s[j] = fma(qv, tile[(cb + 4u * j) * DCP + c], s[j]);
        }
      }
      workgroupBarrier();
    }
    // Keys kc >= nk were scored against stale tile rows: select discards those values.
    for (var j = 0u; j < 8u; j++) {
      let kc = cb + 4u * j;
      let visible = kc < nk && (!causal || k0 + kc <= params.q_offset + qi);
      ss[r * BK + kc] = select(NEG, s[j] * params.scale, visible);
    }
    // Every thread is past scoring: the V tile may overwrite the K and Q tiles.
    workgroupBarrier();
    for (var i = 0u; i < nk; i++) {
      let x = v[select(0u, (b * Tk + k0 + i) * D + col, col_ok)];
      tile[i * DV + t] = select(0.0, x, col_ok);
    }
    if (t < nq) {
      var mx = NEG;
      for (var j = 0u; j < nk; j++) {
        mx = max(mx, ss[t * BK + j]);
      }
      var alpha = 1.0;
      if (mx > NEG) {
        let m_new = max(row_m[t], mx);
        alpha = exp(row_m[t] - m_new);   // 0 when nothing was visible before: the accumulators are still 0
        var sum = 0.0;
        for (var j = 0u; j < nk; j++) {
          let sv = ss[t * BK + j];
          let p = select(0.0, exp(sv - m_new), sv > NEG);
          ss[t * BK + j] = p;
          sum += p;
        }
        row_m[t] = m_new;
        row_l[t] = row_l[t] * alpha + sum;
      } else {
        // No key of this tile is visible to this query (past the causal diagonal).
        for (var j = 0u; j < nk; j++) {
          ss[t * BK + j] = 0.0;
        }
      }
      row_a[t] = alpha;
    }
    workgroupBarrier();
    // acc[i, t] = acc[i, t]·row_a[i] + Σ_j ss[i, j]·v[k0 + j, col]
    for (var i = 0u; i < nq; i++) {
      var a = acc[i * DV + t] * row_a[i];
      for (var j = 0u; j < nk; j++) {
        a = fma(ss[i * BK + j], tile[j * DV + t], a);
      }
      acc[i * DV + t] = a;
    }
    workgroupBarrier();   // ss and tile are rewritten by the next key tile
  }
  if (col_ok) {
    for (var i = 0u; i < nq; i++) {
      let l = row_l[i];
      var inv = 0.0;
      if (l > 0.0) {
        inv = 1.0 / l;
      }
      out[(b * Tq + q0 + i) * D + col] = acc[i * DV + t] * inv;
    }
  }
}

@compute @workgroup_size(64)
fn main_decode(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let Tq = params.Tq;
  let Tk = params.Tk;
  let D = params.D;
  let H = params.H;
  let dh = params.dh;
  let b = wid.z;
  let head0 = (wid.y % H) * dh;
  let dv0 = (wid.y / H) * DV;
  let col_ok = dv0 + t < dh;
  let col = head0 + dv0 + t;
  let qi = wid.x;
  let kend = key_end(b, qi);
  let qbase = (b * Tq + qi) * D + head0;
  // Every thread carries the same running max m (from the same reductions) and its own share l of the sum.
  var m = NEG;
  var l = 0.0;
  var a = 0.0;   // unnormalised output of column col
  for (var k0 = 0u; k0 < kend; k0 += KT) {
    let kj = k0 + t;
    let live = kj < kend;
    var s = 0.0;
    if (live) {
      let kbase = (b * Tk + kj) * D + head0;
      for (var d = 0u; d < dh; d++) {
        s = fma(q[qbase + d], k[kbase + d], s);
      }
    }
    let sc = select(NEG, s * params.scale, live);
    red[t] = sc;
    workgroupBarrier();
    for (var st = KT / 2u; st > 0u; st >>= 1u) {
      if (t < st) {
        red[t] = max(red[t], red[t + st]);
      }
      workgroupBarrier();
    }
    // Key k0 is visible (k0 < kend), so the tile max is a real score and exp never sees two sentinels.
    let m_new = max(m, red[0]);
    let alpha = exp(m - m_new);
    let p = select(0.0, exp(sc - m_new), live);
    ss[t] = p;
    l = l * alpha + p;
    m = m_new;
    workgroupBarrier();
    if (col_ok) {
      let n = min(KT, kend - k0);
      let vbase = (b * Tk + k0) * D + col;
      var x = a * alpha;
      for (var j = 0u; j < n; j++) {
        x = fma(ss[j], v[vbase + j * D], x);
      }
      a = x;
    }
    workgroupBarrier();   // ss and red are rewritten by the next key tile
  }
  red[t] = l;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st >>= 1u) {
    if (t < st) {
      red[t] += red[t + st];
    }
    workgroupBarrier();
  }
  if (col_ok) {
    let total = red[0];
    var inv = 0.0;
    if (total > 0.0) {
      inv = 1.0 / total;
    }
    out[(b * Tq + qi) * D + col] = a * inv;
  }
}
