// B6 — prefix-LM (bidirectional over the first P keys, causal after: j < P or
// j <= i') as `#attn.prefix<length = 11>`, and the same mask as the union
// `#attn.any<[#attn.sink<count = 11>, #attn.causal]>` (CSE makes both one value
// returned twice: covers aliased results in attn-run). Cross case Sq = 45 >
// Skv = 29. GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=151 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=151 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=152 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=152 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @prefix(%q: tensor<2x6x37x24xf32>, %k: tensor<2x2x37x24xf32>, %v: tensor<2x2x37x20xf32>,
                  %qc: tensor<1x6x45x24xf32>, %kc: tensor<1x2x29x24xf32>, %vc: tensor<1x2x29x20xf32>)
    -> (tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37x20xf32>, tensor<1x6x45x20xf32>,
        tensor<1x6x45xf32>) {
  %s = attn.score %q, %k : tensor<2x6x37x24xf32>, tensor<2x2x37x24xf32> -> tensor<2x6x37x37xf32>
  %m = attn.mask %s [#attn.prefix<length = 11>] : tensor<2x6x37x37xf32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<2x6x37x37xf32>, tensor<2x2x37x20xf32> -> tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
  %mu = attn.mask %s [#attn.any<[#attn.sink<count = 11>, #attn.causal]>] : tensor<2x6x37x37xf32>
  %ou = attn.aggregate softmax %mu, %v : tensor<2x6x37x37xf32>, tensor<2x2x37x20xf32> -> tensor<2x6x37x20xf32>
  %sc = attn.score %qc, %kc : tensor<1x6x45x24xf32>, tensor<1x2x29x24xf32> -> tensor<1x6x45x29xf32>
  %mc = attn.mask %sc [#attn.prefix<length = 11>] : tensor<1x6x45x29xf32>
  %oc, %lc = attn.aggregate softmax %mc, %vc : tensor<1x6x45x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x6x45x20xf32>, tensor<1x6x45xf32>
  return %o, %l, %ou, %oc, %lc : tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37x20xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>
}
