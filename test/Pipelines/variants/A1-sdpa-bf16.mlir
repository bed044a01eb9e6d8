// A1 — scaled dot-product attention with bf16 inputs: O = softmax(S) V.
// attn.score on bf16 Q/K (scores in f32, default scale 1/sqrt(D)),
// attn.aggregate softmax on a bf16 V; output bf16, lse f32. GQA (Hq = 6,
// Hkv = 2), self-attention length Sq = Skv = 33, D = 24, Dv = 12.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=5 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=5 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=6 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=6 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @sdpa_bf16(%q: tensor<1x6x33x24xbf16>, %k: tensor<1x2x33x24xbf16>,
                     %v: tensor<1x2x33x12xbf16>)
    -> (tensor<1x6x33x12xbf16>, tensor<1x6x33xf32>) {
  %s = attn.score %q, %k : tensor<1x6x33x24xbf16>, tensor<1x2x33x24xbf16> -> tensor<1x6x33x33xf32>
  %o, %lse = attn.aggregate softmax %s, %v : tensor<1x6x33x33xf32>, tensor<1x2x33x12xbf16> -> tensor<1x6x33x12xbf16>, tensor<1x6x33xf32>
  return %o, %lse : tensor<1x6x33x12xbf16>, tensor<1x6x33xf32>
}
