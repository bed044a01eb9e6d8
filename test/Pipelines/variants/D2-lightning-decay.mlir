// D2 — Lightning Attention / TransNormerLLM: `attn.linear_aggregate %q, %k, %v
// decay(%lambda) {causal}` (sum over j <= i' of lambda_h^(i'-j) (q.k) v, no
// denominator). lambda = 0.5 + 0.45 x in (0.05, 0.95) comes from a linalg.generic;
// a second result uses the raw x in [-1, 1]. Sq = 37 < Skv = 45, and Sq = 45 >
// Skv = 29 (rows i < 16: output 0). GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=411 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=411 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=412 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=412 --check | FileCheck %s
// CHECK: max_abs_err=

#id1 = affine_map<(h) -> (h)>

func.func @decay(%q: tensor<1x6x37x24xf32>, %k: tensor<1x2x45x24xf32>, %v: tensor<1x2x45x20xf32>,
                 %x: tensor<6xf32>,
                 %qc: tensor<1x6x45x24xf32>, %kc: tensor<1x2x29x24xf32>, %vc: tensor<1x2x29x20xf32>)
    -> (tensor<1x6x37x20xf32>, tensor<1x6x37x20xf32>, tensor<1x6x45x20xf32>, tensor<6xf32>) {
  %li = tensor.empty() : tensor<6xf32>
  %lambda = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%x : tensor<6xf32>) outs(%li : tensor<6xf32>) {
    ^bb0(%a: f32, %o: f32):
      %half = arith.constant 0.5 : f32
      %c = arith.constant 0.45 : f32
      %m = arith.mulf %a, %c : f32
      %l = arith.addf %half, %m : f32
      linalg.yield %l : f32
  } -> tensor<6xf32>
  %o0 = attn.linear_aggregate %q, %k, %v decay(%lambda) {causal}
      : tensor<1x6x37x24xf32>, tensor<1x2x45x24xf32>, tensor<1x2x45x20xf32>, tensor<6xf32> -> tensor<1x6x37x20xf32>
  %o1 = attn.linear_aggregate %q, %k, %v decay(%x) {causal}
      : tensor<1x6x37x24xf32>, tensor<1x2x45x24xf32>, tensor<1x2x45x20xf32>, tensor<6xf32> -> tensor<1x6x37x20xf32>
  %o2 = attn.linear_aggregate %qc, %kc, %vc decay(%lambda) {causal}
      : tensor<1x6x45x24xf32>, tensor<1x2x29x24xf32>, tensor<1x2x29x20xf32>, tensor<6xf32> -> tensor<1x6x45x20xf32>
  return %o0, %o1, %o2, %lambda : tensor<1x6x37x20xf32>, tensor<1x6x37x20xf32>, tensor<1x6x45x20xf32>, tensor<6xf32>
}
