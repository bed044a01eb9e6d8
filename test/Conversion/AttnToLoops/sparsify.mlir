// The sparse forms of attn-sparsify: the run-time key-tile lists of the
// block-sparse form (block masks read at their own block size; segment ids
// sorted into runs, then reduced to per-key-tile ranges), the gather form of
// CSR masks, and ops without a sparse mask left to attn-tile.
// RUN: attn-opt %s --split-input-file --attn-sparsify="tile-q=64 tile-kv=64 vector-width=16" --canonicalize --cse | FileCheck %s

// CHECK-LABEL: func.func @block_sparse
// CHECK-SAME: %[[BM:[a-z0-9]+]]: tensor<1x1x?x?xi1>
// Compaction: per (head, query tile) the count and the list of key tiles.
// CHECK: %[[COUNTS:.*]] = memref.alloc(%{{.*}}) : memref<1x2x?xi32>
// CHECK: %[[TILES:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<1x2x?x?xi32>
// CHECK: scf.parallel
// The 32x128 blocks that meet a 64x64 tile: any kept -> visit, all -> full.
// CHECK: arith.divui %{{.*}}, %c32
// CHECK: arith.divui %{{.*}}, %c128
// CHECK: scf.for
// CHECK: scf.for
// CHECK: tensor.extract %[[BM]]
// CHECK: arith.ori
// CHECK: arith.andi
// Entries are kt * 4 + state, appended in order.
// CHECK: arith.muli %{{.*}}, %c4
// CHECK: memref.store %{{.*}}, %[[TILES]]
// CHECK: memref.store %{{.*}}, %[[COUNTS]]
// The kernel walks the list of its query tile.
// CHECK: scf.parallel
// CHECK: %[[N:.*]] = memref.load %[[COUNTS]]
// CHECK: %[[NI:.*]] = arith.index_cast %[[N]]
// CHECK: scf.for %{{.*}} = %c0 to %[[NI]]
// CHECK: %[[CODE:.*]] = memref.load %[[TILES]]
// CHECK: %[[CODEI:.*]] = arith.index_cast %[[CODE]]
// CHECK: arith.divui %[[CODEI]], %c4
// CHECK: arith.remui %[[CODEI]], %c4
// CHECK-NOT: attn.attention
func.func @block_sparse(%q: tensor<1x2x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>, %bm: tensor<1x1x?x?xi1>) -> tensor<1x2x?x64xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal, #attn.block_mask<block_q = 32, block_kv = 128>] (%bm : tensor<1x1x?x?xi1>) : tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32> -> tensor<1x2x?x64xf32>
  return %o : tensor<1x2x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @documents
// CHECK-SAME: %[[QS:[a-z0-9]+]]: tensor<2x?xi32>, %[[KS:[a-z0-9]+]]: tensor<2x?xi32>
// The order of queries and keys by id: the identity when the ids are sorted
// (packed documents), else a stable radix sort (buckets).
// CHECK: %[[QORD:.*]] = memref.alloc(%{{.*}}) : memref<2x1x?xi32>
// CHECK: %[[KORD:.*]] = memref.alloc(%{{.*}}) : memref<2x1x?xi32>
// CHECK: %[[INORDER:.*]] = memref.alloc() : memref<2x1xi1>
// CHECK: scf.parallel
// CHECK: arith.cmpi sle
// CHECK: scf.if
// CHECK: memref.alloca() : memref<257xindex>
// CHECK: arith.xori %{{.*}}, %c-2147483648_i32
// CHECK: memref.store %{{.*}}, %[[INORDER]]
// One pass over the keys in that order: [min, max] of each key tile's ids.
// CHECK: %[[KMIN:.*]] = memref.alloc(%{{.*}}) : memref<2x1x?xi32>
// CHECK: %[[KMAX:.*]] = memref.alloc(%{{.*}}) : memref<2x1x?xi32>
// CHECK: scf.parallel
// CHECK: memref.load %[[KORD]]
// CHECK: tensor.extract %[[KS]]
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: memref.store %{{.*}}, %[[KMIN]]
// CHECK: memref.store %{{.*}}, %[[KMAX]]
// Per query tile its id range; disjoint ranges are never listed; the causal
// bounds count only where the ids were in order.
// CHECK: scf.parallel
// CHECK: memref.load %[[QORD]]
// CHECK: tensor.extract %[[QS]]
// CHECK: memref.load %[[INORDER]]
// CHECK: scf.for
// CHECK: memref.load %[[KMIN]]
// CHECK: memref.load %[[KMAX]]
// CHECK: arith.cmpi slt
// CHECK: arith.cmpi slt
// The kernel reads its query rows through the order.
// CHECK: scf.parallel
// CHECK: memref.load %[[QORD]]
// CHECK-NOT: attn.attention
func.func @documents(%q: tensor<2x2x?x32xf32>, %k: tensor<2x2x?x32xf32>, %v: tensor<2x2x?x32xf32>, %qs: tensor<2x?xi32>, %ks: tensor<2x?xi32>) -> tensor<2x2x?x32xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal, #attn.segments] (%qs, %ks : tensor<2x?xi32>, tensor<2x?xi32>) : tensor<2x2x?x32xf32>, tensor<2x2x?x32xf32>, tensor<2x2x?x32xf32> -> tensor<2x2x?x32xf32>
  return %o : tensor<2x2x?x32xf32>
}

