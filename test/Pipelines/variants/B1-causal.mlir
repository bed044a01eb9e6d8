// B1 — causal attention, aligned bottom-right: key j is visible to query i
// iff j <= i + (Skv - Sq). Expressed with `attn.mask [#attn.causal]` before
// attn.aggregate softmax. Self attention (Sq = Skv = 37) and cross attention
// with Sq = 45 > Skv = 29 (rows i < 16 fully masked: output 0, lse -inf).
// GQA Hq = 6, Hkv = 2, f32.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=101 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=101 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=102 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=102 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @causal(%q: tensor<1x6x37x24xf32>, %k: tensor<1x2x37x24xf32>, %v: tensor<1x2x37x20xf32>,
                  %qc: tensor<1x6x45x24xf32>, %kc: tensor<1x2x29x24xf32>, %vc: tensor<1x2x29x20xf32>)
    -> (tensor<1x6x37x20xf32>, tensor<1x6x37xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>) {
  %s = attn.score %q, %k : tensor<1x6x37x24xf32>, tensor<1x2x37x24xf32> -> tensor<1x6x37x37xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x6x37x37xf32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<1x6x37x37xf32>, tensor<1x2x37x20xf32> -> tensor<1x6x37x20xf32>, tensor<1x6x37xf32>
  %sc = attn.score %qc, %kc : tensor<1x6x45x24xf32>, tensor<1x2x29x24xf32> -> tensor<1x6x45x29xf32>
  %mc = attn.mask %sc [#attn.causal] : tensor<1x6x45x29xf32>
  %oc, %lc = attn.aggregate softmax %mc, %vc : tensor<1x6x45x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x6x45x20xf32>, tensor<1x6x45xf32>
  return %o, %l, %oc, %lc : tensor<1x6x37x20xf32>, tensor<1x6x37xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>
}
