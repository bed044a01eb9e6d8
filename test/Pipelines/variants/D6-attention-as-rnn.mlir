// D6 — Attention as an RNN (Aaren): one query per head over every prefix,
// written as the causal attention graph over a broadcast query (scan form,
// attn-scan), with lse; GQA Hq = 4, Hkv = 2; Sq = Skv = 70 (chunks of 16
// keys: not a multiple) and, in the second function, Sq = 50 < Skv = 90
// with sinks, and Sq = 40 > Skv = 25 (rows i < 15 see no key: output 0).
//
// RUN: attn-run %s --entry=prefixes --pipeline=naive --random-args --seed=611 --check | FileCheck %s
// RUN: attn-run %s --entry=prefixes --pipeline=cpu --random-args --seed=611 --check | FileCheck %s
// RUN: attn-run %s --entry=prefixes --pipeline=cpu --cpu-options=scan-chunk=16 --random-args --seed=612 --check | FileCheck %s
// RUN: attn-run %s --entry=aligned --pipeline=naive --random-args --seed=613 --check | FileCheck %s
// RUN: attn-run %s --entry=aligned --pipeline=cpu --cpu-options=scan-chunk=16 --random-args --seed=613 --check | FileCheck %s
// RUN: attn-opt %s --attn-fuse --attn-scan | FileCheck %s --check-prefix=FORM --implicit-check-not=attn.attention
// The gradients (@prefixes_grad, @aligned_grad) take the scan form of the
// backward too (no attn.attention_grad left, no [Sq, Skv] buffer):
// RUN: attn-run %s --entry=prefixes --pipeline=cpu --grad --random-args --seed=614 --check | FileCheck %s
// RUN: attn-run %s --entry=prefixes --pipeline=cpu --cpu-options=vector-width=4 --grad --random-args --seed=615 --check | FileCheck %s
// RUN: attn-run %s --entry=aligned --pipeline=cpu --grad --random-args --seed=616 --check | FileCheck %s
// RUN: attn-opt %s --attn-grad --attn-fuse --attn-scan --canonicalize | FileCheck %s --check-prefix=GRADFORM --implicit-check-not=attn.attention
// CHECK: max_abs_err=
// FORM-COUNT-3: linalg.broadcast {{.*}} tensor<1x4x1x16xf32>
// GRADFORM-LABEL: func.func @prefixes_grad
// GRADFORM-NOT: 70x70xf32>
// GRADFORM: memref.alloc() : memref<1x4x12x16xf32>
// GRADFORM-LABEL: func.func @aligned_grad
// GRADFORM-NOT: 50x90xf32>
// GRADFORM-NOT: 40x25xf32>
// GRADFORM: return

func.func @prefixes(%q: tensor<1x4x16xf32>, %k: tensor<1x2x70x16xf32>, %v: tensor<1x2x70x12xf32>)
    -> (tensor<1x4x70x12xf32>, tensor<1x4x70xf32>) {
  %e = tensor.empty() : tensor<1x4x70x16xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x4x16xf32>) outs(%e : tensor<1x4x70x16xf32>) dimensions = [2]
  %s = attn.score %qb, %k : tensor<1x4x70x16xf32>, tensor<1x2x70x16xf32> -> tensor<1x4x70x70xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x4x70x70xf32>
  %o, %lse = attn.aggregate softmax %m, %v : tensor<1x4x70x70xf32>, tensor<1x2x70x12xf32>
               -> tensor<1x4x70x12xf32>, tensor<1x4x70xf32>
  return %o, %lse : tensor<1x4x70x12xf32>, tensor<1x4x70xf32>
}

func.func @aligned(%q: tensor<1x4x16xf32>, %k: tensor<1x2x90x16xf32>, %v: tensor<1x2x90x12xf32>,
                   %sk: tensor<4xf32>, %k2: tensor<1x2x25x16xf32>, %v2: tensor<1x2x25x12xf32>)
    -> (tensor<1x4x50x12xf32>, tensor<1x4x40x12xf32>) {
  %e = tensor.empty() : tensor<1x4x50x16xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x4x16xf32>) outs(%e : tensor<1x4x50x16xf32>) dimensions = [2]
  %s = attn.score %qb, %k : tensor<1x4x50x16xf32>, tensor<1x2x90x16xf32> -> tensor<1x4x50x90xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x4x50x90xf32>
  %o = attn.aggregate softmax %m, %v sinks(%sk) : tensor<1x4x50x90xf32>, tensor<1x2x90x12xf32>, tensor<4xf32>
         -> tensor<1x4x50x12xf32>
  %e2 = tensor.empty() : tensor<1x4x40x16xf32>
  %qb2 = linalg.broadcast ins(%q : tensor<1x4x16xf32>) outs(%e2 : tensor<1x4x40x16xf32>) dimensions = [2]
  %s2 = attn.score %qb2, %k2 : tensor<1x4x40x16xf32>, tensor<1x2x25x16xf32> -> tensor<1x4x40x25xf32>
  %m2 = attn.mask %s2 [#attn.causal] : tensor<1x4x40x25xf32>
  %o2 = attn.aggregate softmax %m2, %v2 : tensor<1x4x40x25xf32>, tensor<1x2x25x12xf32> -> tensor<1x4x40x12xf32>
  return %o, %o2 : tensor<1x4x50x12xf32>, tensor<1x4x40x12xf32>
}
