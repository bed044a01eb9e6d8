// B1 — aligned causal attention with bf16 Q/K/V (bf16 output, f32 lse):
// `attn.mask [#attn.causal]` then attn.aggregate softmax. KV-cache style
// Sq = 19 < Skv = 53 (query i sits at position i + 34), and a second case
// with Sq = 53 > Skv = 19 (rows i < 34 fully masked). GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=105 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=105 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=106 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=106 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @causal_bf16(%q: tensor<1x6x19x24xbf16>, %k: tensor<1x2x53x24xbf16>, %v: tensor<1x2x53x20xbf16>)
    -> (tensor<1x6x19x20xbf16>, tensor<1x6x19xf32>, tensor<1x2x53x20xbf16>, tensor<1x2x53xf32>) {
  %s = attn.score %q, %k : tensor<1x6x19x24xbf16>, tensor<1x2x53x24xbf16> -> tensor<1x6x19x53xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x6x19x53xf32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<1x6x19x53xf32>, tensor<1x2x53x20xbf16> -> tensor<1x6x19x20xbf16>, tensor<1x6x19xf32>
  // Roles swapped: the 53 K rows act as queries over 19 keys/values sliced
  // from heads 0-1 and 2-3 of Q (Hq = Hkv = 2 here).
  %kq = tensor.extract_slice %q[0, 0, 0, 0] [1, 2, 19, 24] [1, 1, 1, 1] : tensor<1x6x19x24xbf16> to tensor<1x2x19x24xbf16>
  %vq = tensor.extract_slice %q[0, 2, 0, 0] [1, 2, 19, 20] [1, 1, 1, 1] : tensor<1x6x19x24xbf16> to tensor<1x2x19x20xbf16>
  %s2 = attn.score %k, %kq : tensor<1x2x53x24xbf16>, tensor<1x2x19x24xbf16> -> tensor<1x2x53x19xf32>
  %m2 = attn.mask %s2 [#attn.causal] : tensor<1x2x53x19xf32>
  %o2, %l2 = attn.aggregate softmax %m2, %vq : tensor<1x2x53x19xf32>, tensor<1x2x19x20xbf16> -> tensor<1x2x53x20xbf16>, tensor<1x2x53xf32>
  return %o, %l, %o2, %l2 : tensor<1x6x19x20xbf16>, tensor<1x6x19xf32>, tensor<1x2x53x20xbf16>, tensor<1x2x53xf32>
}
