// B2 — sliding window with per-head spans (MoA): i' - left_h <= j <= i' + right_h
// via `#attn.window<left = [..6 entries..], right = [..] or R>` (one entry per
// query head), plus a uniform window intersected with #attn.causal.
// Sq = 37 < Skv = 45, and Sq = 45 > Skv = 29 with right = 0 (rows i < 16 see
// no key). GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=111 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=111 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=112 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=112 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @window(%q: tensor<1x6x37x24xf32>, %k: tensor<1x2x45x24xf32>, %v: tensor<1x2x45x20xf32>,
                  %qc: tensor<1x6x45x24xf32>, %kc: tensor<1x2x29x24xf32>, %vc: tensor<1x2x29x20xf32>)
    -> (tensor<1x6x37x20xf32>, tensor<1x6x37xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>,
        tensor<1x6x37x20xf32>) {
  %s = attn.score %q, %k : tensor<1x6x37x24xf32>, tensor<1x2x45x24xf32> -> tensor<1x6x37x45xf32>
  %m = attn.mask %s [#attn.window<left = [0, 3, 5, 9, 17, 64], right = [0, 1, 0, 4, 2, 0]>] : tensor<1x6x37x45xf32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<1x6x37x45xf32>, tensor<1x2x45x20xf32> -> tensor<1x6x37x20xf32>, tensor<1x6x37xf32>
  %sc = attn.score %qc, %kc : tensor<1x6x45x24xf32>, tensor<1x2x29x24xf32> -> tensor<1x6x45x29xf32>
  %mc = attn.mask %sc [#attn.window<left = [2, 4, 6, 8, 10, 12], right = 0>] : tensor<1x6x45x29xf32>
  %oc, %lc = attn.aggregate softmax %mc, %vc : tensor<1x6x45x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x6x45x20xf32>, tensor<1x6x45xf32>
  %mu = attn.mask %s [#attn.window<left = 6, right = 3>, #attn.causal] : tensor<1x6x37x45xf32>
  %ou = attn.aggregate softmax %mu, %v : tensor<1x6x37x45xf32>, tensor<1x2x45x20xf32> -> tensor<1x6x37x20xf32>
  return %o, %l, %oc, %lc, %ou : tensor<1x6x37x20xf32>, tensor<1x6x37xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>, tensor<1x6x37x20xf32>
}
