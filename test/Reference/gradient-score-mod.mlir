// Gradients through score_mod regions (a scalar tape per score) and through
// the fused attn.attention, checked against finite differences. Tensors a
// region reads with tensor.extract (ALiBi slopes, a relative-position bias
// table, a calibration factor, a per-position bias) receive their gradients
// at the indices read.
//
// RUN: attn-run %s --entry=softcap --pipeline=reference --grad --random-args --seed=1 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=alibi --pipeline=reference --grad --random-args --seed=2 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=bias_table --pipeline=reference --grad --random-args --seed=3 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=math_ops --pipeline=reference --grad --random-args --seed=4 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=fused --pipeline=reference --grad --random-args --seed=5 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=fused_masked_rows --pipeline=reference --grad --random-args --seed=6 --fd-check=16 | FileCheck %s
// CHECK: max_fd_err={{[0-9.]+e[-+][0-9]+}} fd_samples=16 fd_skipped=0

// Gemma-style soft capping: 5 tanh(x / 5), then causal softmax.
func.func @softcap(%q: tensor<1x4x9x4xf32>, %k: tensor<1x2x11x4xf32>,
                   %v: tensor<1x2x11x5xf32>) -> tensor<1x4x9x5xf32> {
  %s = attn.score %q, %k {scale = 2.0 : f32} : tensor<1x4x9x4xf32>, tensor<1x2x11x4xf32> -> tensor<1x4x9x11xf32>
  %t = attn.score_mod %s : tensor<1x4x9x11xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 5.0 : f32
    %y = arith.divf %x, %c : f32
    %z = math.tanh %y : f32
    %w = arith.mulf %z, %c : f32
    attn.yield %w : f32
  }
  %m = attn.mask %t [#attn.causal] : tensor<1x4x9x11xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x4x9x11xf32>, tensor<1x2x11x5xf32> -> tensor<1x4x9x5xf32>
  return %o : tensor<1x4x9x5xf32>
}

// ALiBi with learned slopes: x + slope_h (j - i'), the distance computed
// with index arithmetic.
func.func @alibi(%q: tensor<1x4x8x4xf32>, %k: tensor<1x4x10x4xf32>,
                 %v: tensor<1x4x10x3xf32>, %slopes: tensor<4xf32>)
    -> tensor<1x4x8x3xf32> {
  %s = attn.score %q, %k : tensor<1x4x8x4xf32>, tensor<1x4x10x4xf32> -> tensor<1x4x8x10xf32>
  %t = attn.score_mod %s : tensor<1x4x8x10xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %slope = tensor.extract %slopes[%h] : tensor<4xf32>
    %c2 = arith.constant 2 : index
    %ip = arith.addi %i, %c2 : index
    %d = arith.subi %j, %ip : index
    %di = arith.index_cast %d : index to i64
    %df = arith.sitofp %di : i64 to f32
    %bias = arith.mulf %slope, %df : f32
    %y = arith.addf %x, %bias : f32
    attn.yield %y : f32
  }
  %m = attn.mask %t [#attn.causal] : tensor<1x4x8x10xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x4x8x10xf32>, tensor<1x4x10x3xf32> -> tensor<1x4x8x3xf32>
  return %o : tensor<1x4x8x3xf32>
}

// A relative-position bias table read at [h, j - i + Sq - 1], scaled by a
// calibration factor; lse is returned too.
func.func @bias_table(%q: tensor<1x2x7x4xf32>, %k: tensor<1x2x7x4xf32>,
                      %v: tensor<1x2x7x4xf32>, %table: tensor<2x13xf32>,
                      %cal: tensor<1xf32>)
    -> (tensor<1x2x7x4xf32>, tensor<1x2x7xf32>) {
  %s = attn.score %q, %k : tensor<1x2x7x4xf32>, tensor<1x2x7x4xf32> -> tensor<1x2x7x7xf32>
  %t = attn.score_mod %s : tensor<1x2x7x7xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %c6 = arith.constant 6 : index
    %c0 = arith.constant 0 : index
    %ji = arith.subi %j, %i : index
    %r = arith.addi %ji, %c6 : index
    %e = tensor.extract %table[%h, %r] : tensor<2x13xf32>
    %f = tensor.extract %cal[%c0] : tensor<1xf32>
    %xf = arith.mulf %x, %f : f32
    %y = arith.addf %xf, %e : f32
    attn.yield %y : f32
  }
  %o, %l = attn.aggregate softmax %t, %v : tensor<1x2x7x7xf32>, tensor<1x2x7x4xf32> -> tensor<1x2x7x4xf32>, tensor<1x2x7xf32>
  return %o, %l : tensor<1x2x7x4xf32>, tensor<1x2x7xf32>
}

