// A6 — score_mod regions: ALiBi s - 2^(-8(h+1)/Hq) (i' - j) from index arith
// (+ #attn.causal); tanh soft-capping 2 tanh(s/2); a relative-position table
// [Hq, 15] read with tensor.extract at clamp(j - i', -7, 7) + 7; an edge bias
// [B, Hq, Sq, Skv] read at [b, h, i, j]; and all chained (mask applied last).
// Sq = 29 < Skv = 41, GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=51 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=51 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=52 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=52 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @score_mods(%q: tensor<1x6x29x24xf32>, %k: tensor<1x2x41x24xf32>,
                      %v: tensor<1x2x41x20xf32>, %table: tensor<6x15xf32>,
                      %edge: tensor<1x6x29x41xf32>)
    -> (tensor<1x6x29x20xf32>, tensor<1x6x29x20xf32>, tensor<1x6x29x20xf32>,
        tensor<1x6x29x20xf32>, tensor<1x6x29x20xf32>) {
  %s = attn.score %q, %k {scale = 1.0 : f32} : tensor<1x6x29x24xf32>, tensor<1x2x41x24xf32> -> tensor<1x6x29x41xf32>

  // ALiBi + causal.
  %alibi = attn.score_mod %s : tensor<1x6x29x41xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %off = arith.constant 12 : index
    %one = arith.constant 1 : index
    %ip = arith.addi %i, %off : index
    %d = arith.subi %ip, %j : index
    %d64 = arith.index_cast %d : index to i64
    %df = arith.sitofp %d64 : i64 to f32
    %h1 = arith.addi %h, %one : index
    %h64 = arith.index_cast %h1 : index to i64
    %hf = arith.sitofp %h64 : i64 to f32
    %c = arith.constant -1.33333337 : f32   // -8 / Hq
    %e = arith.mulf %hf, %c : f32
    %slope = math.exp2 %e : f32
    %bias = arith.mulf %slope, %df : f32
    %y = arith.subf %x, %bias : f32
    attn.yield %y : f32
  }
  %alibi_m = attn.mask %alibi [#attn.causal] : tensor<1x6x29x41xf32>
  %o0 = attn.aggregate softmax %alibi_m, %v : tensor<1x6x29x41xf32>, tensor<1x2x41x20xf32> -> tensor<1x6x29x20xf32>

  // tanh soft-capping.
  %capped = attn.score_mod %s : tensor<1x6x29x41xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 2.0 : f32
    %y = arith.divf %x, %c : f32
    %z = math.tanh %y : f32
    %w = arith.mulf %z, %c : f32
    attn.yield %w : f32
  }
  %o1 = attn.aggregate softmax %capped, %v : tensor<1x6x29x41xf32>, tensor<1x2x41x20xf32> -> tensor<1x6x29x20xf32>

  // Relative-position bias table, distances clamped to [-7, 7].
  %rel = attn.score_mod %s : tensor<1x6x29x41xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %off = arith.constant 12 : index
    %m = arith.constant 7 : index
    %zero = arith.constant 0 : index
    %top = arith.constant 14 : index
    %ip = arith.addi %i, %off : index
    %jm = arith.addi %j, %m : index
    %r = arith.subi %jm, %ip : index          // j - i' + M, may be negative
    %r64 = arith.index_cast %r : index to i64
    %lo = arith.constant 0 : i64
    %hi = arith.constant 14 : i64
    %c1 = arith.maxsi %r64, %lo : i64
    %c2 = arith.minsi %c1, %hi : i64
    %idx = arith.index_cast %c2 : i64 to index
    %t = tensor.extract %table[%h, %idx] : tensor<6x15xf32>
    %y = arith.addf %x, %t : f32
    attn.yield %y : f32
  }
  %o2 = attn.aggregate softmax %rel, %v : tensor<1x6x29x41xf32>, tensor<1x2x41x20xf32> -> tensor<1x6x29x20xf32>

  // Edge-feature bias.
  %eb = attn.score_mod %s : tensor<1x6x29x41xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %e = tensor.extract %edge[%b, %h, %i, %j] : tensor<1x6x29x41xf32>
    %y = arith.addf %x, %e : f32
    attn.yield %y : f32
  }
  %o3 = attn.aggregate softmax %eb, %v : tensor<1x6x29x41xf32>, tensor<1x2x41x20xf32> -> tensor<1x6x29x20xf32>

  // Chained: ALiBi -> relative table + edge bias -> soft-capping -> causal
  // (the mask comes last: capping a masked -inf score would un-mask it).
  %c0 = attn.score_mod %alibi : tensor<1x6x29x41xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %e = tensor.extract %edge[%b, %h, %i, %j] : tensor<1x6x29x41xf32>
    %off = arith.constant 12 : index
    %ip = arith.addi %i, %off : index
    %d = arith.subi %j, %ip : index
    %d64 = arith.index_cast %d : index to i64
    %lo = arith.constant -7 : i64
    %hi = arith.constant 7 : i64
    %seven = arith.constant 7 : i64
    %c1 = arith.maxsi %d64, %lo : i64
    %c2 = arith.minsi %c1, %hi : i64
    %c3 = arith.addi %c2, %seven : i64
    %idx = arith.index_cast %c3 : i64 to index
    %t = tensor.extract %table[%h, %idx] : tensor<6x15xf32>
    %y0 = arith.addf %x, %e : f32
    %y1 = arith.addf %y0, %t : f32
    %c = arith.constant 2.0 : f32
    %y2 = arith.divf %y1, %c : f32
    %z = math.tanh %y2 : f32
    %w = arith.mulf %z, %c : f32
    attn.yield %w : f32
  }
  %c0m = attn.mask %c0 [#attn.causal] : tensor<1x6x29x41xf32>
  %o4 = attn.aggregate softmax %c0m, %v : tensor<1x6x29x41xf32>, tensor<1x2x41x20xf32> -> tensor<1x6x29x20xf32>
  return %o0, %o1, %o2, %o3, %o4 : tensor<1x6x29x20xf32>, tensor<1x6x29x20xf32>, tensor<1x6x29x20xf32>, tensor<1x6x29x20xf32>, tensor<1x6x29x20xf32>
}
