// A5 — many-head single-query attention (random-feature heads, a low-rank
// "global context" query, pooling by attention): Sq = 1, H = 300 heads,
// small D = 6. Plain attn.score + attn.aggregate softmax with Hq = Hkv = 300
// (B = 2, Skv = 37), and a GQA variant reading 75 K/V heads.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=41 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=41 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --cpu-options="kv-splits=3" --random-args --seed=41 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=42 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=42 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @many_heads(%q: tensor<2x300x1x6xf32>, %k: tensor<2x300x37x6xf32>,
                      %v: tensor<2x300x37x5xf32>, %kg: tensor<2x75x37x6xf32>,
                      %vg: tensor<2x75x37x5xf32>)
    -> (tensor<2x300x1x5xf32>, tensor<2x300x1xf32>, tensor<2x300x1x5xf32>) {
  %s = attn.score %q, %k : tensor<2x300x1x6xf32>, tensor<2x300x37x6xf32> -> tensor<2x300x1x37xf32>
  %o, %lse = attn.aggregate softmax %s, %v : tensor<2x300x1x37xf32>, tensor<2x300x37x5xf32> -> tensor<2x300x1x5xf32>, tensor<2x300x1xf32>
  %sg = attn.score %q, %kg : tensor<2x300x1x6xf32>, tensor<2x75x37x6xf32> -> tensor<2x300x1x37xf32>
  %og = attn.aggregate softmax %sg, %vg : tensor<2x300x1x37xf32>, tensor<2x75x37x5xf32> -> tensor<2x300x1x5xf32>
  return %o, %lse, %og : tensor<2x300x1x5xf32>, tensor<2x300x1xf32>, tensor<2x300x1x5xf32>
}
