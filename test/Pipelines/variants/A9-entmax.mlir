// A9 — sparse normalisation: α-entmax and sparsemax (ARM-Net's sparse
// attention, adaptively sparse transformers). 1.5-entmax over causally
// masked cross attention (Sq = 21 > Skv = 17: the first rows are fully
// masked and must come out 0), sparsemax (α = 2) and α = 3 distributions,
// GQA Hq = 4, Hkv = 2, f16 values. Low scores get exactly zero weight.
// attn-fuse leaves entmax unfused: every pipeline runs the naive form.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=91 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=91 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=92 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @entmax(%q: tensor<2x4x21x16xf32>, %k: tensor<2x2x17x16xf32>,
                  %v: tensor<2x2x17x8xf16>)
    -> (tensor<2x4x21x8xf16>, tensor<2x4x21x17xf32>, tensor<2x4x21x17xf32>) {
  %s = attn.score %q, %k : tensor<2x4x21x16xf32>, tensor<2x2x17x16xf32> -> tensor<2x4x21x17xf32>
  %m = attn.mask %s [#attn.causal] : tensor<2x4x21x17xf32>
  %o = attn.aggregate entmax %m, %v {alpha = 1.5 : f32} : tensor<2x4x21x17xf32>, tensor<2x2x17x8xf16> -> tensor<2x4x21x8xf16>
  %p2 = attn.normalize entmax %m {alpha = 2.0 : f32} : tensor<2x4x21x17xf32> -> tensor<2x4x21x17xf32>
  %p3 = attn.normalize entmax %s {alpha = 3.0 : f32} : tensor<2x4x21x17xf32> -> tensor<2x4x21x17xf32>
  return %o, %p2, %p3 : tensor<2x4x21x8xf16>, tensor<2x4x21x17xf32>, tensor<2x4x21x17xf32>
}
