// The tiled backward of attn.attention_grad (attn-tile): a rows pass (Δ,
// Q^T and dO^T per query tile), then one walk over the key tiles per
// (batch, K/V head, query part) that visits only the query tiles the mask
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
// CHECK: memref.alloc({{.*}}) : memref<?x4x?x16x64xf32>
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%{{.*}}, %c4, %[[NQT]])
// CHECK: scf.parallel (%[[B:.*]], %[[HK:.*]], %[[PART:.*]]) = (%c0, %c0, %c0) to (%{{.*}}, %c2, %c8)
// CHECK-COUNT-2: memref.alloca() : memref<64x64xf32>
// CHECK: scf.for %[[KT:.*]] = %c0 to
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
// CHECK-NEXT: scf.for %[[QT:.*]] = %[[FIRST]] to %[[HI]]#0 step %c8 {
// Each visited tile is still classified: full tiles skip the mask.
// CHECK: %[[VISIT:.*]] = arith.cmpi sge, %{{.*}}, %[[J0]] : index
// CHECK-NEXT: scf.if %[[VISIT]] {
// CHECK: %[[PARTIAL:.*]] = arith.cmpi sgt, %{{.*}}, %{{.*}} : index
// CHECK-NEXT: scf.if %[[PARTIAL]] {
// The finishing pass: dQ per query tile, then dK and dV from the 8 parts.
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%{{.*}}, %c4, %[[NQT]])
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%{{.*}}, %c2, %{{.*}})
// CHECK-COUNT-8: vector.load %{{.*}} : memref<8x?x2x?x16xf32>, vector<16xf32>
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
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[HI]]#0 step %c8 {
func.func @window(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %o: tensor<?x4x?x16xf32>, %do: tensor<?x4x?x16xf32>, %lse: tensor<?x4x?xf32>) -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.window<left = 100, right = 0>] lse(%lse : tensor<?x4x?xf32>) : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
  return %dq, %dk, %dv : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}

// -----

// No mask: every query tile of the part, no search, no mask, no test.
// CHECK-LABEL: func.func @dense
// CHECK-NOT: scf.while
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %[[PART:.*]]) = (%c0, %c0, %c0) to (%{{.*}}, %c2, %c8)
// CHECK: scf.for %{{.*}} = %[[PART]] to %[[NQT:.*]] step %c8 {
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
