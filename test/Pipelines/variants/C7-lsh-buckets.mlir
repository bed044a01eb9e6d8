// C7 — LSH-bucketed attention (Reformer, HyperAttention): `attn.lsh` with planes
// [24, 3] gives 8 sign-pattern buckets; queries attend within their bucket via
// per-head `#attn.segments` ids (+ #attn.causal). Shared-QK as in Reformer: one
// tensor is query and key, one lsh call gives both ids; a second case hashes
// separate Q, K (Sq = 29 < Skv = 41). No sort into equal chunks. H = 4.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=271 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=271 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=272 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=272 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @lsh(%x: tensor<2x4x37x24xf32>, %v: tensor<2x4x37x20xf32>, %planes: tensor<24x3xf32>,
               %q: tensor<2x4x29x24xf32>, %k: tensor<2x4x41x24xf32>, %vk: tensor<2x4x41x20xf32>)
    -> (tensor<2x4x37x20xf32>, tensor<2x4x37xf32>, tensor<2x4x37xi32>, tensor<2x4x29x20xf32>, tensor<2x4x29xf32>) {
  %bid = attn.lsh %x, %planes : tensor<2x4x37x24xf32>, tensor<24x3xf32> -> tensor<2x4x37xi32>
  %s = attn.score %x, %x : tensor<2x4x37x24xf32>, tensor<2x4x37x24xf32> -> tensor<2x4x37x37xf32>
  %m = attn.mask %s [#attn.causal, #attn.segments] (%bid, %bid) : tensor<2x4x37x37xf32>, tensor<2x4x37xi32>, tensor<2x4x37xi32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<2x4x37x37xf32>, tensor<2x4x37x20xf32> -> tensor<2x4x37x20xf32>, tensor<2x4x37xf32>
  // Separate Q and K hashes, cross attention Sq = 29 < Skv = 41, no causal.
  %qb = attn.lsh %q, %planes : tensor<2x4x29x24xf32>, tensor<24x3xf32> -> tensor<2x4x29xi32>
  %kb = attn.lsh %k, %planes : tensor<2x4x41x24xf32>, tensor<24x3xf32> -> tensor<2x4x41xi32>
  %sc = attn.score %q, %k : tensor<2x4x29x24xf32>, tensor<2x4x41x24xf32> -> tensor<2x4x29x41xf32>
  %mc = attn.mask %sc [#attn.segments] (%qb, %kb) : tensor<2x4x29x41xf32>, tensor<2x4x29xi32>, tensor<2x4x41xi32>
  %oc, %lc = attn.aggregate softmax %mc, %vk : tensor<2x4x29x41xf32>, tensor<2x4x41x20xf32> -> tensor<2x4x29x20xf32>, tensor<2x4x29xf32>
  return %o, %l, %bid, %oc, %lc : tensor<2x4x37x20xf32>, tensor<2x4x37xf32>, tensor<2x4x37xi32>, tensor<2x4x29x20xf32>, tensor<2x4x29xf32>
}