// -----

// The gather form: per (head, query) a loop over the row's CSR neighbours
// only, in chunks of 64, carrying the online-softmax state (max, sum, two
// accumulator vectors): the chunk's scores (the causal pattern checked per
// visited key), then one max and vector exps, then P V.
// CHECK-LABEL: func.func @graph
// CHECK-SAME: %[[RP:[a-z0-9]+]]: tensor<?xi32>, %[[COLS:[a-z0-9]+]]: tensor<?xi32>
// CHECK-NOT: memref.alloc(%{{.*}}, %{{.*}})
// CHECK: scf.parallel (%[[H:.*]], %[[I:.*]]) =
// CHECK: %[[LO:.*]] = tensor.extract %[[RP]][%[[I]]]
// CHECK: %[[LOI:.*]] = arith.index_cast %[[LO]]
// CHECK: %[[HI:.*]] = tensor.extract %[[RP]]
// CHECK: %[[HII:.*]] = arith.index_cast %[[HI]]
// CHECK: %[[S:.*]] = memref.alloca() : memref<64xf32>
// CHECK: scf.for %{{.*}} = %[[LOI]] to %[[HII]] step %c64 iter_args({{.*}}) -> (f32, f32, vector<16xf32>, vector<16xf32>)
// CHECK: scf.for
// CHECK: tensor.extract %[[COLS]]
// CHECK: vector.reduction <add>
// CHECK: arith.cmpi sle
// CHECK: memref.store %{{.*}}, %[[S]]
// CHECK: vector.reduction <maximumf>
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>)
// CHECK: math.fma
// CHECK-NOT: attn.attention
func.func @graph(%q: tensor<1x2x?x32xf32>, %k: tensor<1x1x?x32xf32>, %v: tensor<1x1x?x32xf32>, %rp: tensor<?xi32>, %cols: tensor<?xi32>) -> tensor<1x2x?x32xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.csr, #attn.causal] (%rp, %cols : tensor<?xi32>, tensor<?xi32>) : tensor<1x2x?x32xf32>, tensor<1x1x?x32xf32>, tensor<1x1x?x32xf32> -> tensor<1x2x?x32xf32>
  return %o : tensor<1x2x?x32xf32>
}

// -----

