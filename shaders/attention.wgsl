// attention: out = softmax(q·kᵀ·scale + mask)·v for every (batch, head), with an online (running-max) softmax in f32.
//
// Layout: q and out are [B, Tq, D], k and v are [B, Tk, D], D = H·dh, and head h owns columns h·dh .. h·dh+dh-1 —
// exactly what the q/k/v `linear` projections produce, so no transpose is ever materialised.
// Key j is visible to query i of batch b iff j < kv_len (the filled part of a preallocated cache), j < key_lengths[b]
// (when given: padding of the encoder states) and, when causal, j <= q_offset + i (q_offset: absolute position of
// query 0 while decoding with a KV cache). A query with no visible key outputs zeros, never NaN.
//
// Three entry points, same bindings (`main` and `main_decode` also the same grid: x: query tile or query, y: head +
// H·column chunk, z: batch):
//   `main`         16 queries × 32 keys per step (encoder, teacher forcing). Q and K tiles are staged in workgroup
//                  memory; each thread scores one query against 8 keys (two vec4), then accumulates one output column
//                  of all 16 queries (four vec4 registers) from a staged V tile, so most loads feed 4 to 8 FMAs.
//   `main_decode`  one query per workgroup (decoding, Tq <= 4): 64 keys per step, one per lane, scored from a
//                  coalesced, transposed K tile; then a two-level max/sum reduction and one output column per lane.
//   `main_decode_serial`  the 'emulated' kernel profile's decode: a thread per (batch row, query, head, column
//                  chunk), no workgroup memory and no barriers (below).
// A workgroup writes DV = 64 output columns of its head (one per thread), so its state does not grow with dh; wider
// heads take several column chunks (grid y), each recomputing the scores.
//
// Masked scores hold the finite sentinel NEG rather than -inf, because WGSL implementations may assume finite math.
// Loops that read global memory are bounded by uniforms (never by constants alone): llvmpipe fully unrolls
// constant-count loops, and unrolled global loads made an earlier version of this pipeline take minutes to compile
// there.

// Prepended by the TS wrapper (src/kernels/attention.ts): `struct Params` and the FLAG_* constants generated from its
// params schema and flag table, and BQ and DV, the tile sizes its grid maths uses.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;             // [B, Tq, D]
@group(0) @binding(2) var<storage, read> k: array<f32>;             // [B, Tk, D]
@group(0) @binding(3) var<storage, read> v: array<f32>;             // [B, Tk, D]
@group(0) @binding(4) var<storage, read> key_lengths: array<u32>;   // [B] (unread without FLAG_KEY_LENGTHS)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;     // [B, Tq, D]

const WG: u32 = 64u;     // threads per workgroup (both entry points)
const BK: u32 = 32u;     // keys per step in `main`
const DC: u32 = 32u;     // head dims per scoring step in `main`
const KT: u32 = 64u;     // keys per step in `main_decode`: one per thread
const KS: u32 = 9u;      // vec4 row stride of the transposed K tile (8 + 1 pad, fewer bank conflicts on its stores)
const QS: u32 = 9u;      // vec4 row stride of the Q tile (8 + 1 pad)
const QT: u32 = 288u;    // vec4 offset of the Q tile in `tile`, after the K tile [DC, KS]
const KDS: u32 = 65u;    // row stride of the transposed K tile of `main_decode` (64 keys + 1 pad: no bank conflicts)
const NEG: f32 = -1.0e30;
override SERIAL_WG: u32 = 64u;   // threads per workgroup of `main_decode_serial`

// `main` stages, in `tile`, K transposed [DC, KS] (vec4 of 4 keys) at 0 and Q [BQ, QS] (vec4 of 4 dims) at QT while
// scoring, then V [BK, DV] (scalars) over all of it while accumulating.
var<workgroup> tile: array<vec4<f32>, 512>;
var<workgroup> pt: array<vec4<f32>, 128>;   // [BK, BQ / 4] probabilities, transposed: a vec4 holds 4 queries
var<workgroup> row_a: array<vec4<f32>, 4>;  // [BQ / 4] rescale of the accumulators for the current key tile
var<workgroup> part: array<f32, 64>;        // [WG] per-thread partial max / sum (both entry points)
var<workgroup> part8: array<f32, 8>;        // [8] second reduction level of `main_decode`
var<workgroup> ps1: array<f32, 64>;         // [KT] probabilities of `main_decode`
var<workgroup> kd: array<f32, 2080>;        // [DC, KDS] K tile of `main_decode`, transposed

