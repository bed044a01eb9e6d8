// D5 — Performer positive random features phi(x) = exp(W^T x - |x|^2/2)/sqrt F
// (`attn.feature_map random_features %x, %w`, W [16, 40] given) on q, k scaled
// by D^(-1/4) with linalg.generic, then normalised linear attention
// `attn.linear_aggregate {normalize}` and {causal, normalize}.
// Sq = 37 < Skv = 45, GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=441 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=441 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=442 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=442 --check | FileCheck %s
// CHECK: max_abs_err=

#id = affine_map<(b, h, s, d) -> (b, h, s, d)>

func.func @performer(%q: tensor<1x6x37x16xf32>, %k: tensor<1x2x45x16xf32>, %v: tensor<1x2x45x20xf32>,
                     %w: tensor<16x40xf32>)
    -> (tensor<1x6x37x20xf32>, tensor<1x6x37x20xf32>, tensor<1x6x37x40xf32>) {
  %qi = tensor.empty() : tensor<1x6x37x16xf32>
  %qs = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : tensor<1x6x37x16xf32>) outs(%qi : tensor<1x6x37x16xf32>) {
    ^bb0(%x: f32, %o: f32):
      %c = arith.constant 0.5 : f32   // 16^(-1/4)
      %y = arith.mulf %x, %c : f32
      linalg.yield %y : f32
  } -> tensor<1x6x37x16xf32>
  %ki = tensor.empty() : tensor<1x2x45x16xf32>
  %ks = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k : tensor<1x2x45x16xf32>) outs(%ki : tensor<1x2x45x16xf32>) {
    ^bb0(%x: f32, %o: f32):
      %c = arith.constant 0.5 : f32
      %y = arith.mulf %x, %c : f32
      linalg.yield %y : f32
  } -> tensor<1x2x45x16xf32>
  %fq = attn.feature_map random_features %qs, %w : tensor<1x6x37x16xf32>, tensor<16x40xf32> -> tensor<1x6x37x40xf32>
  %fk = attn.feature_map random_features %ks, %w : tensor<1x2x45x16xf32>, tensor<16x40xf32> -> tensor<1x2x45x40xf32>
  %o = attn.linear_aggregate %fq, %fk, %v {normalize}
      : tensor<1x6x37x40xf32>, tensor<1x2x45x40xf32>, tensor<1x2x45x20xf32> -> tensor<1x6x37x20xf32>
  %oc = attn.linear_aggregate %fq, %fk, %v {causal, normalize}
      : tensor<1x6x37x40xf32>, tensor<1x2x45x40xf32>, tensor<1x2x45x20xf32> -> tensor<1x6x37x20xf32>
  return %o, %oc, %fq : tensor<1x6x37x20xf32>, tensor<1x6x37x20xf32>, tensor<1x6x37x40xf32>
}
