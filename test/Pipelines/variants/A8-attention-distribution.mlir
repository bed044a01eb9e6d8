// A8 — returning the attention distribution P = softmax(S) itself (Pointer
// Networks, interpretability): `attn.normalize softmax` of causally masked
// scores. Cross attention with Sq = 37 > Skv = 29, so with aligned causal
// rows i < 8 have every key masked and must come out all 0 (never NaN).
// Also the unmasked distribution. f16 Q/K, GQA Hq = 4, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=71 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=71 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=72 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=72 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @distribution(%q: tensor<2x4x37x24xf16>, %k: tensor<2x2x29x24xf16>)
    -> (tensor<2x4x37x29xf32>, tensor<2x4x37x29xf32>) {
  %s = attn.score %q, %k {scale = 0.5 : f32} : tensor<2x4x37x24xf16>, tensor<2x2x29x24xf16> -> tensor<2x4x37x29xf32>
  %m = attn.mask %s [#attn.causal] : tensor<2x4x37x29xf32>
  %p = attn.normalize softmax %m : tensor<2x4x37x29xf32> -> tensor<2x4x37x29xf32>
  %p0 = attn.normalize softmax %s : tensor<2x4x37x29xf32> -> tensor<2x4x37x29xf32>
  return %p, %p0 : tensor<2x4x37x29xf32>, tensor<2x4x37x29xf32>
}
