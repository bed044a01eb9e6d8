// Per-head segment ids with a broadcast head axis ([B, 1, S]) in the
// block-sparse form: every query head reads the one row of ids (the sort,
// the key-tile ranges and the per-element mask alike).
//
// RUN: attn-run %s --pipeline=cpu --random-args --seed=1 --check --cpu-options="tile-q=16 tile-kv=16" | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=2 --check --cpu-options="tile-q=16 tile-kv=16" | FileCheck %s
// CHECK: max_abs_err=

func.func @f(%q: tensor<1x4x70x8xf32>, %k: tensor<1x4x70x8xf32>, %v: tensor<1x4x70x8xf32>,
             %qs: tensor<1x1x70xi32>, %ks: tensor<1x1x70xi32>) -> tensor<1x4x70x8xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal, #attn.segments] (%qs, %ks : tensor<1x1x70xi32>, tensor<1x1x70xi32>)
      : tensor<1x4x70x8xf32>, tensor<1x4x70x8xf32>, tensor<1x4x70x8xf32> -> tensor<1x4x70x8xf32>
  return %o : tensor<1x4x70x8xf32>
}
