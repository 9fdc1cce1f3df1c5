// expert_ffn: one stage of the grouped expert FFN, every expert of a layer in one dispatch.
//
//   stage 1 (flags = gather | relu): y[s, :] = ReLU(x[token(order[s]), :] · wi_eᵀ + bi_e)   -> hidden [slots, F]
//   stage 2 (flags = 0):             y[s, :] = hidden[s, :] · wo_eᵀ + bo_e                  -> out [slots, D]
//
// Slots are the dispatch plan's per-expert segments. Each workgroup owns one BM x 64 output tile of one expert:
// (wid.y, wid.z) give a global row-tile index, mapped to its expert by a binary search of tile_offsets (the prefix
// sum of ceil(count_e / BM)); the grid is an upper bound, so spare workgroups exit at once and empty experts cost
// nothing. Stage 1 gathers its rows through `order` while loading the tile (no copy of x). `main` is linear.wgsl's
// register-tiled GEMM with BM = 16 * TR rows (TR rows per thread, an override: 64, 32 or 16-row tiles); `main_rows`
// serves 8-row tiles for decoding. Weights go through the weight prelude (f32, packed f16 or native f16): `w` is
// [E, Nout, K] and `b` is [E, Nout], indexed by the expert's offset. Both stages use the same pipeline.

