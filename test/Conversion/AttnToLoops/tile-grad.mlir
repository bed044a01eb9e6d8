// The tiled backward of attn.attention_grad (attn-tile): a rows pass (Δ),
// then per (batch, K/V head, query part) Q^T and dO^T of the part's query
// tiles and one walk over the key tiles that visits only the query tiles the mask
// analysis does not prove empty -- the first and the last come from binary
// searches on the analysis of blocks of rows -- and a pass that finishes dQ
// and sums the parts' dK and dV. Nothing has the size Sq x Skv: the scratch
// is tile-sized stack buffers.
// RUN: attn-opt %s --split-input-file --attn-tile="tile-q=64 tile-kv=64 vector-width=16" --canonicalize --cse > %t
// RUN: FileCheck %s --input-file=%t
// RUN: FileCheck %s --input-file=%t --check-prefix=NOSQUARE
// NOSQUARE-NOT: ?x?xf32>
// NOSQUARE-NOT: attn.attention_grad

// Causal: the query tiles before the diagonal of key tile [j0, ...] are
// skipped by the first search (rows [0, min(64 n, Sq)) are empty iff their
// last aligned row i'Hi < j0); nothing after it is empty.
// CHECK-LABEL: func.func @causal
// CHECK: %[[NQT:.*]] = arith.ceildivui %[[SQ:.*]], %c64 : index
// CHECK-NEXT: %[[NKT:.*]] = arith.ceildivui %{{.*}}, %c64 : index
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%{{.*}}, %c4, %[[NQT]])
// CHECK: scf.parallel (%[[B:.*]], %[[HK:.*]], %[[PART:.*]]) = (%c0, %c0, %c0) to (%{{.*}}, %c2, %c4)
// CHECK-COUNT-2: memref.alloca() : memref<64x64xf32>
// The part's query tiles (NQT + 3 - part) / 4 of both heads of the group.
// CHECK: %[[TILES:.*]] = arith.divui %{{.*}}, %c4 : index
// CHECK: memref.alloc(%[[TILES]]) : memref<2x?x16x64xf32>
// CHECK: memref.alloc(%[[TILES]]) : memref<2x?x16x64xf32>
// CHECK: scf.for %[[KT:.*]] = %c0 to %[[NKT]] step %c1 {
// CHECK-NEXT: %[[J0:.*]] = arith.muli %[[KT]], %c64 : index
// CHECK: scf.for %[[G:.*]] = %c0 to %c2 step %c1 {
// CHECK: %[[LO:.*]]:2 = scf.while (%{{.*}} = %c0, %{{.*}} = %[[NQT]])
// CHECK: %[[N:.*]] = arith.divui %{{.*}}, %c2 : index
// CHECK-NEXT: %[[END:.*]] = arith.muli %[[N]], %c64 : index
// CHECK-NEXT: %[[ROWS:.*]] = arith.minsi %[[END]], %[[SQ]] : index
// CHECK-NEXT: %[[LAST:.*]] = arith.subi %[[ROWS]], %c1 : index
// CHECK-NEXT: %[[ALIGNED:.*]] = arith.addi %[[LAST]], %[[OFF:.*]] : index
// CHECK-NEXT: %[[EMPTY:.*]] = arith.cmpi slt, %[[ALIGNED]], %[[J0]] : index
// CHECK-NEXT: arith.select %[[EMPTY]], %[[N]], %{{.*}} : index
// CHECK: %[[HI:.*]]:2 = scf.while (%{{.*}} = %[[LO]]#0, %{{.*}} = %[[NQT]])
// CHECK: %[[FIRST:.*]] = arith.addi %[[LO]]#0, %{{.*}} : index
// CHECK-NEXT: scf.for %[[QT:.*]] = %[[FIRST]] to %[[HI]]#0 step %c4 {
// Each visited tile is still classified: full tiles skip the mask.
// CHECK: %[[VISIT:.*]] = arith.cmpi sge, %{{.*}}, %[[J0]] : index
// CHECK-NEXT: scf.if %[[VISIT]] {
// CHECK: %[[PARTIAL:.*]] = arith.cmpi sgt, %{{.*}}, %{{.*}} : index
// CHECK-NEXT: scf.if %[[PARTIAL]] {
// The finishing pass: dQ per query tile, then dK and dV from the 4 parts.
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%{{.*}}, %c4, %[[NQT]])
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%{{.*}}, %c2, %{{.*}})
// CHECK-COUNT-4: vector.load %{{.*}} : memref<4x?x2x?x16xf32>, vector<16xf32>
func.func @causal(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %o: tensor<?x4x?x16xf32>, %do: tensor<?x4x?x16xf32>, %lse: tensor<?x4x?xf32>) -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal] lse(%lse : tensor<?x4x?xf32>) : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
  return %dq, %dk, %dv : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}

// -----

