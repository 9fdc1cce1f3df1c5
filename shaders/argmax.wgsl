// argmax / topk over the last dimension (the vocabulary search family: greedy and beam decoding).
//
// Order: larger value first; equal values (and -0 == +0) to the lower index; NaN ranks below every number, -inf
// included, so it never wins over a number (a row of only NaN gives index 0). Values are compared as u32 keys that
// encode this order exactly (`order_key`), so no float comparison can be bent by NaN handling.
//
// One workgroup per row: a strided scan (coalesced reads), then a tree reduction of (key, index) pairs in
// workgroup memory. topk keeps a sorted local top-k per invocation during the scan, then runs k rounds of the
// tree over the heads of the local lists: the winner of each round is the next global entry, and its owner (the
// invocation that scanned it: index % WG) advances its head. The global top-k is contained in the union of the
// local top-k lists, so k rounds suffice. Rows beyond 65535 use a 2D grid.
//   argmax [x, indices]          indices [rows]
//   topk   [x, indices, values]  indices, values [rows, k]

// Prepended by the TS wrapper (src/kernels/argmax.ts): `struct Params` generated from its params schema.

override WG: u32 = 256u;   // a power of two: the tree reductions halve it
const KMAX: u32 = 16u;
const NONE: u32 = 0xffffffffu;   // index of an empty slot: loses every tie

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;                // [rows, N]
@group(0) @binding(2) var<storage, read_write> indices: array<u32>;    // [rows] (argmax) or [rows, k] (topk)
@group(0) @binding(3) var<storage, read_write> values: array<f32>;     // [rows, k] (topk only)

var<workgroup> red_key: array<u32, WG>;
var<workgroup> red_idx: array<u32, WG>;

// Monotone map of f32 to u32 for the order above: NaN -> 0, -inf -> 0x007fffff, ±0 -> 0x80000000, +inf highest.
fn order_key(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) {
    return 0u;
  }
  if (b == 0x80000000u) {
    return 0x80000000u;
  }
  if ((b & 0x80000000u) != 0u) {
    return ~b;
  }
  return b | 0x80000000u;
}

fn better(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
  return ka > kb || (ka == kb && ia < ib);
}

// Tree reduction of the pairs already in red_key/red_idx; the best ends in slot 0. Uniform control flow only.
fn reduce_pairs(li: u32) {
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (li < s && better(red_key[li + s], red_idx[li + s], red_key[li], red_idx[li])) {
      red_key[li] = red_key[li + s];
      red_idx[li] = red_idx[li + s];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn argmax(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) li: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) {
    return;
  }
  let N = params.N;
  let base = row * N;
  var bk = 0u;
  var bi = NONE;
  // Indices rise along the scan, so a strict > keeps the lowest index of equal keys.
  for (var i = li; i < N; i += WG) {
    let key = order_key(x[base + i]);
    if (bi == NONE || key > bk) {
      bk = key;
      bi = i;
    }
  }
  red_key[li] = bk;
  red_idx[li] = bi;
  reduce_pairs(li);
  if (li == 0u) {
    indices[row] = red_idx[0];
  }
}

@compute @workgroup_size(WG)
fn topk(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) {
    return;
  }
  let N = params.N;
  let K = params.k;
  let base = row * N;
  // This invocation's best K of its strided entries, sorted by the order above.
  var lkey: array<u32, KMAX>;
  var lidx: array<u32, KMAX>;
  var cnt = 0u;
  for (var i = li; i < N; i += WG) {
    let key = order_key(x[base + i]);
    // A later index loses ties, so it enters only above a strictly smaller key (or into a free slot).
    if (cnt < K || key > lkey[cnt - 1u]) {
      var j = min(cnt, K - 1u);
      while (j > 0u && lkey[j - 1u] < key) {
        lkey[j] = lkey[j - 1u];
        lidx[j] = lidx[j - 1u];
        j -= 1u;
      }
      lkey[j] = key;
      lidx[j] = i;
      cnt = min(cnt + 1u, K);
    }
  }
  var head = 0u;
  for (var r = 0u; r < K; r++) {
    var hk = 0u;
    var hi = NONE;
    if (head < cnt) {
      hk = lkey[head];
      hi = lidx[head];
    }
    red_key[li] = hk;
    red_idx[li] = hi;
    reduce_pairs(li);
    let win = red_idx[0];
    if (li == 0u) {
      indices[row * K + r] = win;
      values[row * K + r] = x[base + win];
    }
    if (win % WG == li) {
      head += 1u;
    }
    // Slot 0 is rewritten by the next round; everyone has read it first.
    workgroupBarrier();
  }
}
