// C8 — Sparsifiner: low-rank Q W_r, K W_r (linalg.generic, rank 6) scored with
// `attn.score`, `attn.select_topk {top_k = 5}` per query, then the full scores
// masked by `#attn.indices`. Causal variant: low-rank scores masked first, so
// with Sq = 37 > Skv = 29 rows i < 8 select nothing (-1 slots, fully masked).
// GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=281 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=281 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=282 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=282 --check | FileCheck %s
// CHECK: max_abs_err=

#x = affine_map<(b, h, s, r, d) -> (b, h, s, d)>
#w = affine_map<(b, h, s, r, d) -> (d, r)>
#o = affine_map<(b, h, s, r, d) -> (b, h, s, r)>

func.func @sparsifiner(%q: tensor<1x6x37x24xf32>, %k: tensor<1x2x29x24xf32>, %v: tensor<1x2x29x20xf32>,
                       %wr: tensor<24x6xf32>)
    -> (tensor<1x6x37x20xf32>, tensor<1x6x37x5xi32>, tensor<1x6x37x20xf32>, tensor<1x6x37xf32>,
        tensor<1x6x37x5xi32>) {
  %zero = arith.constant 0.0 : f32
  %qi = tensor.empty() : tensor<1x6x37x6xf32>
  %qz = linalg.fill ins(%zero : f32) outs(%qi : tensor<1x6x37x6xf32>) -> tensor<1x6x37x6xf32>
  %qr = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %wr : tensor<1x6x37x24xf32>, tensor<24x6xf32>) outs(%qz : tensor<1x6x37x6xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %m = arith.mulf %a, %b : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
  } -> tensor<1x6x37x6xf32>
  %ki = tensor.empty() : tensor<1x2x29x6xf32>
  %kz = linalg.fill ins(%zero : f32) outs(%ki : tensor<1x2x29x6xf32>) -> tensor<1x2x29x6xf32>
  %kr = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%k, %wr : tensor<1x2x29x24xf32>, tensor<24x6xf32>) outs(%kz : tensor<1x2x29x6xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %m = arith.mulf %a, %b : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
  } -> tensor<1x2x29x6xf32>
  %lr = attn.score %qr, %kr {scale = 1.0 : f32} : tensor<1x6x37x6xf32>, tensor<1x2x29x6xf32> -> tensor<1x6x37x29xf32>
  %s = attn.score %q, %k : tensor<1x6x37x24xf32>, tensor<1x2x29x24xf32> -> tensor<1x6x37x29xf32>
  // Non-causal.
  %idx = attn.select_topk %lr {top_k = 5} : tensor<1x6x37x29xf32> -> tensor<1x6x37x5xi32>
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x6x37x29xf32>, tensor<1x6x37x5xi32>
  %o = attn.aggregate softmax %m, %v : tensor<1x6x37x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x6x37x20xf32>
  // Causal: select among visible keys only.
  %lrc = attn.mask %lr [#attn.causal] : tensor<1x6x37x29xf32>
  %idxc = attn.select_topk %lrc {top_k = 5} : tensor<1x6x37x29xf32> -> tensor<1x6x37x5xi32>
  %mc = attn.mask %s [#attn.indices] (%idxc) : tensor<1x6x37x29xf32>, tensor<1x6x37x5xi32>
  %oc, %lc = attn.aggregate softmax %mc, %v : tensor<1x6x37x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x6x37x20xf32>, tensor<1x6x37xf32>
  return %o, %idx, %oc, %lc, %idxc : tensor<1x6x37x20xf32>, tensor<1x6x37x5xi32>, tensor<1x6x37x20xf32>, tensor<1x6x37xf32>, tensor<1x6x37x5xi32>
}
