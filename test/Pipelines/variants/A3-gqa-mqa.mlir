// A3 — multi-query and grouped-query attention: Hkv divides Hq and query
// head h reads K/V head h / (Hq / Hkv). Expressed by giving attn.score and
// attn.aggregate K/V tensors with fewer heads (no copy): MQA (Hq = 6,
// Hkv = 1), GQA (Hq = 6, Hkv = 3) and plain MHA (Hkv = Hq) side by side.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=21 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=21 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=22 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=22 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @gqa(%q: tensor<2x6x19x24xf32>,
               %k1: tensor<2x1x27x24xf32>, %v1: tensor<2x1x27x20xf32>,
               %k3: tensor<2x3x27x24xf32>, %v3: tensor<2x3x27x20xf32>,
               %k6: tensor<2x6x27x24xf32>, %v6: tensor<2x6x27x20xf32>)
    -> (tensor<2x6x19x20xf32>, tensor<2x6x19x20xf32>, tensor<2x6x19x20xf32>) {
  %s1 = attn.score %q, %k1 : tensor<2x6x19x24xf32>, tensor<2x1x27x24xf32> -> tensor<2x6x19x27xf32>
  %m1 = attn.mask %s1 [#attn.causal] : tensor<2x6x19x27xf32>
  %o1 = attn.aggregate softmax %m1, %v1 : tensor<2x6x19x27xf32>, tensor<2x1x27x20xf32> -> tensor<2x6x19x20xf32>
  %s3 = attn.score %q, %k3 : tensor<2x6x19x24xf32>, tensor<2x3x27x24xf32> -> tensor<2x6x19x27xf32>
  %o3 = attn.aggregate softmax %s3, %v3 : tensor<2x6x19x27xf32>, tensor<2x3x27x20xf32> -> tensor<2x6x19x20xf32>
  %s6 = attn.score %q, %k6 : tensor<2x6x19x24xf32>, tensor<2x6x27x24xf32> -> tensor<2x6x19x27xf32>
  %o6 = attn.aggregate softmax %s6, %v6 : tensor<2x6x19x27xf32>, tensor<2x6x27x20xf32> -> tensor<2x6x19x20xf32>
  return %o1, %o3, %o6 : tensor<2x6x19x20xf32>, tensor<2x6x19x20xf32>, tensor<2x6x19x20xf32>
}
