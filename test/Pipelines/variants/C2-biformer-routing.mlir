// C2 — BiFormer bi-level routing: `attn.select_blocks {pool = "mean"}` over
// 8-token regions (last region partial) keeps the top-2 key regions per query
// region; `#attn.block_mask` then restricts token attention to them. Also a
// causal selection + #attn.causal, and pool = "max". Sq = 37, Skv = 45
// (5 x 6 regions), GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=211 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=211 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=212 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=212 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @biformer(%q: tensor<2x6x37x24xf32>, %k: tensor<2x2x45x24xf32>, %v: tensor<2x2x45x20xf32>)
    -> (tensor<2x6x37x20xf32>, tensor<2x6x5x6xi1>, tensor<2x6x37x20xf32>, tensor<2x6x37xf32>,
        tensor<2x6x37x20xf32>) {
  %s = attn.score %q, %k : tensor<2x6x37x24xf32>, tensor<2x2x45x24xf32> -> tensor<2x6x37x45xf32>
  %bm = attn.select_blocks %q, %k {block_q = 8, block_kv = 8, top_k = 2, pool = "mean"}
      : tensor<2x6x37x24xf32>, tensor<2x2x45x24xf32> -> tensor<2x6x5x6xi1>
  %m = attn.mask %s [#attn.block_mask<block_q = 8, block_kv = 8>] (%bm) : tensor<2x6x37x45xf32>, tensor<2x6x5x6xi1>
  %o = attn.aggregate softmax %m, %v : tensor<2x6x37x45xf32>, tensor<2x2x45x20xf32> -> tensor<2x6x37x20xf32>
  // Causal routing.
  %bmc = attn.select_blocks %q, %k {block_q = 8, block_kv = 8, top_k = 2, pool = "mean", causal}
      : tensor<2x6x37x24xf32>, tensor<2x2x45x24xf32> -> tensor<2x6x5x6xi1>
  %mc = attn.mask %s [#attn.causal, #attn.block_mask<block_q = 8, block_kv = 8>] (%bmc) : tensor<2x6x37x45xf32>, tensor<2x6x5x6xi1>
  %oc, %lc = attn.aggregate softmax %mc, %v : tensor<2x6x37x45xf32>, tensor<2x2x45x20xf32> -> tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
  // Max pooling.
  %bmx = attn.select_blocks %q, %k {block_q = 8, block_kv = 8, top_k = 3, pool = "max"}
      : tensor<2x6x37x24xf32>, tensor<2x2x45x24xf32> -> tensor<2x6x5x6xi1>
  %mx = attn.mask %s [#attn.block_mask<block_q = 8, block_kv = 8>] (%bmx) : tensor<2x6x37x45xf32>, tensor<2x6x5x6xi1>
  %ox = attn.aggregate softmax %mx, %v : tensor<2x6x37x45xf32>, tensor<2x2x45x20xf32> -> tensor<2x6x37x20xf32>
  return %o, %bm, %oc, %lc, %ox : tensor<2x6x37x20xf32>, tensor<2x6x5x6xi1>, tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37x20xf32>
}
