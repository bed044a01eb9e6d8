// A2 — the four CAB attention patterns, one result each: non-causal self
// (Sq = Skv), causal self (#attn.causal), non-causal cross (Sq != Skv) and
// causal cross (bottom-right aligned #attn.causal), the last both with
// Sq < Skv and with Sq = 45 > Skv = 29 (rows i < 16 fully masked: 0, lse -inf).
// GQA Hq = 4, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=11 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=11 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=12 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=12 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @cab(%x: tensor<1x4x37x24xf32>, %xkv: tensor<1x2x37x24xf32>,
               %xv: tensor<1x2x37x20xf32>,
               %qc: tensor<1x4x45x24xf32>, %kc: tensor<1x2x29x24xf32>,
               %vc: tensor<1x2x29x20xf32>)
    -> (tensor<1x4x37x20xf32>, tensor<1x4x37x20xf32>, tensor<1x4x37xf32>,
        tensor<1x4x45x20xf32>, tensor<1x4x45x20xf32>, tensor<1x4x45xf32>,
        tensor<1x4x29x20xf32>, tensor<1x4x29xf32>) {
  // Self attention: queries and keys from the same source tokens.
  %ss = attn.score %x, %xkv : tensor<1x4x37x24xf32>, tensor<1x2x37x24xf32> -> tensor<1x4x37x37xf32>
  %o0 = attn.aggregate softmax %ss, %xv : tensor<1x4x37x37xf32>, tensor<1x2x37x20xf32> -> tensor<1x4x37x20xf32>
  %ms = attn.mask %ss [#attn.causal] : tensor<1x4x37x37xf32>
  %o1, %l1 = attn.aggregate softmax %ms, %xv : tensor<1x4x37x37xf32>, tensor<1x2x37x20xf32> -> tensor<1x4x37x20xf32>, tensor<1x4x37xf32>
  // Cross attention, Sq = 45 > Skv = 29.
  %sc = attn.score %qc, %kc : tensor<1x4x45x24xf32>, tensor<1x2x29x24xf32> -> tensor<1x4x45x29xf32>
  %o2 = attn.aggregate softmax %sc, %vc : tensor<1x4x45x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x4x45x20xf32>
  %mc = attn.mask %sc [#attn.causal] : tensor<1x4x45x29xf32>
  %o3, %l3 = attn.aggregate softmax %mc, %vc : tensor<1x4x45x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x4x45x20xf32>, tensor<1x4x45xf32>
  // Causal cross with Sq = 29 < Skv = 37 (KV cache longer than the queries).
  %qs = tensor.extract_slice %qc[0, 0, 0, 0] [1, 4, 29, 24] [1, 1, 1, 1] : tensor<1x4x45x24xf32> to tensor<1x4x29x24xf32>
  %sk = attn.score %qs, %xkv : tensor<1x4x29x24xf32>, tensor<1x2x37x24xf32> -> tensor<1x4x29x37xf32>
  %mk = attn.mask %sk [#attn.causal] : tensor<1x4x29x37xf32>
  %o4, %l4 = attn.aggregate softmax %mk, %xv : tensor<1x4x29x37xf32>, tensor<1x2x37x20xf32> -> tensor<1x4x29x20xf32>, tensor<1x4x29xf32>
  return %o0, %o1, %l1, %o2, %o3, %l3, %o4, %l4
      : tensor<1x4x37x20xf32>, tensor<1x4x37x20xf32>, tensor<1x4x37xf32>,
        tensor<1x4x45x20xf32>, tensor<1x4x45x20xf32>, tensor<1x4x45xf32>,
        tensor<1x4x29x20xf32>, tensor<1x4x29xf32>
}
