// Selection ops are piecewise constant: nothing flows through their integer
// outputs, so the tensors only they read (centroids, planes, block
// representatives) get gradients that are exactly 0, while the scores they
// select among still carry gradients through the mask and aggregation.
// Finite differences agree (a selection that flips inside [x - h, x + h]
// would be a jump, skipped by the checker; random data has none here).
//
// RUN: attn-run %s --entry=topk --pipeline=reference --grad --random-args --seed=1 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=blocks --pipeline=reference --grad --random-args --seed=2 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=routing --pipeline=reference --grad --random-args --seed=3 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=buckets --pipeline=reference --grad --random-args --seed=4 --fd-check=16 | FileCheck %s
// CHECK: max_fd_err={{[0-9.]+e[-+][0-9]+}} fd_samples=16 fd_skipped=0
//
// RUN: attn-run %s --entry=blocks --pipeline=reference --grad --random-args --seed=2 --out=%t.q.npy --out=%t.k.npy --out=%t.v.npy --out=%t.reps.npy
// RUN: attn-run %s --entry=routing --pipeline=reference --grad --random-args --seed=3 --out=%t.x.npy --out=%t.v2.npy --out=%t.centroids.npy
// RUN: attn-run %s --entry=buckets --pipeline=reference --grad --random-args --seed=4 --out=%t.x3.npy --out=%t.v3.npy --out=%t.planes.npy
// RUN: %python -c "import numpy as n; z=[n.load('%t.'+f+'.npy') for f in ('reps','centroids','planes')]; g=[n.load('%t.'+f+'.npy') for f in ('q','k','v','x','v2','x3','v3')]; assert all((a==0).all() and not n.signbit(a).any() for a in z); assert all(n.isfinite(a).all() and (a!=0).any() for a in g); print('selection inputs: zero gradients')" | FileCheck %s --check-prefix=ZERO
// ZERO: selection inputs: zero gradients

// Top-3 keys per query by score, the scores then masked to them.
func.func @topk(%q: tensor<1x2x7x4xf32>, %k: tensor<1x2x9x4xf32>,
                %v: tensor<1x2x9x3xf32>) -> tensor<1x2x7x3xf32> {
  %s = attn.score %q, %k : tensor<1x2x7x4xf32>, tensor<1x2x9x4xf32> -> tensor<1x2x7x9xf32>
  %idx = attn.select_topk %s {top_k = 3} : tensor<1x2x7x9xf32> -> tensor<1x2x7x3xi32>
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x2x7x9xf32>, tensor<1x2x7x3xi32>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x7x9xf32>, tensor<1x2x9x3xf32> -> tensor<1x2x7x3xf32>
  return %o : tensor<1x2x7x3xf32>
}

// Block selection from key-block representatives that nothing else reads.
func.func @blocks(%q: tensor<1x2x10x4xf32>, %k: tensor<1x2x12x4xf32>,
                  %v: tensor<1x2x12x3xf32>, %reps: tensor<1x2x3x4xf32>)
    -> tensor<1x2x10x3xf32> {
  %bm = attn.select_blocks %q, %k reps(%reps) {block_q = 4, block_kv = 4, top_k = 2, pool = "mean", causal}
      : tensor<1x2x10x4xf32>, tensor<1x2x12x4xf32>, tensor<1x2x3x4xf32> -> tensor<1x2x3x3xi1>
  %s = attn.score %q, %k : tensor<1x2x10x4xf32>, tensor<1x2x12x4xf32> -> tensor<1x2x10x12xf32>
  %m = attn.mask %s [#attn.causal, #attn.block_mask<block_q = 4, block_kv = 4>] (%bm)
      : tensor<1x2x10x12xf32>, tensor<1x2x3x3xi1>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x10x12xf32>, tensor<1x2x12x3xf32> -> tensor<1x2x10x3xf32>
  return %o : tensor<1x2x10x3xf32>
}

// Routing: tokens attend within their nearest centroid's cluster.
func.func @routing(%x: tensor<1x2x8x4xf32>, %v: tensor<1x2x8x3xf32>,
                   %centroids: tensor<2x3x4xf32>) -> tensor<1x2x8x3xf32> {
  %c = attn.cluster %x, %centroids : tensor<1x2x8x4xf32>, tensor<2x3x4xf32> -> tensor<1x2x8xi32>
  %s = attn.score %x, %x : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x8x8xf32>
  %m = attn.mask %s [#attn.segments] (%c, %c) : tensor<1x2x8x8xf32>, tensor<1x2x8xi32>, tensor<1x2x8xi32>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x8x8xf32>, tensor<1x2x8x3xf32> -> tensor<1x2x8x3xf32>
  return %o : tensor<1x2x8x3xf32>
}

// LSH buckets (Reformer), causal within a bucket; the bucket ids are an
// integer result and take no cotangent.
func.func @buckets(%x: tensor<1x2x8x4xf32>, %v: tensor<1x2x8x3xf32>,
                   %planes: tensor<4x2xf32>)
    -> (tensor<1x2x8x3xf32>, tensor<1x2x8xi32>) {
  %b = attn.lsh %x, %planes : tensor<1x2x8x4xf32>, tensor<4x2xf32> -> tensor<1x2x8xi32>
  %s = attn.score %x, %x : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x8x8xf32>
  %m = attn.mask %s [#attn.causal, #attn.segments] (%b, %b) : tensor<1x2x8x8xf32>, tensor<1x2x8xi32>, tensor<1x2x8xi32>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x8x8xf32>, tensor<1x2x8x3xf32> -> tensor<1x2x8x3xf32>
  return %o, %b : tensor<1x2x8x3xf32>, tensor<1x2x8xi32>
}
