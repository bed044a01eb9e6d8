// A1 — scaled dot-product attention: O = softmax(scale * Q K^T) V.
// Expressed as attn.score (default scale 1/sqrt(D)) followed directly by
// attn.aggregate softmax; the lse result is returned as well. f32 inputs,
// GQA (Hq = 6, Hkv = 2), cross attention with Sq != Skv, odd sizes.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=1 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=1 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=2 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=2 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @sdpa(%q: tensor<2x6x37x24xf32>, %k: tensor<2x2x45x24xf32>,
                %v: tensor<2x2x45x20xf32>)
    -> (tensor<2x6x37x20xf32>, tensor<2x6x37xf32>) {
  %s = attn.score %q, %k : tensor<2x6x37x24xf32>, tensor<2x2x45x24xf32> -> tensor<2x6x37x45xf32>
  %o, %lse = attn.aggregate softmax %s, %v : tensor<2x6x37x45xf32>, tensor<2x2x45x20xf32> -> tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
  return %o, %lse : tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
}