// Sliding window left = 100: the second search stops at the first query
// tile whose rows all lie past the window, i.e. jLast < 64 n + offset - 100.
// CHECK-LABEL: func.func @window
// CHECK: %[[LO:.*]]:2 = scf.while
// CHECK: %[[HI:.*]]:2 = scf.while (%{{.*}} = %[[LO]]#0,
// CHECK: %[[N:.*]] = arith.divui %{{.*}}, %c2 : index
// CHECK-NEXT: %[[START:.*]] = arith.muli %[[N]], %c64 : index
// CHECK: %[[ALIGNED:.*]] = arith.addi %[[START]], %[[OFF:.*]] : index
// CHECK: %[[FROM:.*]] = arith.subi %[[ALIGNED]], %c100 : index
// CHECK-NEXT: %[[PAST:.*]] = arith.cmpi slt, %[[JLAST:.*]], %[[FROM]] : index
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[HI]]#0 step %c4 {
func.func @window(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %o: tensor<?x4x?x16xf32>, %do: tensor<?x4x?x16xf32>, %lse: tensor<?x4x?xf32>) -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.window<left = 100, right = 0>] lse(%lse : tensor<?x4x?xf32>) : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
  return %dq, %dk, %dv : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}

// -----

// No mask: every query tile of the part, no search, no mask, no test.
// CHECK-LABEL: func.func @dense
// CHECK-NOT: scf.while
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %[[PART:.*]]) = (%c0, %c0, %c0) to (%{{.*}}, %c2, %c4)
// CHECK: scf.for %{{.*}} = %[[PART]] to %[[NQT:.*]] step %c4 {
// CHECK-NOT: scf.if
// CHECK: scf.parallel
func.func @dense(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %o: tensor<?x4x?x16xf32>, %do: tensor<?x4x?x16xf32>, %lse: tensor<?x4x?xf32>) -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [] lse(%lse : tensor<?x4x?xf32>) : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
  return %dq, %dk, %dv : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}

// -----

// 32 (batch, K/V head) pairs give every thread work: one part, and dK and
// dV go straight from the stack accumulators to the results (scaled by
// 1/sqrt(16) = 0.25); no partial buffers.
// CHECK-LABEL: func.func @one_part
// CHECK: %[[QUARTER:.*]] = arith.constant dense<2.500000e-01> : vector<16xf32>
// CHECK-NOT: memref<{{[0-9]+}}x4x8x?x16xf32>
// CHECK: scf.parallel (%[[B:.*]], %[[HK:.*]]) = (%c0, %c0) to (%c4, %c8)
// CHECK: scf.for %[[KT:.*]] = %c0 to
// CHECK-NEXT: %[[J0:.*]] = arith.muli %[[KT]], %c64 : index
// CHECK: %[[SCALED:.*]] = arith.mulf %{{.*}}, %[[QUARTER]] : vector<16xf32>
// CHECK-NEXT: %[[J:.*]] = arith.addi %[[J0]], %{{.*}} : index
// CHECK-NEXT: vector.store %[[SCALED]], %{{.*}}[%[[B]], %[[HK]], %[[J]], %c0] : memref<4x8x?x16xf32>
func.func @one_part(%q: tensor<4x8x?x16xf32>, %k: tensor<4x8x?x16xf32>, %v: tensor<4x8x?x16xf32>, %o: tensor<4x8x?x16xf32>, %do: tensor<4x8x?x16xf32>, %lse: tensor<4x8x?xf32>) -> (tensor<4x8x?x16xf32>, tensor<4x8x?x16xf32>, tensor<4x8x?x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal] lse(%lse : tensor<4x8x?xf32>) : tensor<4x8x?x16xf32>, tensor<4x8x?x16xf32>, tensor<4x8x?x16xf32>, tensor<4x8x?x16xf32>, tensor<4x8x?x16xf32> -> tensor<4x8x?x16xf32>, tensor<4x8x?x16xf32>, tensor<4x8x?x16xf32>
  return %dq, %dk, %dv : tensor<4x8x?x16xf32>, tensor<4x8x?x16xf32>, tensor<4x8x?x16xf32>
}

// -----

