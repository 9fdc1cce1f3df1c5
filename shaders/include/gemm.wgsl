// gemm: the GEMM core shared by linear.wgsl and expert_ffn.wgsl (prepended by their TS wrappers; no entry points).
//
//   acc[r, col] = Σ_k x[gemm_x_row(r) + k] · w[w_base + col·K + k]   for the rows r of one tile and its columns
//
// The including shader supplies the three hooks that differ between the two kernels:
//   fn gemm_x_row(r: u32) -> u32           element offset of tile row r's x row (its row source: plain or gathered),
//                                          GEMM_NONE past the tile's rows;
//   fn gemm_store(r: u32, col: u32, v: f32) the epilogue: bias, activation, scale, accumulate, output placement;
//                                          called for col < N, it checks its own row bound;
// and binds `x: array<f32>` (the activations) and `w: array<w_t>` read through the weight prelude's `load_w`.
// Three shapes of tile:
//   gemm_tiled     a register-tiled (16·TR) x 64 tile, 16x16 threads, TR x 4 outputs per thread (many rows);
//   gemm_rows_*    8 rows x ROW_COLS columns, 8 lanes per column striding over K, reduced through workgroup memory;
//   gemm_cols_acc  8 rows, one thread per column over the whole of K (no barriers: the 'emulated' kernel profile).
// ROW_COLS is emitted by the TS wrapper from the table its grid maths uses.

const GEMM_NONE: u32 = 0xffffffffu;
override TR: u32 = 4u;   // rows per thread of gemm_tiled: BM = 16 * TR (64, 32 or 16)
const BN: u32 = 64u;
const BK: u32 = 16u;
const ROWS: u32 = 8u;    // rows of a gemm_rows / gemm_cols tile
const LANES: u32 = 8u;   // lanes per output column of gemm_rows

var<workgroup> xs: array<f32, 1024>;       // [BM, BK], BM <= 64
var<workgroup> ws: array<f32, 1024>;       // [BN, BK]
var<workgroup> partial: array<f32, 2048>;  // gemm_rows: [ROW_COLS * LANES threads, ROWS]

// One (16·TR) x 64 tile whose columns start at col0; w_base is the weight matrix's element offset.
fn gemm_tiled(lid: vec3u, li: u32, col0: u32, N: u32, K: u32, w_base: u32) {
  // Element offsets of the x rows this thread loads (tile row li/16 + 16q), resolved once.
  var x_base: array<u32, 4>;
  for (var q = 0u; q < TR; q++) {
    x_base[q] = gemm_x_row(li / BK + 16u * q);
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
      if (x_base[q] != GEMM_NONE && gk < K) {
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
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x + 16u * j;
      if (col < N) {
        gemm_store(lid.y + 16u * i, col, acc[i][j]);
      }
    }
  }
}

// x element offsets of an 8-row tile's rows 0 .. rows-1.
fn gemm_row_bases(rows: u32) -> array<u32, 8> {
  var x_base: array<u32, 8>;
  for (var r = 0u; r < rows; r++) {
    x_base[r] = gemm_x_row(r);
  }
  return x_base;
}

// gemm_rows: one lane's partial sums of column `col` (its weight row at wcol), K strided over the LANES lanes.
fn gemm_rows_acc(x_base: array<u32, 8>, rows: u32, lane: u32, K: u32, wcol: u32) -> array<f32, 8> {
  var acc: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) {
    acc[r] = 0.0;
  }
  for (var k = lane; k < K; k += LANES) {
    let wv = load_w(wcol + k);
    for (var r = 0u; r < rows; r++) {
      acc[r] = fma(x[x_base[r] + k], wv, acc[r]);
    }
  }
  return acc;
}

// gemm_rows: reduces the LANES lanes' partial sums of each column through workgroup memory and stores the rows.
// Uniform control flow only (a barrier).
fn gemm_rows_finish(acc: array<f32, 8>, li: u32, lane: u32, col: u32, N: u32, rows: u32) {
  for (var r = 0u; r < ROWS; r++) {
    partial[li * ROWS + r] = acc[r];
  }
  workgroupBarrier();
  if (lane == 0u && col < N) {
    for (var r = 0u; r < rows; r++) {
      var s = 0.0;
      for (var l = 0u; l < LANES; l++) {
        s += partial[(li + l) * ROWS + r];
      }
      gemm_store(r, col, s);
    }
  }
}

// gemm_cols: column `col` (its weight row at wcol) of an 8-row tile by one thread over the whole of K.
fn gemm_cols_acc(x_base: array<u32, 8>, rows: u32, K: u32, wcol: u32) -> array<f32, 8> {
  var acc: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) {
    acc[r] = 0.0;
  }
  for (var k = 0u; k < K; k++) {
    let wv = load_w(wcol + k);
    for (var r = 0u; r < rows; r++) {
      acc[r] = fma(x[x_base[r] + k], wv, acc[r]);
    }
  }
  return acc;
}
