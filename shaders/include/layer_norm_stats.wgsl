// layer_norm_stats: layer-norm row statistics shared by layer_norm.wgsl and linear.wgsl's fused layer norm (prepended
// by their TS wrappers; no entry points). The including shader binds `x: array<f32>`.
//
// Both passes work on x - x0, where x0 is the row's first element: for a row with a large mean and a small spread
// (mean 1000, std 0.01) the shifted values are small, so neither the sum nor the deviations lose the low bits that
// x - mean would lose once mean is rounded to f32. A row's statistics are (x0, shift, rstd) with mean = x0 + shift
// kept apart, so x - mean = (x - x0) - shift, and rstd = 1 / sqrt(biased variance + eps).

var<workgroup> ln_partial: array<f32, 256>;   // one value per invocation, workgroups of at most 256

// Sum of v over the `width` consecutive invocations li & ~(width - 1) .. (li | (width - 1)) (width a power of two);
// every invocation gets its group's sum. Uniform control flow only (barriers).
fn ln_group_sum(v: f32, li: u32, width: u32) -> f32 {
  ln_partial[li] = v;
  workgroupBarrier();
  for (var s = width / 2u; s > 0u; s = s >> 1u) {
    if ((li & (width - 1u)) < s) {
      ln_partial[li] = ln_partial[li] + ln_partial[li + s];
    }
    workgroupBarrier();
  }
  let total = ln_partial[li & ~(width - 1u)];
  // The next call overwrites ln_partial; everyone must have read it first.
  workgroupBarrier();
  return total;
}

// Statistics of the row x[base .. base + D) by a group of `width` invocations, t = li & (width - 1) its lane
// (`valid` false: a group without a row still joins the barriers). Uniform control flow only.
fn ln_stats_group(base: u32, D: u32, eps: f32, valid: bool, li: u32, width: u32) -> vec3f {
  let t = li & (width - 1u);
  var x0 = 0.0;
  var s = 0.0;
  if (valid) {
    x0 = x[base];
    for (var i = t; i < D; i += width) {
      s += x[base + i] - x0;
    }
  }
  let shift = ln_group_sum(s, li, width) / f32(D);
  var q = 0.0;
  if (valid) {
    for (var i = t; i < D; i += width) {
      let d = (x[base + i] - x0) - shift;
      q = fma(d, d, q);
    }
  }
  let rstd = 1.0 / sqrt(ln_group_sum(q, li, width) / f32(D) + eps);
  return vec3f(x0, shift, rstd);
}

// Statistics of the row x[base .. base + D) by one invocation (no barriers).
fn ln_stats_serial(base: u32, D: u32, eps: f32) -> vec3f {
  let x0 = x[base];
  var s = 0.0;
  for (var i = 0u; i < D; i++) {
    s += x[base + i] - x0;
  }
  let shift = s / f32(D);
  var q = 0.0;
  for (var i = 0u; i < D; i++) {
    let d = (x[base + i] - x0) - shift;
    q = fma(d, d, q);
  }
  let rstd = 1.0 / sqrt(q / f32(D) + eps);
  return vec3f(x0, shift, rstd);
}