// One past the last key any query up to `last_q` of batch row b may see. Depends only on uniforms, the workgroup id
// and read-only storage, so loops bounded by it keep barriers in uniform control flow.
fn key_end(b: u32, last_q: u32) -> u32 {
  var e = params.kv_len;
  if ((params.flags & FLAG_KEY_LENGTHS) != 0u) {
    e = min(e, key_lengths[b]);
  }
  if ((params.flags & FLAG_CAUSAL) != 0u) {
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
  let causal = (params.flags & FLAG_CAUSAL) != 0u;
  let b = wid.z;
  let head0 = (wid.y % H) * dh;
  let dv0 = (wid.y / H) * DV;
  let col_ok = dv0 + t < dh;   // this thread's output column exists
  let col = head0 + dv0 + t;
  let q0 = wid.x * BQ;
  let nq = min(BQ, Tq - q0);
  let kend = key_end(b, q0 + nq - 1u);
  // Scoring: thread t owns query r of the tile and keys 8·kb .. 8·kb+7 of each key tile (two vec4). Accumulating:
  // thread t owns output column t of all 16 queries (four vec4). Queries r >= nq (past Tq) compute on stale tile rows
  // in their own lanes; nothing reads their results.
  let r = t / 4u;
  let kb = t % 4u;
  let qi = q0 + r;
  var m = NEG;    // running max of query r (the same in its four threads)
  var l = 0.0;    // this thread's share of query r's running sum of exp
  var a0 = vec4<f32>();   // unnormalised outputs of column t, queries 0..3
  var a1 = vec4<f32>();   // queries 4..7
  var a2 = vec4<f32>();   // queries 8..11
  var a3 = vec4<f32>();   // queries 12..15
  for (var k0 = 0u; k0 < kend; k0 += BK) {
    let nk = min(BK, kend - k0);
    // Initialised explicitly: a bare `var s: array<f32, 8>;` here once kept the previous tile's sums (Dawn + llvmpipe).
    var s0 = vec4<f32>();   // scores of keys 8·kb .. 8·kb+3
    var s1 = vec4<f32>();   // keys 8·kb+4 .. 8·kb+7
    for (var d0 = 0u; d0 < dh; d0 += DC) {
      let nd = min(DC, dh - d0);
      // Columns nd .. DC-1 are zero in both tiles, so the dot product may run over whole vec4.
      for (var e = t; e < nq * DC; e += WG) {
        let c = e % DC;
        let ok = c < nd;
        let x = q[select(0u, (b * Tq + q0 + e / DC) * D + head0 + d0 + c, ok)];
        tile[QT + (e / DC) * QS + c / 4u][c % 4u] = select(0.0, x, ok);
      }
      for (var e = t; e < nk * DC; e += WG) {
        let c = e % DC;
        let ok = c < nd;
        let key = e / DC;
        let x = k[select(0u, (b * Tk + k0 + key) * D + head0 + d0 + c, ok)];
        tile[c * KS + key / 4u][key % 4u] = select(0.0, x, ok);
      }
      workgroupBarrier();
      for (var c4 = 0u; c4 < (nd + 3u) / 4u; c4++) {
        let qv = tile[QT + r * QS + c4];
        let kr = 4u * c4 * KS + 2u * kb;
        s0 = fma(vec4(qv.x), tile[kr], s0);
        s1 = fma(vec4(qv.x), tile[kr + 1u], s1);
        s0 = fma(vec4(qv.y), tile[kr + KS], s0);
        s1 = fma(vec4(qv.y), tile[kr + KS + 1u], s1);
        s0 = fma(vec4(qv.z), tile[kr + 2u * KS], s0);
        s1 = fma(vec4(qv.z), tile[kr + 2u * KS + 1u], s1);
        s0 = fma(vec4(qv.w), tile[kr + 3u * KS], s0);
        s1 = fma(vec4(qv.w), tile[kr + 3u * KS + 1u], s1);
      }
      workgroupBarrier();
    }
    // Keys >= nk were scored against stale tile rows: select discards those values.
    let key0 = vec4<u32>(0u, 1u, 2u, 3u) + 8u * kb;
    let key1 = key0 + 4u;
    // Causal: key k0 + j is visible iff j < q_offset + qi + 1 - k0 (saturated at 0).
    let lim = select(nk, min(nk, max(params.q_offset + qi + 1u, k0) - k0), causal);
    let vis0 = key0 < vec4(lim);
    let vis1 = key1 < vec4(lim);
    s0 = select(vec4(NEG), s0 * params.scale, vis0);
    s1 = select(vec4(NEG), s1 * params.scale, vis1);
    let pm = max(s0, s1);
    part[t] = max(max(pm.x, pm.y), max(pm.z, pm.w));
    // Every thread is past scoring: the V tile may overwrite the K and Q tiles.
    workgroupBarrier();
    // The four threads of a query reach the same running max from the same partial maxima. With nothing visible yet,
    // m_new stays NEG and alpha is exp(0) = 1 on accumulators that are still 0; otherwise a masked score gives
    // exp(NEG - m_new) = 0 and select keeps it out anyway.
    let m_new = max(m, max(max(part[4u * r], part[4u * r + 1u]), max(part[4u * r + 2u], part[4u * r + 3u])));
    let alpha = exp(m - m_new);
    m = m_new;
    let p0 = select(vec4<f32>(), exp(s0 - vec4(m_new)), vis0);
    let p1 = select(vec4<f32>(), exp(s1 - vec4(m_new)), vis1);
    l = l * alpha + dot(p0 + p1, vec4(1.0));
    let pr = 8u * kb * 4u + r / 4u;   // pt[key 8·kb, query group r / 4]
    let rc = r % 4u;
    pt[pr][rc] = p0.x;
    pt[pr + 4u][rc] = p0.y;
    pt[pr + 8u][rc] = p0.z;
    pt[pr + 12u][rc] = p0.w;
    pt[pr + 16u][rc] = p1.x;
    pt[pr + 20u][rc] = p1.y;
    pt[pr + 24u][rc] = p1.z;
    pt[pr + 28u][rc] = p1.w;
    if (kb == 0u) {
      row_a[r / 4u][rc] = alpha;
    }
    for (var j = 0u; j < nk; j++) {
      let x = v[select(0u, (b * Tk + k0 + j) * D + col, col_ok)];
      tile[j * (DV / 4u) + t / 4u][t % 4u] = select(0.0, x, col_ok);
    }
    workgroupBarrier();
    // a[i] = a[i]·alpha[i] + Σ_j p[j, i]·v[k0 + j, col], four queries per vec4
    a0 *= row_a[0];
    a1 *= row_a[1];
    a2 *= row_a[2];
    a3 *= row_a[3];
    for (var j = 0u; j < nk; j++) {
      let vv = vec4(tile[j * (DV / 4u) + t / 4u][t % 4u]);
      a0 = fma(pt[4u * j], vv, a0);
      a1 = fma(pt[4u * j + 1u], vv, a1);
      a2 = fma(pt[4u * j + 2u], vv, a2);
      a3 = fma(pt[4u * j + 3u], vv, a3);
    }
    workgroupBarrier();   // part, pt, row_a and tile are rewritten by the next key tile
  }
  part[t] = l;
  workgroupBarrier();
  if (col_ok) {
    for (var i = 0u; i < nq; i++) {
      let total = part[4u * i] + part[4u * i + 1u] + part[4u * i + 2u] + part[4u * i + 3u];
      var inv = 0.0;
      if (total > 0.0) {
        inv = 1.0 / total;
      }
      let g = i / 4u;
      let a = select(select(a0, a1, g == 1u), select(a2, a3, g == 3u), g >= 2u);
      out[(b * Tq + q0 + i) * D + col] = a[i % 4u] * inv;
    }
  }
}

// Max (or sum) of part[0..64), returned to every thread: two barriers instead of a six-level tree. Call in uniform
// control flow after each thread has written its part[t]; part and part8 may be rewritten after the next barrier.
fn reduce64(t: u32, is_max: bool) -> f32 {
  workgroupBarrier();
  if (t < 8u) {
    var x = part[8u * t];
    for (var i = 1u; i < 8u; i++) {
      let y = part[8u * t + i];
      x = select(x + y, max(x, y), is_max);
    }
    part8[t] = x;
  }
  workgroupBarrier();
  var x = part8[0];
  for (var i = 1u; i < 8u; i++) {
    x = select(x + part8[i], max(x, part8[i]), is_max);
  }
  return x;
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
    let nk = min(KT, kend - k0);
    var s = 0.0;
    for (var d0 = 0u; d0 < dh; d0 += DC) {
      let nd = min(DC, dh - d0);
      // Coalesced rows of K in, transposed out: thread t then reads its key's column at kd[c·KDS + t].
      for (var e = t; e < nk * DC; e += WG) {
        let c = e % DC;
        let ok = c < nd;
        let x = k[select(0u, (b * Tk + k0 + e / DC) * D + head0 + d0 + c, ok)];
        kd[c * KDS + e / DC] = x;
      }
      workgroupBarrier();
      for (var c = 0u; c < nd; c++) {
        s = fma(q[qbase + d0 + c], kd[c * KDS + t], s);
      }
      workgroupBarrier();
    }
    // Lanes t >= nk scored stale tile columns: select discards those values.
    let sc = select(NEG, s * params.scale, live);
    part[t] = sc;
    // Key k0 is visible (k0 < kend), so the tile max is a real score and exp never sees two sentinels.
    let tile_max = reduce64(t, true);
    let m_new = max(m, tile_max);
    let alpha = exp(m - m_new);
    let p = select(0.0, exp(sc - m_new), live);
    ps1[t] = p;
    l = l * alpha + p;
    m = m_new;
    workgroupBarrier();
    if (col_ok) {
      let vbase = (b * Tk + k0) * D + col;
      var x = a * alpha;
      for (var j = 0u; j < nk; j++) {
        x = fma(ps1[j], v[vbase + j * D], x);
      }
      a = x;
    }
    workgroupBarrier();   // ps1 and part are rewritten by the next key tile
  }
  part[t] = l;
  let total = reduce64(t, false);
  if (col_ok) {
    var inv = 0.0;
    if (total > 0.0) {
      inv = 1.0 / total;
    }
    out[(b * Tq + qi) * D + col] = a * inv;
  }
}

