// C6 — Routing Transformer: `attn.cluster` with per-head centroids [Hq, 4, D]
// assigns Q and K tokens (K heads broadcast to the query heads by a
// linalg.generic for routing only); `[#attn.segments, #attn.causal]` with the
// per-head [B, Hq, S] ids, and without causal. Nearest centroid only (no
// balanced top-w). Sq = Skv = 37, GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=261 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=261 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=262 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=262 --check | FileCheck %s
// CHECK: max_abs_err=

#bcast = affine_map<(b, h, s, d) -> (b, h floordiv 3, s, d)>
#id = affine_map<(b, h, s, d) -> (b, h, s, d)>

func.func @routing(%q: tensor<2x6x37x24xf32>, %k: tensor<2x2x37x24xf32>, %v: tensor<2x2x37x20xf32>,
                   %centroids: tensor<6x4x24xf32>)
    -> (tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37x20xf32>, tensor<2x6x37xi32>, tensor<2x6x37xi32>) {
  %qid = attn.cluster %q, %centroids : tensor<2x6x37x24xf32>, tensor<6x4x24xf32> -> tensor<2x6x37xi32>
  %init = tensor.empty() : tensor<2x6x37x24xf32>
  %kb = linalg.generic {indexing_maps = [#bcast, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k : tensor<2x2x37x24xf32>) outs(%init : tensor<2x6x37x24xf32>) {
    ^bb0(%x: f32, %o: f32):
      linalg.yield %x : f32
  } -> tensor<2x6x37x24xf32>
  %kid = attn.cluster %kb, %centroids : tensor<2x6x37x24xf32>, tensor<6x4x24xf32> -> tensor<2x6x37xi32>
  %s = attn.score %q, %k : tensor<2x6x37x24xf32>, tensor<2x2x37x24xf32> -> tensor<2x6x37x37xf32>
  %m = attn.mask %s [#attn.segments, #attn.causal] (%qid, %kid) : tensor<2x6x37x37xf32>, tensor<2x6x37xi32>, tensor<2x6x37xi32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<2x6x37x37xf32>, tensor<2x2x37x20xf32> -> tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
  %mn = attn.mask %s [#attn.segments] (%qid, %kid) : tensor<2x6x37x37xf32>, tensor<2x6x37xi32>, tensor<2x6x37xi32>
  %on = attn.aggregate softmax %mn, %v : tensor<2x6x37x37xf32>, tensor<2x2x37x20xf32> -> tensor<2x6x37x20xf32>
  return %o, %l, %on, %qid, %kid : tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37x20xf32>, tensor<2x6x37xi32>, tensor<2x6x37xi32>
}
