// kv_cache: strided row copy, the one primitive behind the KV cache.
//
//   dst[i·dst_stride + dst_offset + c] = src[s·src_stride + src_offset + c],  c < width,  i < rows,
//   s = index[i] when an index is given (FLAG_INDEX), else i; a source row s >= src_rows yields zeros.
//
// kvWrite: rows = B, s = i, width = Tnew·D, dst_stride = Tmax·D, dst_offset = offset·D (appending to every batch row).
// gatherRows: rows = B2, s = index[i] (reordering caches between beam-search steps).
// Elements are copied as raw 32-bit words, so f32, u32 and i32 (and f16 pairs) share one pipeline.
// Grid: x strides over the row's words (a grid-stride loop, so a long row never exceeds the workgroup-count limit),
// y is the destination row.

// Prepended by the TS wrapper (src/kernels/kv-cache.ts): `struct Params` and the FLAG_* constants
// generated from its params schema and flag table, and WG, the workgroup width its grid maths uses.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;          // [src_rows, src_stride] words
@group(0) @binding(2) var<storage, read> index: array<u32>;        // [rows] (unread without FLAG_INDEX)
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;    // [rows, dst_stride] words


@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let i = wid.y;
  if (i >= params.rows) {
    return;
  }
  var s = i;
  if ((params.flags & FLAG_INDEX) != 0u) {
    s = index[i];
  }
  let ok = s < params.src_rows;
  let sbase = s * params.src_stride + params.src_offset;
  let dbase = i * params.dst_stride + params.dst_offset;
  for (var c = wid.x * WG + t; c < params.width; c += nwg.x * WG) {
    var x = 0u;
    if (ok) {
      x = src[sbase + c];
    }
    dst[dbase + c] = x;
  }
}