struct Params {
  rows: u32,    // slots (N * k): rows of y
  Nout: u32,    // output features of this stage
  K: u32,       // input features of this stage
  k: u32,       // choices per token: assignment a belongs to token a / k
  E: u32,       // experts
  flags: u32,   // bit 0: gather rows of x through order (stage 1), bit 1: ReLU
  tiles_y: u32, // row tiles along y: the global row tile is wid.z * tiles_y + wid.y (z only past the grid limit)
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;                // [N, K] tokens (gather) or [rows, K] slots
@group(0) @binding(2) var<storage, read> w: array<w_t>;                // [E, Nout, K]
@group(0) @binding(3) var<storage, read> b: array<b_t>;                // [E, Nout]
@group(0) @binding(4) var<storage, read> order: array<u32>;            // [rows] slot -> assignment
@group(0) @binding(5) var<storage, read> offsets: array<u32>;          // [E + 1] segment starts
@group(0) @binding(6) var<storage, read> tile_offsets: array<u32>;     // [E + 1] row-tile starts
@group(0) @binding(7) var<storage, read_write> y: array<f32>;          // [rows, Nout]

override TR: u32 = 4u;   // rows per thread; BM = 16 * TR
const BN: u32 = 64u;
const BK: u32 = 16u;
const NONE: u32 = 0xffffffffu;

var<workgroup> xs: array<f32, 1024>;   // [BM, BK], BM <= 64
var<workgroup> ws: array<f32, 1024>;   // [BN, BK]

// The expert owning global row tile t < tile_offsets[E]: the largest e with tile_offsets[e] <= t (skips empty experts).
fn find_expert(t: u32) -> u32 {
  var lo = 0u;
  var hi = params.E - 1u;
  while (lo < hi) {
    let mid = (lo + hi + 1u) / 2u;
    if (tile_offsets[mid] <= t) {
      lo = mid;
    } else {
      hi = mid - 1u;
    }
  }
  return lo;
}

fn epilogue(v: f32, e: u32, col: u32) -> f32 {
  let r = v + load_b(e * params.Nout + col);
  if ((params.flags & 2u) != 0u) {
    return max(r, 0.0);
  }
  return r;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let BM = 16u * TR;
  let t = wid.z * params.tiles_y + wid.y;
  // Uniform across the workgroup (workgroup id and read-only storage), so the barriers below stay in uniform flow.
  if (t >= tile_offsets[params.E]) {
    return;
  }
  let e = find_expert(t);
  let seg0 = offsets[e];
  let seg_rows = offsets[e + 1u] - seg0;
  let row0 = (t - tile_offsets[e]) * BM;
  let col0 = wid.x * BN;
  let N = params.Nout;
  let K = params.K;
  let gather = (params.flags & 1u) != 0u;
  let w_base = e * N * K;

  // Element offsets of the x rows this thread loads (row li/16 + 16q of the tile), resolved once.
  var x_base: array<u32, 4>;
  for (var q = 0u; q < TR; q++) {
    let r = row0 + li / BK + 16u * q;
    var base = NONE;
    if (r < seg_rows) {
      let s = seg0 + r;
      var src = s;
      if (gather) {
        src = order[s] / params.k;
      }
      base = src * K;
    }
    x_base[q] = base;
  }
  let c = li % BK;

  var acc: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      acc[i][j] = 0.0;
    }
  }
  for (var k0 = 0u; k0 < K; k0 += BK) {
    let gk = k0 + c;
    for (var q = 0u; q < TR; q++) {
      var xv = 0.0;
      if (x_base[q] != NONE && gk < K) {
        xv = x[x_base[q] + gk];
      }
      xs[li + q * 256u] = xv;
    }
    for (var q = 0u; q < 4u; q++) {
      let n = col0 + li / BK + 16u * q;
      var wv = 0.0;
      if (n < N && gk < K) {
        wv = load_w(w_base + n * K + gk);
      }
      ws[li + q * 256u] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var xa: array<f32, 4>;
      var wb: array<f32, 4>;
      for (var i = 0u; i < TR; i++) {
        xa[i] = xs[(lid.y + 16u * i) * BK + kk];
      }
      for (var j = 0u; j < 4u; j++) {
        wb[j] = ws[(lid.x + 16u * j) * BK + kk];
      }
      for (var i = 0u; i < TR; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i][j] = fma(xa[i], wb[j], acc[i][j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TR; i++) {
    let r = row0 + lid.y + 16u * i;
    if (r < seg_rows) {
      for (var j = 0u; j < 4u; j++) {
        let col = col0 + lid.x + 16u * j;
        if (col < N) {
          y[(seg0 + r) * N + col] = epilogue(acc[i][j], e, col);
        }
      }
    }
  }
}

// Segments of a few rows (decoding): 8-row tiles, 32 output columns per workgroup, 8 lanes per column striding over K
// and reduced through workgroup memory (linear.wgsl's `main_rows`), so a one-row segment does not pay for 16 rows.
const ROWS: u32 = 8u;
const LANES: u32 = 8u;
var<workgroup> partial: array<f32, 2048>;   // [256 threads, ROWS]

// An 8-row tile t (< tile_offsets[E]) of `main_rows` / `main_cols`: its expert, segment start, first row and row
// count; x_base[r] = the element offset of row r's input (gathered through `order` in stage 1).
struct SmallTile {
  e: u32,
  seg0: u32,
  row0: u32,
  rows: u32,
}

fn small_tile(t: u32, x_base: ptr<function, array<u32, 8>>) -> SmallTile {
  let e = find_expert(t);
  let seg0 = offsets[e];
  let row0 = (t - tile_offsets[e]) * ROWS;
  let rows = min(ROWS, offsets[e + 1u] - seg0 - row0);
  for (var r = 0u; r < rows; r++) {
    let s = seg0 + row0 + r;
    var src = s;
    if ((params.flags & 1u) != 0u) {
      src = order[s] / params.k;
    }
    (*x_base)[r] = src * params.K;
  }
  return SmallTile(e, seg0, row0, rows);
}

@compute @workgroup_size(256)
fn main_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let t = wid.z * params.tiles_y + wid.y;
  if (t >= tile_offsets[params.E]) {
    return;
  }
  var x_base: array<u32, 8>;
  let tile = small_tile(t, &x_base);
  let e = tile.e;
  let rows = tile.rows;
  let y0 = tile.seg0 + tile.row0;   // first output row of the tile
  let N = params.Nout;
  let K = params.K;
  let col = wid.x * 32u + li / LANES;
  let lane = li % LANES;
  var acc: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) {
    acc[r] = 0.0;
  }
  if (col < N) {
    let w_base = (e * N + col) * K;
    for (var kk = lane; kk < K; kk += LANES) {
      let wv = load_w(w_base + kk);
      for (var r = 0u; r < rows; r++) {
        acc[r] = fma(x[x_base[r] + kk], wv, acc[r]);
      }
    }
  }
  for (var r = 0u; r < ROWS; r++) {
    partial[li * ROWS + r] = acc[r];
  }
  workgroupBarrier();
  if (lane == 0u && col < N) {
    for (var r = 0u; r < rows; r++) {
      var v = 0.0;
      for (var l = 0u; l < LANES; l++) {
        v += partial[(li + l) * ROWS + r];
      }
      y[(y0 + r) * N + col] = epilogue(v, e, col);
    }
  }
}

// 8-row tiles with one thread per output column over the whole of K: no workgroup memory and no barriers (the
// 'emulated' kernel profile, for CPU emulations of a GPU; linear.wgsl's `main_cols`). 64 columns per workgroup.
@compute @workgroup_size(64)
fn main_cols(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let t = wid.z * params.tiles_y + wid.y;
  let N = params.Nout;
  let K = params.K;
  let col = wid.x * 64u + li;
  if (t >= tile_offsets[params.E] || col >= N) {
    return;
  }
  var x_base: array<u32, 8>;
  let tile = small_tile(t, &x_base);
  let e = tile.e;
  let rows = tile.rows;
  let y0 = tile.seg0 + tile.row0;   // first output row of the tile
  var acc: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) {
    acc[r] = 0.0;
  }
  let w_base = (e * N + col) * K;
  for (var kk = 0u; kk < K; kk++) {
    let wv = load_w(w_base + kk);
    for (var r = 0u; r < rows; r++) {
      acc[r] = fma(x[x_base[r] + kk], wv, acc[r]);
    }
  }
  for (var r = 0u; r < rows; r++) {
    y[(y0 + r) * N + col] = epilogue(acc[r], e, col);
  }
}