// Scalar rules of many arith/math ops, each on a smooth point of random
// data (an outer constant and a per-key bias read from a tensor included).
func.func @math_ops(%q: tensor<1x2x6x4xf32>, %k: tensor<1x2x7x4xf32>,
                    %v: tensor<1x2x7x3xf32>, %kb: tensor<7xf32>)
    -> tensor<1x2x6x3xf32> {
  %half = arith.constant 0.5 : f32
  %s = attn.score %q, %k : tensor<1x2x6x4xf32>, tensor<1x2x7x4xf32> -> tensor<1x2x6x7xf32>
  %t = attn.score_mod %s : tensor<1x2x6x7xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %one = arith.constant 1.0 : f32
    %e = tensor.extract %kb[%j] : tensor<7xf32>
    %x2 = arith.mulf %x, %x : f32
    %r = arith.addf %x2, %one : f32
    %sq = math.sqrt %r : f32
    %rs = math.rsqrt %r : f32
    %lg = math.log1p %x2 : f32
    %ex = math.exp %e : f32
    %er = math.erf %x : f32
    %sn = math.sin %x : f32
    %cs = math.cos %e : f32
    %pw = math.powf %r, %half : f32
    %at = math.atan2 %x, %r : f32
    %sg = arith.negf %sn : f32
    %fm = math.fma %x, %ex, %sg : f32
    %a1 = arith.addf %sq, %rs : f32
    %a2 = arith.subf %lg, %er : f32
    %a3 = arith.divf %cs, %r : f32
    %a4 = arith.addf %pw, %at : f32
    %s1 = arith.addf %a1, %a2 : f32
    %s2 = arith.addf %a3, %a4 : f32
    %s3 = arith.addf %s1, %s2 : f32
    %y = arith.addf %s3, %fm : f32
    attn.yield %y : f32
  }
  %o = attn.aggregate softmax %t, %v : tensor<1x2x6x7xf32>, tensor<1x2x7x3xf32> -> tensor<1x2x6x3xf32>
  return %o : tensor<1x2x6x3xf32>
}

// The fused op users may write: scale, a score_mod reading a per-position
// bias, causal and a predicate, sinks, lse; GQA with Sq = 9 > Skv = 7, so
// rows 0-1 see only the sink.
func.func @fused(%q: tensor<1x4x9x4xf32>, %k: tensor<1x2x7x4xf32>,
                 %v: tensor<1x2x7x5xf32>, %sinks: tensor<4xf32>,
                 %bias: tensor<1x4x9x7xf32>)
    -> (tensor<1x4x9x5xf32>, tensor<1x4x9xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.causal]
      sinks(%sinks : tensor<4xf32>) {scale = 0.8 : f32}
      : tensor<1x4x9x4xf32>, tensor<1x2x7x4xf32>, tensor<1x2x7x5xf32> -> tensor<1x4x9x5xf32>, tensor<1x4x9xf32>
    score_mod {
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %e = tensor.extract %bias[%b, %h, %i, %j] : tensor<1x4x9x7xf32>
      %y = arith.addf %x, %e : f32
      %t = math.tanh %y : f32
      %c3 = arith.constant 3.0 : f32
      %z = arith.mulf %t, %c3 : f32
      attn.yield %z : f32
    }
    mask {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %ij = arith.addi %i, %j : index
      %c4 = arith.constant 4 : index
      %r = arith.remui %ij, %c4 : index
      %c0 = arith.constant 0 : index
      %keep = arith.cmpi ne, %r, %c0 : index
      attn.yield %keep : i1
    }
  return %o, %l : tensor<1x4x9x5xf32>, tensor<1x4x9xf32>
}

// Fused, no sinks, Sq = 9 > Skv = 6: rows 0-2 fully masked (output 0, lse
// -inf); gradient-masked-rows.test uses it too.
func.func @fused_masked_rows(%q: tensor<2x4x9x4xf32>, %k: tensor<2x2x6x4xf32>,
                             %v: tensor<2x2x6x3xf32>)
    -> (tensor<2x4x9x3xf32>, tensor<2x4x9xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.causal]
      : tensor<2x4x9x4xf32>, tensor<2x2x6x4xf32>, tensor<2x2x6x3xf32> -> tensor<2x4x9x3xf32>, tensor<2x4x9xf32>
  return %o, %l : tensor<2x4x9x3xf32>, tensor<2x4x9xf32>
}
