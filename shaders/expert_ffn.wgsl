// expert_ffn: one stage of the grouped expert FFN, every expert of a layer in one dispatch.
//
//   stage 1 (FLAG_GATHER | FLAG_RELU): y[s, :] = ReLU(x[token(order[s]), :] · wi_eᵀ + bi_e)   -> hidden [slots, F]
//   stage 2 (no flags):                y[s, :] = hidden[s, :] · wo_eᵀ + bo_e                  -> out [slots, D]
//
// Slots are the dispatch plan's per-expert segments. Each workgroup owns one output tile of one expert: (wid.y, wid.z)
// give a global row-tile index, mapped to its expert by a binary search of tile_offsets (the prefix sum of
// ceil(count_e / tile rows)); the grid is an upper bound, so spare workgroups exit at once and empty experts cost
// nothing. Stage 1 gathers its rows through `order` (the GEMM core's row source: no copy of x).
//
// Prepended by the TS wrapper (src/kernels/expert-ffn.ts): the weight prelude (`load_w`, `load_b`), `struct Params`
// and the FLAG_* constants generated from its params schema, and the GEMM core (shaders/include/gemm.wgsl), the same
// as linear.wgsl's. Three entry points: `main` is the core's register-tiled GEMM with 16 * TR-row tiles (TR an
// override: 64, 32 or 16 rows); `main_rows` serves 8-row tiles for decoding (K split over lanes); `main_cols` serves
// 8-row tiles with a thread per column and no barriers (CPU emulations of a GPU). Weights: `w` is [E, Nout, K] and
// `b` is [E, Nout], indexed by the expert's offset. Both stages use the same pipeline.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;                // [N, K] tokens (gather) or [rows, K] slots
@group(0) @binding(2) var<storage, read> w: array<w_t>;                // [E, Nout, K]
@group(0) @binding(3) var<storage, read> b: array<b_t>;                // [E, Nout]
@group(0) @binding(4) var<storage, read> order: array<u32>;            // [rows] slot -> assignment
@group(0) @binding(5) var<storage, read> offsets: array<u32>;          // [E + 1] segment starts
@group(0) @binding(6) var<storage, read> tile_offsets: array<u32>;     // [E + 1] row-tile starts
@group(0) @binding(7) var<storage, read_write> y: array<f32>;          // [rows, Nout]

override COLS_WG: u32 = 64u;   // threads (output columns) per workgroup of `main_cols`

// This invocation's tile: its expert, the expert's first slot, the tile's first row inside the segment, the
// segment's rows.
var<private> tile_e: u32;
var<private> tile_seg0: u32;
var<private> tile_row0: u32;
var<private> tile_seg_rows: u32;

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

// Sets the tile state of global row tile t of `tile_rows` rows.
fn set_tile(t: u32, tile_rows: u32) {
  tile_e = find_expert(t);
  tile_seg0 = offsets[tile_e];
  tile_seg_rows = offsets[tile_e + 1u] - tile_seg0;
  tile_row0 = (t - tile_offsets[tile_e]) * tile_rows;
}

// GEMM core hooks: x rows are the segment's slots, gathered through `order` in stage 1; the epilogue adds the
// expert's bias (and ReLU in stage 1).
fn gemm_x_row(r: u32) -> u32 {
  let rr = tile_row0 + r;
  if (rr >= tile_seg_rows) {
    return GEMM_NONE;
  }
  let slot = tile_seg0 + rr;
  var src = slot;
  if ((params.flags & FLAG_GATHER) != 0u) {
    src = order[slot] / params.k;
  }
  return src * params.K;
}

fn gemm_store(r: u32, col: u32, v: f32) {
  let rr = tile_row0 + r;
  if (rr >= tile_seg_rows) {
    return;
  }
  var o = v + load_b(tile_e * params.Nout + col);
  if ((params.flags & FLAG_RELU) != 0u) {
    o = max(o, 0.0);
  }
  y[(tile_seg0 + rr) * params.Nout + col] = o;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let t = wid.z * params.tiles_y + wid.y;
  // Uniform across the workgroup (workgroup id and read-only storage), so the core's barriers stay in uniform flow.
  if (t >= tile_offsets[params.E]) {
    return;
  }
  set_tile(t, 16u * TR);
  gemm_tiled(lid, li, wid.x * BN, params.Nout, params.K, tile_e * params.Nout * params.K);
}

@compute @workgroup_size(256)
fn main_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let t = wid.z * params.tiles_y + wid.y;
  if (t >= tile_offsets[params.E]) {
    return;
  }
  set_tile(t, ROWS);
  let N = params.Nout;
  let K = params.K;
  let rows = min(ROWS, tile_seg_rows - tile_row0);
  let col = wid.x * ROW_COLS + li / LANES;
  let lane = li % LANES;
  let x_base = gemm_row_bases(rows);
  var acc: array<f32, 8>;   // zero-initialised
  if (col < N) {
    acc = gemm_rows_acc(x_base, rows, lane, K, (tile_e * N + col) * K);
  }
  gemm_rows_finish(acc, li, lane, col, N, rows);
}

@compute @workgroup_size(COLS_WG)
fn main_cols(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let t = wid.z * params.tiles_y + wid.y;
  let N = params.Nout;
  let K = params.K;
  let col = wid.x * COLS_WG + li;
  if (t >= tile_offsets[params.E] || col >= N) {
    return;
  }
  set_tile(t, ROWS);
  let rows = min(ROWS, tile_seg_rows - tile_row0);
  let acc = gemm_cols_acc(gemm_row_bases(rows), rows, K, (tile_e * N + col) * K);
  for (var r = 0u; r < rows; r++) {
    gemm_store(r, col, acc[r]);
  }
}
