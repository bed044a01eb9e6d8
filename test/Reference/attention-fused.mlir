// The reference interpreter gives the fused attn.attention exactly (bit for
// bit) what it gives the graph attn.score -> attn.score_mod -> attn.mask ->
// attn.aggregate it stands for. Configuration: softmax with lse, GQA Hq = 4 /
// Hkv = 2, explicit scale, a score_mod reading a captured tensor, aligned
// causal with Sq = 19 > Skv = 14 (rows i < 5 see no key: output 0, lse -inf)
// intersected with a batch-broadcast block_mask operand, and a predicate.
//
// RUN: attn-run %s --pipeline=reference --random-args --seed=7 --out=%t.0.npy --out=%t.1.npy --out=%t.2.npy --out=%t.3.npy
// RUN: %python -c "import numpy as n; o,go,l,gl=[n.load('%t.'+str(i)+'.npy') for i in range(4)]; assert o.shape==go.shape==(2,4,19,6) and l.shape==gl.shape==(2,4,19); assert n.array_equal(o,go,equal_nan=True) and n.array_equal(l,gl,equal_nan=True); assert n.isneginf(l[:,:,:5]).all() and (o[:,:,:5]==0).all() and n.isfinite(l[:,:,5:]).any(); print('fused == graph')" | FileCheck %s
// RUN: attn-run %s --pipeline=reference --random-args --seed=8 --out=%t.0.npy --out=%t.1.npy --out=%t.2.npy --out=%t.3.npy
// RUN: %python -c "import numpy as n; o,go,l,gl=[n.load('%t.'+str(i)+'.npy') for i in range(4)]; assert n.array_equal(o,go,equal_nan=True) and n.array_equal(l,gl,equal_nan=True); print('fused == graph')" | FileCheck %s
// CHECK: fused == graph

func.func @fused_vs_graph(%q: tensor<2x4x19x8xf32>, %k: tensor<2x2x14x8xf32>,
                          %v: tensor<2x2x14x6xf32>, %bm: tensor<1x4x5x4xi1>,
                          %bias: tensor<2x4x19x14xf32>)
    -> (tensor<2x4x19x6xf32>, tensor<2x4x19x6xf32>, tensor<2x4x19xf32>,
        tensor<2x4x19xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.causal, #attn.block_mask<block_q = 4, block_kv = 4>]
      (%bm : tensor<1x4x5x4xi1>) {scale = 0.5 : f32}
      : tensor<2x4x19x8xf32>, tensor<2x2x14x8xf32>, tensor<2x2x14x6xf32> -> tensor<2x4x19x6xf32>, tensor<2x4x19xf32>
    score_mod {
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %e = tensor.extract %bias[%b, %h, %i, %j] : tensor<2x4x19x14xf32>
      %y = arith.addf %x, %e : f32
      %t = math.tanh %y : f32
      attn.yield %t : f32
    }
    mask {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      // Key j is visible unless (i + j + h) is a multiple of 5.
      %ij = arith.addi %i, %j : index
      %s = arith.addi %ij, %h : index
      %c5 = arith.constant 5 : index
      %r = arith.remui %s, %c5 : index
      %c0 = arith.constant 0 : index
      %keep = arith.cmpi ne, %r, %c0 : index
      attn.yield %keep : i1
    }

  %s = attn.score %q, %k {scale = 0.5 : f32} : tensor<2x4x19x8xf32>, tensor<2x2x14x8xf32> -> tensor<2x4x19x14xf32>
  %sm = attn.score_mod %s : tensor<2x4x19x14xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %e = tensor.extract %bias[%b, %h, %i, %j] : tensor<2x4x19x14xf32>
    %y = arith.addf %x, %e : f32
    %t = math.tanh %y : f32
    attn.yield %t : f32
  }
  %m = attn.mask %sm [#attn.causal, #attn.block_mask<block_q = 4, block_kv = 4>] (%bm)
      : tensor<2x4x19x14xf32>, tensor<1x4x5x4xi1> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %ij = arith.addi %i, %j : index
    %s2 = arith.addi %ij, %h : index
    %c5 = arith.constant 5 : index
    %r = arith.remui %s2, %c5 : index
    %c0 = arith.constant 0 : index
    %keep = arith.cmpi ne, %r, %c0 : index
    attn.yield %keep : i1
  }
  %go, %gl = attn.aggregate softmax %m, %v : tensor<2x4x19x14xf32>, tensor<2x2x14x6xf32> -> tensor<2x4x19x6xf32>, tensor<2x4x19xf32>
  return %o, %go, %l, %gl : tensor<2x4x19x6xf32>, tensor<2x4x19x6xf32>, tensor<2x4x19xf32>, tensor<2x4x19xf32>
}