// @F_grad's shape: the forward's results serve only its gradient, so
// attn-tile does not lower the forward alone; the backward tiles it with an
// epilogue that reduces each f32 output row to Δ = rowsum(dO ∘ O) - dlse
// (0 where lse = -inf) next to lse, in the backward's row buffers. O (a
// 1x8x128x32 buffer) is never allocated.
// CHECK-LABEL: func.func @recomputed
// CHECK-NOT: attn.attention
// CHECK-NOT: memref.alloc() : memref<1x8x128x32xf32>
// CHECK: %[[DELTA:.*]] = memref.alloc() : memref<1x8x128xf32>
// CHECK-NEXT: %[[LSE:.*]] = memref.alloc() : memref<1x8x128xf32>
// CHECK: scf.parallel (%[[H:.*]], %{{.*}}) = (%c0, %c0) to (%c8, %c2)
// CHECK: %[[DOT:.*]] = vector.reduction <add>, %{{.*}} : vector<16xf32> into f32
// CHECK-NEXT: %[[DLSE:.*]] = tensor.extract %{{.*}}[%c0, %[[H]], %[[I:.*]]] : tensor<1x8x128xf32>
// CHECK-NEXT: %[[D:.*]] = arith.subf %[[DOT]], %[[DLSE]] : f32
// CHECK-NEXT: %[[MASKED:.*]] = arith.cmpf oeq, %[[ROWLSE:.*]], %cst{{.*}} : f32
// CHECK-NEXT: %[[KEPT:.*]] = arith.select %[[MASKED]], %cst{{.*}}, %[[D]] : f32
// CHECK-NEXT: memref.store %[[KEPT]], %[[DELTA]][%c0, %[[H]], %[[I]]]
// CHECK-NEXT: memref.store %[[ROWLSE]], %[[LSE]][%c0, %[[H]], %[[I]]]
// CHECK-NOT: memref.alloc() : memref<1x8x128x32xf32>
// CHECK: return
func.func @recomputed(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x32xf32>, %do: tensor<1x8x128x32xf32>, %dlse: tensor<1x8x128xf32>) -> (tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32>) {
  %o, %lse = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32> -> tensor<1x8x128x32xf32>, tensor<1x8x128xf32>
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal] lse(%lse : tensor<1x8x128xf32>) grad_lse(%dlse : tensor<1x8x128xf32>) : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32>, tensor<1x8x128x32xf32>, tensor<1x8x128x32xf32> -> tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32>
  return %dq, %dk, %dv : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32>
}

// -----

// Sigmoid needs nothing of its forward: the forward is dropped.
// CHECK-LABEL: func.func @sigmoid_forward_dropped
// CHECK-NOT: attn.attention
// CHECK-NOT: memref.alloc() : memref<1x8x128x32xf32>
// CHECK: return
func.func @sigmoid_forward_dropped(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x32xf32>, %do: tensor<1x8x128x32xf32>) -> (tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32>) {
  %o = attn.attention sigmoid %q, %k, %v [#attn.causal] : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32> -> tensor<1x8x128x32xf32>
  %dq, %dk, %dv = attn.attention_grad sigmoid %q, %k, %v, %o, %do [#attn.causal] : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32>, tensor<1x8x128x32xf32>, tensor<1x8x128x32xf32> -> tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32>
  return %dq, %dk, %dv : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32>
}

// -----

// Row tiles: one query part (B * Hkv = 8), a recomputed softmax forward and
// no captures. Per K/V head, each query tile of the GQA group walks its
// visible key tiles twice: first S^T and dP^T are computed and kept per key
// tile, with each row's running max when the tile was seen, and the online
// softmax gives lse and Δ; then P = e^{s - m_j} e^{m_j - lse} needs one
// factor per row and key tile. dK and dV accumulate in the results; O (a
// 1x16x128x32 buffer) never exists.
// CHECK-LABEL: func.func @row_tiles
// CHECK-NOT: attn.attention
// CHECK-NOT: memref.alloc() : memref<1x16x128x32xf32>
// CHECK: scf.parallel (%[[HK:.*]]) = (%c0) to (%c8)
// CHECK: %[[S:.*]] = memref.alloc() : memref<128x64xf32>
// CHECK-NEXT: %[[DP:.*]] = memref.alloc() : memref<128x64xf32>
// CHECK-NEXT: %[[MAXAT:.*]] = memref.alloc() : memref<2x64xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 {
// CHECK: memref.subview %[[S]][%[[J0:.*]], 0] [64, 64] [1, 1]
// CHECK-NEXT: memref.subview %[[DP]][%[[J0]], 0] [64, 64] [1, 1]
// CHECK: %[[KT:.*]] = arith.divui %[[J0]], %c64 : index
// CHECK: vector.store %{{.*}}, %[[MAXAT]][%[[KT]], %c0]
// CHECK: memref.subview %[[S]][%[[J1:.*]], 0] [64, 64] [1, 1]
// CHECK: %[[KT1:.*]] = arith.divui %[[J1]], %c64 : index
// CHECK: vector.load %[[MAXAT]][%[[KT1]], %c0]
// CHECK-NOT: memref.alloc() : memref<1x16x128x32xf32>
// CHECK: return
func.func @row_tiles(%q: tensor<1x16x128x64xf32>, %k: tensor<1x8x128x64xf32>, %v: tensor<1x8x128x32xf32>, %do: tensor<1x16x128x32xf32>) -> (tensor<1x16x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x32xf32>) {
  %o, %lse = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x16x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x32xf32> -> tensor<1x16x128x32xf32>, tensor<1x16x128xf32>
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal] lse(%lse : tensor<1x16x128xf32>) : tensor<1x16x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x32xf32>, tensor<1x16x128x32xf32>, tensor<1x16x128x32xf32> -> tensor<1x16x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x32xf32>
  return %dq, %dk, %dv : tensor<1x16x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x32xf32>
}
