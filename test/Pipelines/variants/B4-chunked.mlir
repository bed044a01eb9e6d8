// B4 — chunked attention (TCNCA): floor(i'/C) = floor(j/C), i' = i + Skv - Sq,
// as `#attn.chunk<size = 7>` alone and intersected with #attn.causal.
// Sq = 37 < Skv = 45, and Sq = 45 > Skv = 29 where negative aligned positions
// fall in chunks -1..-3 (floor division) and see no key. GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=131 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=131 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=132 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=132 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @chunked(%q: tensor<1x6x37x24xf32>, %k: tensor<1x2x45x24xf32>, %v: tensor<1x2x45x20xf32>,
                   %qc: tensor<1x6x45x24xf32>, %kc: tensor<1x2x29x24xf32>, %vc: tensor<1x2x29x20xf32>)
    -> (tensor<1x6x37x20xf32>, tensor<1x6x37x20xf32>, tensor<1x6x37xf32>,
        tensor<1x6x45x20xf32>, tensor<1x6x45xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>) {
  %s = attn.score %q, %k : tensor<1x6x37x24xf32>, tensor<1x2x45x24xf32> -> tensor<1x6x37x45xf32>
  %m0 = attn.mask %s [#attn.chunk<size = 7>] : tensor<1x6x37x45xf32>
  %o0 = attn.aggregate softmax %m0, %v : tensor<1x6x37x45xf32>, tensor<1x2x45x20xf32> -> tensor<1x6x37x20xf32>
  %m1 = attn.mask %s [#attn.chunk<size = 7>, #attn.causal] : tensor<1x6x37x45xf32>
  %o1, %l1 = attn.aggregate softmax %m1, %v : tensor<1x6x37x45xf32>, tensor<1x2x45x20xf32> -> tensor<1x6x37x20xf32>, tensor<1x6x37xf32>
  %sc = attn.score %qc, %kc : tensor<1x6x45x24xf32>, tensor<1x2x29x24xf32> -> tensor<1x6x45x29xf32>
  %m2 = attn.mask %sc [#attn.chunk<size = 7>] : tensor<1x6x45x29xf32>
  %o2, %l2 = attn.aggregate softmax %m2, %vc : tensor<1x6x45x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x6x45x20xf32>, tensor<1x6x45xf32>
  %m3 = attn.mask %sc [#attn.chunk<size = 7>, #attn.causal] : tensor<1x6x45x29xf32>
  %o3, %l3 = attn.aggregate softmax %m3, %vc : tensor<1x6x45x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x6x45x20xf32>, tensor<1x6x45xf32>
  return %o0, %o1, %l1, %o2, %l2, %o3, %l3
      : tensor<1x6x37x20xf32>, tensor<1x6x37x20xf32>, tensor<1x6x37xf32>,
        tensor<1x6x45x20xf32>, tensor<1x6x45xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>
}
