// dispatch: a deterministic counting sort of the N*k expert assignments into contiguous per-expert segments.
//
// Assignment a = n*k + j is token n's j-th choice. Within an expert, assignments are ranked by the GShard priority
// p = j*N + n (every first choice before every second choice, then token order); ranks >= capacity are dropped.
// Five entry points: three recorded in this order in one compute pass,
//   `rank`    one workgroup per expert e: scans the assignments in priority order with a workgroup prefix sum and
//             writes each of e's assignments its rank (into slot_of, as scratch) and e's total count (counts[e]).
//             No atomics: the rank of every assignment is a pure function of the inputs.
//   `scan`    one workgroup: clips counts at the capacity and prefix-sums them into offsets and tile_offsets.
//   `scatter` one thread per assignment: slot = offsets[e] + rank (or dropped), order[slot] = a;
// and `rank_serial`, `scan_serial` in place of `rank` and `scan` with the 'emulated' kernel profile (below).
// Every entry point binds all six tensors (layout 'auto' needs each declared binding used), hence the `_ = &x;`.

// Prepended by the TS wrapper (src/kernels/dispatch.ts): `struct Params` generated from its params schema, and WG, the
// workgroup width its grid maths uses.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> indices: array<u32>;                // [N, k] expert of each assignment
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;           // [E] raw counts, then kept counts
@group(0) @binding(3) var<storage, read_write> offsets: array<u32>;          // [E + 1] segment starts
@group(0) @binding(4) var<storage, read_write> tile_offsets: array<u32>;     // [E + 1] row-tile starts
@group(0) @binding(5) var<storage, read_write> order: array<u32>;            // [N * k] slot -> assignment
@group(0) @binding(6) var<storage, read_write> slot_of: array<u32>;          // [N * k] assignment -> slot (rank first)

override SERIAL_WG: u32 = 64u;   // threads (experts) per workgroup of `rank_serial`
const DROPPED: u32 = 0xffffffffu;

var<workgroup> scan_a: array<u32, WG>;

// Inclusive prefix sum of `v` over the workgroup (Hillis-Steele: every step reads, waits, writes, waits). The total is
// left in scan_a[WG - 1]. Must be called in uniform control flow; the leading barrier keeps the previous call's
// readers of scan_a ahead of this call's writes.
fn workgroup_scan(li: u32, v: u32) -> u32 {
  workgroupBarrier();
  scan_a[li] = v;
  workgroupBarrier();
  for (var d = 1u; d < WG; d = d * 2u) {
    var s = scan_a[li];
    if (li >= d) {
      s += scan_a[li - d];
    }
    workgroupBarrier();
    scan_a[li] = s;
    workgroupBarrier();
  }
  return scan_a[li];
}

@compute @workgroup_size(WG)
fn rank(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  _ = &offsets;
  _ = &tile_offsets;
  _ = &order;
  let e = wid.x;
  let N = params.N;
  let k = params.k;
  let total = params.total;
  var carry = 0u;
  for (var p0 = 0u; p0 < total; p0 += WG) {
    let p = p0 + li;
    var a = 0u;
    var hit = 0u;
    if (p < total) {
      let j = p / N;
      a = (p - j * N) * k + j;
      hit = select(0u, 1u, indices[a] == e);
    }
    let incl = workgroup_scan(li, hit);
    if (hit == 1u) {
      slot_of[a] = carry + incl - 1u;
    }
    carry += workgroupUniformLoad(&scan_a[WG - 1u]);
  }
  if (li == 0u) {
    counts[e] = carry;
  }
}

@compute @workgroup_size(WG)
fn scan(@builtin(local_invocation_index) li: u32) {
  _ = &indices;
  _ = &order;
  _ = &slot_of;
  let E = params.E;
  let tr = params.tile_rows;
  var carry_rows = 0u;
  var carry_tiles = 0u;
  for (var e0 = 0u; e0 < E; e0 += WG) {
    let e = e0 + li;
    var c = 0u;
    if (e < E) {
      c = min(counts[e], params.capacity);
    }
    let tiles = (c + tr - 1u) / tr;
    let rows_incl = workgroup_scan(li, c);
    let rows_total = workgroupUniformLoad(&scan_a[WG - 1u]);
    let tiles_incl = workgroup_scan(li, tiles);
    let tiles_total = workgroupUniformLoad(&scan_a[WG - 1u]);
    if (e < E) {
      counts[e] = c;
      offsets[e] = carry_rows + rows_incl - c;
      tile_offsets[e] = carry_tiles + tiles_incl - tiles;
    }
    carry_rows += rows_total;
    carry_tiles += tiles_total;
  }
  if (li == 0u) {
    offsets[E] = carry_rows;
    tile_offsets[E] = carry_tiles;
  }
}

@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  _ = &counts;
  _ = &tile_offsets;
  let a = (wid.y * params.groups_x + wid.x) * WG + li;
  if (a >= params.total) {
    return;
  }
  let e = indices[a];
  var slot = DROPPED;
  if (e < params.E) {
    let r = slot_of[a];
    if (r < params.capacity) {
      slot = offsets[e] + r;
      order[slot] = a;
    }
  }
  slot_of[a] = slot;
}

// The 'emulated' kernel profile (CPU emulations of a GPU, where workgroup barriers are expensive): the same two
// steps without barriers. `rank_serial`: one thread per expert walks the assignments in priority order.
// `scan_serial`: one thread prefix-sums the clipped counts. Same outputs as `rank` and `scan`.
@compute @workgroup_size(SERIAL_WG)
fn rank_serial(@builtin(global_invocation_id) gid: vec3u) {
  _ = &offsets;
  _ = &tile_offsets;
  _ = &order;
  let e = gid.x;
  if (e >= params.E) {
    return;
  }
  let N = params.N;
  let k = params.k;
  var c = 0u;
  for (var p = 0u; p < params.total; p++) {
    let j = p / N;
    let a = (p - j * N) * k + j;
    if (indices[a] == e) {
      slot_of[a] = c;
      c++;
    }
  }
  counts[e] = c;
}

@compute @workgroup_size(1)
fn scan_serial() {
  _ = &indices;
  _ = &order;
  _ = &slot_of;
  let E = params.E;
  let tr = params.tile_rows;
  var rows = 0u;
  var tiles = 0u;
  for (var e = 0u; e < E; e++) {
    let c = min(counts[e], params.capacity);
    counts[e] = c;
    offsets[e] = rows;
    tile_offsets[e] = tiles;
    rows += c;
    tiles += (c + tr - 1u) / tr;
  }
  offsets[E] = rows;
  tile_offsets[E] = tiles;
}
