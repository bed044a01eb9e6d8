// The GPU form of attn-gpu-tile: one gpu.launch over (query tile, head,
// batch) blocks of block-q threads (one query row each; D = 16 < 128, so one
// thread per row), K and V tiles of
// block-kv keys staged in shared memory (f32) between barriers, the tile
// scores in a private buffer, the accumulator a vector over Dv. The key
// range and the empty/full class of each key tile come from the mask
// analysis: causal with Sq = 33 < Skv = 40 lets query tile [0, 32) see keys
// [0, 39) only. Masks with run-time data are evaluated per element; csr and
// indices masks are left for the gather form.
// RUN: attn-opt %s --split-input-file --attn-gpu-tile="block-q=32 block-kv=16 row-threads=1" --canonicalize --cse | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-gpu-tile="block-q=32 block-kv=16 row-threads=2" --canonicalize --cse | FileCheck %s --check-prefix=TWO

// CHECK-LABEL: func.func @causal
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<1x2x33x8xf32>
// CHECK: %[[LSE:.*]] = memref.alloc() : memref<1x2x33xf32>
// CHECK: gpu.launch blocks(%[[QT:[a-z0-9]+]], %[[H:[a-z0-9]+]], %{{[a-z0-9]+}}) in (%{{[a-z0-9]+}} = %c2, %{{[a-z0-9]+}} = %c2, %{{[a-z0-9]+}} = %c1)
// CHECK-SAME: threads(%[[T:[a-z0-9]+]], %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) in (%{{[a-z0-9]+}} = %c32, %{{[a-z0-9]+}} = %c1, %{{[a-z0-9]+}} = %c1)
// CHECK-SAME: workgroup(%[[KS:[a-z0-9]+]] : memref<16x16xf32, #gpu.address_space<workgroup>>, %[[VS:[a-z0-9]+]] : memref<16x8xf32, #gpu.address_space<workgroup>>)
// CHECK-SAME: private(%[[SC:[a-z0-9]+]] : memref<16xf32, #gpu.address_space<private>>)
// The block's last visible key: min(i0 + 32, 33) + 7 (the causal offset).
// CHECK: %[[I0:.*]] = arith.muli %[[QT]], %c32
// CHECK: %[[ROW:.*]] = arith.addi %[[I0]], %[[T]]
// CHECK: %[[VALID:.*]] = arith.cmpi ult, %[[ROW]], %c33
// CHECK: scf.for %[[J0:.*]] = %c0 to %{{.*}} step %c16 iter_args({{.*}}) -> (f32, f32, vector<8xf32>)
// CHECK: %[[EMPTY:.*]] = arith.cmpi slt, %{{.*}}, %[[J0]]
// CHECK: %[[FULL:.*]] = arith.cmpi sle
// CHECK: scf.if %[[EMPTY]] -> (f32, f32, vector<8xf32>) {
// CHECK-NEXT: scf.yield
// CHECK: } else {
// CHECK: scf.for %{{.*}} = %[[T]] to %{{.*}} step %c32
// CHECK: memref.store %{{.*}}, %[[KS]]
// CHECK: scf.for %{{.*}} = %[[T]] to %{{.*}} step %c32
// CHECK: memref.store %{{.*}}, %[[VS]]
// CHECK: gpu.barrier
// CHECK: vector.load %[[KS]]
// CHECK: vector.reduction <add>
// CHECK: scf.if %[[FULL]] -> (i1)
// CHECK: memref.store %{{.*}}, %[[SC]]
// CHECK: math.exp
// CHECK: vector.load %[[VS]]
// CHECK: math.fma
// CHECK: gpu.barrier
// CHECK: scf.if %[[VALID]] {
// CHECK: vector.store %{{.*}}, %[[OUT]]
// CHECK: memref.store %{{.*}}, %[[LSE]]
// CHECK: gpu.terminator
func.func @causal(%q: tensor<1x2x33x16xf32>, %k: tensor<1x1x40x16xf32>, %v: tensor<1x1x40x8xf32>)
    -> (tensor<1x2x33x8xf32>, tensor<1x2x33xf32>) {
  %o, %lse = attn.attention softmax %q, %k, %v [#attn.causal]
      : tensor<1x2x33x16xf32>, tensor<1x1x40x16xf32>, tensor<1x1x40x8xf32>
      -> tensor<1x2x33x8xf32>, tensor<1x2x33xf32>
  return %o, %lse : tensor<1x2x33x8xf32>, tensor<1x2x33xf32>
}

// -----

// A block mask is run-time data: per key tile the block reads the mask
// blocks the tile overlaps -- none kept: the tile is skipped (not even
// staged); all kept: the mask is not evaluated per element; else each
// element reads the mask.
// CHECK-LABEL: func.func @block_mask
// CHECK: gpu.launch
// CHECK: scf.for %[[J0:.*]] = %c0 to %c64 step %c16
// CHECK: %[[ANYALL:.*]]:2 = scf.for {{.*}} -> (i1, i1)
// CHECK: scf.for {{.*}} -> (i1, i1)
// CHECK: %[[KEPT:.*]] = tensor.extract %arg2
// CHECK: arith.ori %{{.*}}, %[[KEPT]]
// CHECK: arith.andi %{{.*}}, %[[KEPT]]
// CHECK: scf.if %[[ANYALL]]#0 -> (f32, f32, vector<16xf32>)
// CHECK: gpu.barrier
// CHECK: scf.if %[[ANYALL]]#1 -> (i1)
// CHECK: } else {
// CHECK: tensor.extract %arg2
// CHECK: gpu.terminator
func.func @block_mask(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>, %bm: tensor<1x2x2x2xi1>)
    -> tensor<1x2x64x16xf32> {
  %o = attn.attention softmax %q, %k, %k [#attn.block_mask<block_q = 32, block_kv = 32>] (%bm : tensor<1x2x2x2xi1>)
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>
  return %o : tensor<1x2x64x16xf32>
}

// -----

// CHECK-LABEL: func.func @csr
// CHECK-NOT: gpu.launch
// CHECK: attn.attention
func.func @csr(%q: tensor<1x1x4x16xf32>, %k: tensor<1x1x4x16xf32>, %rp: tensor<5xi32>, %ci: tensor<6xi32>)
    -> tensor<1x1x4x16xf32> {
  %o = attn.attention softmax %q, %k, %k [#attn.csr] (%rp, %ci : tensor<5xi32>, tensor<6xi32>)
      : tensor<1x1x4x16xf32>, tensor<1x1x4x16xf32>, tensor<1x1x4x16xf32> -> tensor<1x1x4x16xf32>
  return %o : tensor<1x1x4x16xf32>
}

// -----

// Segments (packed documents) classify tiles at run time too: the query
// tile's id range is computed once per block, each key tile's per tile;
// disjoint ranges skip the tile, one shared id makes it full.
// CHECK-LABEL: func.func @documents
// CHECK: gpu.launch
// CHECK: scf.for {{.*}} -> (i32, i32)
// CHECK: tensor.extract %arg2
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c16
// CHECK: scf.for {{.*}} -> (i32, i32)
// CHECK: tensor.extract %arg3
// CHECK: arith.cmpi slt
// CHECK: arith.cmpi slt
// CHECK: scf.if
// CHECK: gpu.barrier
func.func @documents(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>, %qs: tensor<1x64xi32>, %ks: tensor<1x64xi32>)
    -> tensor<1x2x64x16xf32> {
  %o = attn.attention softmax %q, %k, %k [#attn.causal, #attn.segments] (%qs, %ks : tensor<1x64xi32>, tensor<1x64xi32>)
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>
  return %o : tensor<1x2x64x16xf32>
}

// -----

// Two threads per row (row-threads=2; the default from D = 128): each holds
// half of q and of the accumulator, and one xor shuffle sums the partial
// scores; 32 rows make 64 threads.
// TWO-LABEL: func.func @row_threads
// TWO: gpu.launch {{.*}} threads({{.*}}) in (%{{[a-z0-9]+}} = %c64,
// TWO: vector.load %{{.*}} : memref<1x2x40x16xf32>, vector<8xf32>
// TWO: vector.reduction <add>, %{{.*}} : vector<8xf32> into f32
// TWO: gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32 : f32
// TWO: vector.store %{{.*}} : memref<1x2x40x16xf32>, vector<8xf32>
func.func @row_threads(%q: tensor<1x2x40x16xf32>, %k: tensor<1x2x40x16xf32>)
    -> tensor<1x2x40x16xf32> {
  %o = attn.attention softmax %q, %k, %k [#attn.causal]
      : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32> -> tensor<1x2x40x16xf32>
  return %o : tensor<1x2x40x16xf32>
}
