// D3 — Based: `attn.feature_map taylor2` ([1, x, x(x)x/sqrt 2], F = 73) on q, k
// scaled by D^(-1/4) (linalg.generic), causal normalised
// `attn.linear_aggregate {causal, normalize}`, plus exact softmax attention
// over `#attn.window<left = 5, right = 0>`; outputs summed with linalg.add.
// Sq = 37 < Skv = 45, GQA Hq = 4, Hkv = 2, D = 8.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=421 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=421 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=422 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=422 --check | FileCheck %s
// CHECK: max_abs_err=

#id = affine_map<(b, h, s, d) -> (b, h, s, d)>

func.func @based(%q: tensor<2x4x37x8xf32>, %k: tensor<2x2x45x8xf32>, %v: tensor<2x2x45x20xf32>)
    -> (tensor<2x4x37x20xf32>, tensor<2x4x37x20xf32>, tensor<2x4x37x20xf32>) {
  %qi = tensor.empty() : tensor<2x4x37x8xf32>
  %qs = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : tensor<2x4x37x8xf32>) outs(%qi : tensor<2x4x37x8xf32>) {
    ^bb0(%x: f32, %o: f32):
      %c = arith.constant 0.594603558 : f32   // 8^(-1/4)
      %y = arith.mulf %x, %c : f32
      linalg.yield %y : f32
  } -> tensor<2x4x37x8xf32>
  %ki = tensor.empty() : tensor<2x2x45x8xf32>
  %ks = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k : tensor<2x2x45x8xf32>) outs(%ki : tensor<2x2x45x8xf32>) {
    ^bb0(%x: f32, %o: f32):
      %c = arith.constant 0.594603558 : f32
      %y = arith.mulf %x, %c : f32
      linalg.yield %y : f32
  } -> tensor<2x2x45x8xf32>
  %fq = attn.feature_map taylor2 %qs : tensor<2x4x37x8xf32> -> tensor<2x4x37x73xf32>
  %fk = attn.feature_map taylor2 %ks : tensor<2x2x45x8xf32> -> tensor<2x2x45x73xf32>
  %lin = attn.linear_aggregate %fq, %fk, %v {causal, normalize}
      : tensor<2x4x37x73xf32>, tensor<2x2x45x73xf32>, tensor<2x2x45x20xf32> -> tensor<2x4x37x20xf32>
  %s = attn.score %q, %k : tensor<2x4x37x8xf32>, tensor<2x2x45x8xf32> -> tensor<2x4x37x45xf32>
  %m = attn.mask %s [#attn.window<left = 5, right = 0>] : tensor<2x4x37x45xf32>
  %win = attn.aggregate softmax %m, %v : tensor<2x4x37x45xf32>, tensor<2x2x45x20xf32> -> tensor<2x4x37x20xf32>
  %init = tensor.empty() : tensor<2x4x37x20xf32>
  %sum = linalg.add ins(%lin, %win : tensor<2x4x37x20xf32>, tensor<2x4x37x20xf32>) outs(%init : tensor<2x4x37x20xf32>) -> tensor<2x4x37x20xf32>
  return %sum, %lin, %win : tensor<2x4x37x20xf32>, tensor<2x4x37x20xf32>, tensor<2x4x37x20xf32>
}
