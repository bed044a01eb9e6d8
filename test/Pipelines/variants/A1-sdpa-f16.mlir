// A1 — scaled dot-product attention with f16 inputs: O = softmax(S) V.
// attn.score on f16 Q/K (scores in f32, explicit scale), attn.aggregate
// softmax on an f16 V; the output is f16, lse f32. GQA (Hq = 4, Hkv = 2),
// cross attention (Sq = 23, Skv = 51), D = 40.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=3 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=3 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=4 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=4 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @sdpa_f16(%q: tensor<2x4x23x40xf16>, %k: tensor<2x2x51x40xf16>,
                    %v: tensor<2x2x51x40xf16>)
    -> (tensor<2x4x23x40xf16>, tensor<2x4x23xf32>) {
  %s = attn.score %q, %k {scale = 0.2 : f32} : tensor<2x4x23x40xf16>, tensor<2x2x51x40xf16> -> tensor<2x4x23x51xf32>
  %o, %lse = attn.aggregate softmax %s, %v : tensor<2x4x23x51xf32>, tensor<2x2x51x40xf16> -> tensor<2x4x23x40xf16>, tensor<2x4x23xf32>
  return %o, %lse : tensor<2x4x23x40xf16>, tensor<2x4x23xf32>
}
