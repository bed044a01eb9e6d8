// A4 — decoding with a KV cache: Sq = 1 and Sq = 3 against Skv = 301, aligned
// #attn.causal. The KV axis is also split with tensor.extract_slice, each part
// gives (O, lse) via `attn.aggregate softmax ... -> out, lse`, and attn.merge
// combines them; for Sq = 3 the last part [299, 301) is fully masked for
// query 0 (lse -inf partial). Direct and merged results are both returned.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=31 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=31 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --cpu-options="kv-splits=3" --random-args --seed=31 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=32 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=32 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @decode(%q1: tensor<2x6x1x24xf32>, %q3: tensor<2x6x3x24xf32>,
                  %k: tensor<2x2x301x24xf32>, %v: tensor<2x2x301x20xf32>)
    -> (tensor<2x6x1x20xf32>, tensor<2x6x1xf32>, tensor<2x6x1x20xf32>, tensor<2x6x1xf32>,
        tensor<2x6x3x20xf32>, tensor<2x6x3xf32>, tensor<2x6x3x20xf32>, tensor<2x6x3xf32>) {
  // Direct: Sq = 1.
  %s1 = attn.score %q1, %k : tensor<2x6x1x24xf32>, tensor<2x2x301x24xf32> -> tensor<2x6x1x301xf32>
  %m1 = attn.mask %s1 [#attn.causal] : tensor<2x6x1x301xf32>
  %o1, %l1 = attn.aggregate softmax %m1, %v : tensor<2x6x1x301xf32>, tensor<2x2x301x20xf32> -> tensor<2x6x1x20xf32>, tensor<2x6x1xf32>
  // Split: Sq = 1, halves [0, 150) and [150, 301).
  %ka = tensor.extract_slice %k[0, 0, 0, 0] [2, 2, 150, 24] [1, 1, 1, 1] : tensor<2x2x301x24xf32> to tensor<2x2x150x24xf32>
  %va = tensor.extract_slice %v[0, 0, 0, 0] [2, 2, 150, 20] [1, 1, 1, 1] : tensor<2x2x301x20xf32> to tensor<2x2x150x20xf32>
  %kb = tensor.extract_slice %k[0, 0, 150, 0] [2, 2, 151, 24] [1, 1, 1, 1] : tensor<2x2x301x24xf32> to tensor<2x2x151x24xf32>
  %vb = tensor.extract_slice %v[0, 0, 150, 0] [2, 2, 151, 20] [1, 1, 1, 1] : tensor<2x2x301x20xf32> to tensor<2x2x151x20xf32>
  %s1a = attn.score %q1, %ka : tensor<2x6x1x24xf32>, tensor<2x2x150x24xf32> -> tensor<2x6x1x150xf32>
  %o1a, %l1a = attn.aggregate softmax %s1a, %va : tensor<2x6x1x150xf32>, tensor<2x2x150x20xf32> -> tensor<2x6x1x20xf32>, tensor<2x6x1xf32>
  %s1b = attn.score %q1, %kb : tensor<2x6x1x24xf32>, tensor<2x2x151x24xf32> -> tensor<2x6x1x151xf32>
  %m1b = attn.mask %s1b [#attn.causal] : tensor<2x6x1x151xf32>
  %o1b, %l1b = attn.aggregate softmax %m1b, %vb : tensor<2x6x1x151xf32>, tensor<2x2x151x20xf32> -> tensor<2x6x1x20xf32>, tensor<2x6x1xf32>
  %o1m, %l1m = attn.merge %o1a, %l1a, %o1b, %l1b : tensor<2x6x1x20xf32>, tensor<2x6x1xf32>, tensor<2x6x1x20xf32>, tensor<2x6x1xf32> -> tensor<2x6x1x20xf32>, tensor<2x6x1xf32>

  // Direct: Sq = 3 (query i sits at aligned position i + 298).
  %s3 = attn.score %q3, %k : tensor<2x6x3x24xf32>, tensor<2x2x301x24xf32> -> tensor<2x6x3x301xf32>
  %m3 = attn.mask %s3 [#attn.causal] : tensor<2x6x3x301xf32>
  %o3, %l3 = attn.aggregate softmax %m3, %v : tensor<2x6x3x301xf32>, tensor<2x2x301x20xf32> -> tensor<2x6x3x20xf32>, tensor<2x6x3xf32>
  // Split: Sq = 3, parts [0, 150), [150, 299), [299, 301).
  %kc = tensor.extract_slice %k[0, 0, 150, 0] [2, 2, 149, 24] [1, 1, 1, 1] : tensor<2x2x301x24xf32> to tensor<2x2x149x24xf32>
  %vc = tensor.extract_slice %v[0, 0, 150, 0] [2, 2, 149, 20] [1, 1, 1, 1] : tensor<2x2x301x20xf32> to tensor<2x2x149x20xf32>
  %kd = tensor.extract_slice %k[0, 0, 299, 0] [2, 2, 2, 24] [1, 1, 1, 1] : tensor<2x2x301x24xf32> to tensor<2x2x2x24xf32>
  %vd = tensor.extract_slice %v[0, 0, 299, 0] [2, 2, 2, 20] [1, 1, 1, 1] : tensor<2x2x301x20xf32> to tensor<2x2x2x20xf32>
  %s3a = attn.score %q3, %ka : tensor<2x6x3x24xf32>, tensor<2x2x150x24xf32> -> tensor<2x6x3x150xf32>
  %o3a, %l3a = attn.aggregate softmax %s3a, %va : tensor<2x6x3x150xf32>, tensor<2x2x150x20xf32> -> tensor<2x6x3x20xf32>, tensor<2x6x3xf32>
  %s3c = attn.score %q3, %kc : tensor<2x6x3x24xf32>, tensor<2x2x149x24xf32> -> tensor<2x6x3x149xf32>
  %o3c, %l3c = attn.aggregate softmax %s3c, %vc : tensor<2x6x3x149xf32>, tensor<2x2x149x20xf32> -> tensor<2x6x3x20xf32>, tensor<2x6x3xf32>
  %s3d = attn.score %q3, %kd : tensor<2x6x3x24xf32>, tensor<2x2x2x24xf32> -> tensor<2x6x3x2xf32>
  %m3d = attn.mask %s3d [#attn.causal] : tensor<2x6x3x2xf32>
  %o3d, %l3d = attn.aggregate softmax %m3d, %vd : tensor<2x6x3x2xf32>, tensor<2x2x2x20xf32> -> tensor<2x6x3x20xf32>, tensor<2x6x3xf32>
  %o3m, %l3m = attn.merge %o3a, %l3a, %o3c, %l3c, %o3d, %l3d
      : tensor<2x6x3x20xf32>, tensor<2x6x3xf32>, tensor<2x6x3x20xf32>, tensor<2x6x3xf32>, tensor<2x6x3x20xf32>, tensor<2x6x3xf32>
      -> tensor<2x6x3x20xf32>, tensor<2x6x3xf32>
  return %o1, %l1, %o1m, %l1m, %o3, %l3, %o3m, %l3m
      : tensor<2x6x1x20xf32>, tensor<2x6x1xf32>, tensor<2x6x1x20xf32>, tensor<2x6x1xf32>,
        tensor<2x6x3x20xf32>, tensor<2x6x3xf32>, tensor<2x6x3x20xf32>, tensor<2x6x3xf32>
}