// Mixture-of-heads rows: per (batch, head) the live rows first (a stable
// partition), then lists over query tiles of that order; the kernel reads
// its query rows through the order.
// CHECK-LABEL: func.func @heads
// CHECK-SAME: %[[ROWS:[a-z0-9]+]]: tensor<1x4x?xi1>
// CHECK: %[[ORDER:.*]] = memref.alloc(%{{.*}}) : memref<1x4x?xi32>
// CHECK: scf.parallel
// CHECK: tensor.extract %[[ROWS]]
// CHECK: arith.index_castui
// CHECK: tensor.extract %[[ROWS]]
// CHECK: %[[DST:.*]] = arith.select
// CHECK: memref.store %{{.*}}, %[[ORDER]][%{{.*}}, %{{.*}}, %[[DST]]]
// CHECK: scf.parallel
// CHECK: memref.load %[[ORDER]]
// CHECK: tensor.extract %[[ROWS]]
// CHECK: scf.parallel
// CHECK: memref.load %[[ORDER]]
// CHECK-NOT: attn.attention
func.func @heads(%q: tensor<1x4x?x32xf32>, %k: tensor<1x4x?x32xf32>, %v: tensor<1x4x?x32xf32>, %r: tensor<1x4x?xi1>) -> tensor<1x4x?x32xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal, #attn.rows] (%r : tensor<1x4x?xi1>) : tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32> -> tensor<1x4x?x32xf32>
  return %o : tensor<1x4x?x32xf32>
}

// -----

// Per-query key lists (#attn.indices): the gather form over the row's 8
// slots (none when Skv = 0: a masked slot still reads key 0); a slot counts
// if its key is valid and not listed in an earlier slot.
// CHECK-LABEL: func.func @topk
// CHECK-SAME: %[[IDX:[a-z0-9]+]]: tensor<1x2x?x8xi32>
// CHECK: %[[SKV:.*]] = tensor.dim %arg1, %c2
// CHECK: %[[NOKEYS:.*]] = arith.cmpi eq, %[[SKV]], %c0 : index
// CHECK: %[[SLOTS:.*]] = arith.select %[[NOKEYS]], %c0, %c8 : index
// CHECK: scf.parallel
// CHECK: scf.for %[[E0:.*]] = %c0 to %[[SLOTS]] step %c64
// CHECK: scf.for %[[T:.*]] = %c0 to
// CHECK: %[[SLOT:.*]] = arith.addi %[[E0]], %[[T]]
// CHECK: tensor.extract %[[IDX]]{{.*}}%[[SLOT]]]
// CHECK: arith.cmpi sge
// CHECK: arith.cmpi slt
// CHECK: scf.for %{{.*}} = %c0 to %[[SLOT]]
// CHECK: arith.cmpi eq
// CHECK: vector.reduction <add>
// CHECK-NOT: attn.attention
func.func @topk(%q: tensor<1x2x?x32xf32>, %k: tensor<1x2x?x32xf32>, %v: tensor<1x2x?x32xf32>, %idx: tensor<1x2x?x8xi32>) -> tensor<1x2x?x32xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.indices] (%idx : tensor<1x2x?x8xi32>) : tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32> -> tensor<1x2x?x32xf32>
  return %o : tensor<1x2x?x32xf32>
}

// -----

// select_topk fused with its scores: per (head, query) one pass over the keys
// computing each score (dot product) and inserting it into the row's sorted
// top-k buffer; no score tensor is built.
// CHECK-LABEL: func.func @topk_scores
// CHECK-NOT: attn.score
// CHECK-NOT: attn.select_topk
// CHECK: scf.parallel
// CHECK: %[[VALS:.*]] = memref.alloca() : memref<4xf32>
// CHECK: scf.for {{.*}} -> (index)
// CHECK: vector.reduction <add>
// CHECK: arith.cmpf ogt
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[VALS]]
func.func @topk_scores(%q: tensor<1x2x?x32xf32>, %k: tensor<1x1x?x32xf32>) -> tensor<1x2x?x4xi32> {
  %s = attn.score %q, %k : tensor<1x2x?x32xf32>, tensor<1x1x?x32xf32> -> tensor<1x2x?x?xf32>
  %i = attn.select_topk %s {top_k = 4} : tensor<1x2x?x?xf32> -> tensor<1x2x?x4xi32>
  return %i : tensor<1x2x?x4xi32>
}

// -----

// Static masks are attn-tile's.
// CHECK-LABEL: func.func @static_mask
// CHECK: attn.attention softmax
func.func @static_mask(%q: tensor<1x2x?x32xf32>, %k: tensor<1x2x?x32xf32>, %v: tensor<1x2x?x32xf32>) -> tensor<1x2x?x32xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32> -> tensor<1x2x?x32xf32>
  return %o : tensor<1x2x?x32xf32>
}
