// A9 — sparse normalisation: α-entmax and sparsemax (ARM-Net's sparse
// attention, adaptively sparse transformers). Low scores get exactly zero
// weight. 1.5-entmax over causally masked cross attention (Sq = 21 > Skv =
// 17: the first rows are fully masked and must come out 0), sparsemax
// (α = 2) under a sliding window and α = 3 and α = 1.2 over whole rows, GQA
// Hq = 4, Hkv = 2, f16 values. attn-fuse fuses the four aggregate chains:
// the cpu pipeline runs them in the whole-row tiled form, gpu-emulated in
// the naive form. The weights themselves (attn.normalize, whose chain is not
// fused) run in the naive form everywhere.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=91 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=91 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=92 --check | FileCheck %s
// RUN: attn-run %s --pipeline=gpu-emulated --random-args --seed=93 --check | FileCheck %s
// RUN: attn-opt %s --attn-fuse | FileCheck %s --check-prefix=FUSED
// CHECK: max_abs_err=
// FUSED-COUNT-4: attn.attention entmax
// FUSED: attn.normalize entmax

func.func @entmax(%q: tensor<2x4x21x16xf32>, %k: tensor<2x2x17x16xf32>,
                  %v: tensor<2x2x17x8xf16>)
    -> (tensor<2x4x21x8xf16>, tensor<2x4x21x8xf16>, tensor<2x4x21x8xf16>,
        tensor<2x4x21x8xf16>, tensor<2x4x21x17xf32>) {
  %s = attn.score %q, %k : tensor<2x4x21x16xf32>, tensor<2x2x17x16xf32> -> tensor<2x4x21x17xf32>
  %m = attn.mask %s [#attn.causal] : tensor<2x4x21x17xf32>
  %o = attn.aggregate entmax %m, %v {alpha = 1.5 : f32} : tensor<2x4x21x17xf32>, tensor<2x2x17x8xf16> -> tensor<2x4x21x8xf16>
  %mw = attn.mask %s [#attn.window<left = 6, right = 2>] : tensor<2x4x21x17xf32>
  %o2 = attn.aggregate entmax %mw, %v {alpha = 2.0 : f32} : tensor<2x4x21x17xf32>, tensor<2x2x17x8xf16> -> tensor<2x4x21x8xf16>
  %o3 = attn.aggregate entmax %s, %v {alpha = 3.0 : f32} : tensor<2x4x21x17xf32>, tensor<2x2x17x8xf16> -> tensor<2x4x21x8xf16>
  %o4 = attn.aggregate entmax %s, %v {alpha = 1.2 : f32} : tensor<2x4x21x17xf32>, tensor<2x2x17x8xf16> -> tensor<2x4x21x8xf16>
  %s2 = attn.score %q, %k : tensor<2x4x21x16xf32>, tensor<2x2x17x16xf32> -> tensor<2x4x21x17xf32>
  %m2 = attn.mask %s2 [#attn.causal] : tensor<2x4x21x17xf32>
  %p2 = attn.normalize entmax %m2 {alpha = 2.0 : f32} : tensor<2x4x21x17xf32> -> tensor<2x4x21x17xf32>
  return %o, %o2, %o3, %o4, %p2 : tensor<2x4x21x8xf16>, tensor<2x4x21x8xf16>, tensor<2x4x21x8xf16>, tensor<2x4x21x8xf16>, tensor<2x4x21x17xf32>
}
