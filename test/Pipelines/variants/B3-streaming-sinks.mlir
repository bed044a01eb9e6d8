// B3 — streaming attention with sink / persistent-memory tokens (StreamingLLM,
// Titans): `[#attn.any<[#attn.sink<count = 4>, #attn.window<left = 7,
// right = 0>]>, #attn.causal]` (window union first 4 keys, intersected with
// causal). Sq = 37 < Skv = 45, and Sq = 45 > Skv = 29 (rows i < 16 fully
// masked). GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=121 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=121 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=122 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=122 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @streaming(%q: tensor<2x6x37x24xf32>, %k: tensor<2x2x45x24xf32>, %v: tensor<2x2x45x20xf32>,
                     %qc: tensor<1x6x45x24xf32>, %kc: tensor<1x2x29x24xf32>, %vc: tensor<1x2x29x20xf32>)
    -> (tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>) {
  %s = attn.score %q, %k : tensor<2x6x37x24xf32>, tensor<2x2x45x24xf32> -> tensor<2x6x37x45xf32>
  %m = attn.mask %s [#attn.any<[#attn.sink<count = 4>, #attn.window<left = 7, right = 0>]>, #attn.causal] : tensor<2x6x37x45xf32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<2x6x37x45xf32>, tensor<2x2x45x20xf32> -> tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
  %sc = attn.score %qc, %kc : tensor<1x6x45x24xf32>, tensor<1x2x29x24xf32> -> tensor<1x6x45x29xf32>
  %mc = attn.mask %sc [#attn.any<[#attn.sink<count = 4>, #attn.window<left = 7, right = 0>]>, #attn.causal] : tensor<1x6x45x29xf32>
  %oc, %lc = attn.aggregate softmax %mc, %vc : tensor<1x6x45x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x6x45x20xf32>, tensor<1x6x45xf32>
  return %o, %l, %oc, %lc : tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>
}
