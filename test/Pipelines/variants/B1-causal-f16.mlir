// B1 — aligned causal attention with f16 Q/K/V (f16 output, f32 lse):
// `attn.mask [#attn.causal]` then attn.aggregate softmax. Cross attention
// with Sq = 41 > Skv = 27, so rows i < 14 see no key (output 0, lse -inf).
// GQA Hq = 4, Hkv = 2, D = 40, Dv = 24.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=103 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=103 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=104 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=104 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @causal_f16(%q: tensor<2x4x41x40xf16>, %k: tensor<2x2x27x40xf16>, %v: tensor<2x2x27x24xf16>)
    -> (tensor<2x4x41x24xf16>, tensor<2x4x41xf32>) {
  %s = attn.score %q, %k : tensor<2x4x41x40xf16>, tensor<2x2x27x40xf16> -> tensor<2x4x41x27xf32>
  %m = attn.mask %s [#attn.causal] : tensor<2x4x41x27xf32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<2x4x41x27xf32>, tensor<2x2x27x24xf16> -> tensor<2x4x41x24xf16>, tensor<2x4x41xf32>
  return %o, %l : tensor<2x4x41x24xf16>, tensor<2x4x41xf32>
}