// The 'emulated' kernel profile's decode entry point (CPU emulations of a GPU, where barriers are expensive): one
// thread per (batch row, query, head, DV-column chunk) runs the online softmax over its visible keys alone and keeps
// its DV output columns in registers. No workgroup memory, no barriers; the grid is 1-D over those threads.
@compute @workgroup_size(SERIAL_WG)
fn main_decode_serial(@builtin(global_invocation_id) gid: vec3u) {
  let Tq = params.Tq;
  let Tk = params.Tk;
  let D = params.D;
  let H = params.H;
  let dh = params.dh;
  let chunks = (dh + DV - 1u) / DV;
  let per_b = Tq * H * chunks;
  let b = gid.x / per_b;
  if (b >= params.B) {
    return;
  }
  let rem = gid.x % per_b;
  let qi = rem / (H * chunks);
  let hc = rem % (H * chunks);
  let head0 = (hc % H) * dh;
  let dv0 = (hc / H) * DV;
  let nd = min(DV, dh - dv0);
  let kend = key_end(b, qi);
  let qbase = (b * Tq + qi) * D + head0;
  var m = NEG;
  var l = 0.0;
  var acc: array<f32, 64>;
  for (var c = 0u; c < nd; c++) {
    acc[c] = 0.0;
  }
  for (var j = 0u; j < kend; j++) {
    let kb = (b * Tk + j) * D + head0;
    var s = 0.0;
    for (var c = 0u; c < dh; c++) {
      s = fma(q[qbase + c], k[kb + c], s);
    }
    s = s * params.scale;
    let m_new = max(m, s);
    let alpha = exp(m - m_new);
    let p = exp(s - m_new);
    l = l * alpha + p;
    m = m_new;
    let vb = kb + dv0;
    for (var c = 0u; c < nd; c++) {
      acc[c] = fma(p, v[vb + c], acc[c] * alpha);
    }
  }
  var inv = 0.0;
  if (l > 0.0) {
    inv = 1.0 / l;
  }
  let ob = (b * Tq + qi) * D + head0 + dv0;
  for (var c = 0u; c < nd; c++) {
    out[ob + c] = acc[c] * inv;
  }
}
