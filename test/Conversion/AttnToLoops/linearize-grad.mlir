// The chunked backward of attn-linearize (LinearizeGrad.cpp): per (batch,
// head) a forward sweep over chunks of C = 32 keys (dq, the rows' r and c,
// dlambda through T and its derivative T') and a reverse sweep from the last
// chunk (dk, dv through U, whose transpose is refreshed per chunk); then the
// query heads of a GQA group are summed per key and dlambda over the batch.
// Memory beyond inputs and results: [F, Dv] states and [Sq] rows per head,
// per-query-head dk/dv rows for the group sum -- never an Sq x Skv buffer.
// RUN: attn-opt %s --split-input-file --attn-linearize="chunk=32 vector-width=16" --canonicalize --cse | FileCheck %s

// CHECK-LABEL: func.func @decayed
// CHECK-NOT: attn.linear_aggregate_grad
// CHECK-NOT: linalg.
// CHECK-NOT: ?x?
// CHECK: %[[DQ:.*]] = memref.alloc(%{{.*}}) : memref<1x4x?x16xf32>
// CHECK: %[[DK:.*]] = memref.alloc(%{{.*}}) : memref<1x2x?x16xf32>
// CHECK: %[[DV:.*]] = memref.alloc(%{{.*}}) : memref<1x2x?x32xf16>
// CHECK: %[[DK_HEADS:.*]] = memref.alloc(%{{.*}}) : memref<1x4x?x16xf32>
// CHECK: %[[DV_HEADS:.*]] = memref.alloc(%{{.*}}) : memref<1x4x?x32xf32>
// CHECK: %[[DL:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[DL_PART:.*]] = memref.alloc() : memref<1x4xf32>
// CHECK: %[[TD:.*]] = memref.alloc() : memref<1x4x32x16xf32>
// CHECK: memref.alloc() : memref<1x4x16xf32>
// CHECK: %[[R:.*]] = memref.alloc(%{{.*}}) : memref<1x4x?xf32>
// CHECK: %[[C:.*]] = memref.alloc(%{{.*}}) : memref<1x4x?xf32>
// CHECK: %[[T:.*]] = memref.alloc() : memref<1x4x32x16xf32>
// CHECK: %[[U:.*]] = memref.alloc() : memref<1x4x16x32xf32>
// CHECK: memref.alloc() : memref<1x4x16xf32>
// CHECK-NOT: memref.alloc
// CHECK: scf.parallel
// CHECK: %[[POW:.*]] = memref.alloca() : memref<33xf32>
// CHECK: %[[DPOW:.*]] = memref.alloca() : memref<33xf32>
// Forward sweep: each row reads T and T', then the chunk's keys up to itself.
// CHECK: scf.for %[[T0:.*]] = %c0 to %{{.*}} step %c32
// CHECK: scf.for
// CHECK: vector.load %[[T]]
// CHECK: vector.load %[[TD]]
// CHECK: scf.for %{{.*}} = %[[T0]] to {{.*}} -> (vector<16xf32>, vector<16xf32>, f32, f32, f32)
// CHECK: memref.load %[[POW]]
// CHECK: memref.load %[[DPOW]]
// CHECK: memref.store %{{.*}}, %[[R]]
// CHECK: memref.store %{{.*}}, %[[C]]
// CHECK: vector.store %{{.*}}, %[[DQ]]
// CHECK: memref.store %{{.*}}, %[[DL_PART]]
// Then T', T re-based and the chunk's keys added, a state row at a time.
// CHECK: scf.for
// CHECK: vector.load %[[T]]
// CHECK: vector.load %[[TD]]
// CHECK: scf.for %{{.*}} = %[[T0]] to
// CHECK: vector.store %{{.*}}, %[[T]]
// CHECK: vector.store %{{.*}}, %[[TD]]
// Reverse sweep, last chunk first.
// CHECK: %[[COUNT:.*]] = arith.ceildivui %{{.*}}, %c32
// CHECK: scf.for %{{.*}} = %c0 to %[[COUNT]] step %c1
// CHECK: memref.load %[[U]]
// CHECK: memref.store %{{.*}}, %[[T]]
// CHECK: vector.load %[[T]]
// CHECK: vector.load %[[U]]
// CHECK: memref.load %[[R]]
// CHECK: memref.load %[[C]]
// CHECK: vector.store %{{.*}}, %[[DK_HEADS]]
// CHECK: vector.store %{{.*}}, %[[DV_HEADS]]
// CHECK: vector.store %{{.*}}, %[[U]]
// The group sums, in head order, and dlambda over the batch.
// CHECK: scf.parallel
// CHECK: vector.load %[[DK_HEADS]]
// CHECK: vector.load %[[DK_HEADS]]
// CHECK: vector.store %{{.*}}, %[[DK]]
// CHECK: arith.truncf %{{.*}} : vector<16xf32> to vector<16xf16>
// CHECK: vector.store %{{.*}}, %[[DV]]
// CHECK: memref.load %[[DL_PART]]
// CHECK: memref.store %{{.*}}, %[[DL]]
// CHECK: return
func.func @decayed(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x32xf16>, %o: tensor<1x4x?x32xf16>, %do: tensor<1x4x?x32xf16>, %l: tensor<4xf32>) -> (tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x32xf16>, tensor<4xf32>) {
  %dq, %dk, %dv, %dl = attn.linear_aggregate_grad %q, %k, %v, %o, %do decay(%l) {causal, normalize} : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x32xf16>, tensor<1x4x?x32xf16>, tensor<1x4x?x32xf16>, tensor<4xf32> -> tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x32xf16>, tensor<4xf32>
  return %dq, %dk, %dv, %dl : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x32xf16>, tensor<4xf32>
}

// -----

// Non-causal: T over all keys, every row against it, U over all rows, then
// every key against U; no chunks, no decay table, and without a group each
// head writes dk and dv directly (bf16 from f32).
// CHECK-LABEL: func.func @global
// CHECK: %[[DQ:.*]] = memref.alloc(%{{.*}}) : memref<1x2x?x16xbf16>
// CHECK: %[[DK:.*]] = memref.alloc(%{{.*}}) : memref<1x2x?x16xbf16>
// CHECK: %[[DV:.*]] = memref.alloc(%{{.*}}) : memref<1x2x?x8xbf16>
// CHECK-NOT: ?x?
// CHECK: scf.parallel
// CHECK-NOT: memref.alloca
// CHECK-NOT: step %c32
// CHECK: arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: vector.store %{{.*}}, %[[DQ]]
// CHECK: vector.store %{{.*}}, %[[DK]]
// CHECK: vector.store %{{.*}}, %[[DV]]
// CHECK-NOT: scf.parallel
// CHECK: return
func.func @global(%q: tensor<1x2x?x16xbf16>, %k: tensor<1x2x?x16xbf16>, %v: tensor<1x2x?x8xbf16>, %o: tensor<1x2x?x8xbf16>, %do: tensor<1x2x?x8xbf16>) -> (tensor<1x2x?x16xbf16>, tensor<1x2x?x16xbf16>, tensor<1x2x?x8xbf16>) {
  %dq, %dk, %dv = attn.linear_aggregate_grad %q, %k, %v, %o, %do {normalize} : tensor<1x2x?x16xbf16>, tensor<1x2x?x16xbf16>, tensor<1x2x?x8xbf16>, tensor<1x2x?x8xbf16>, tensor<1x2x?x8xbf16> -> tensor<1x2x?x16xbf16>, tensor<1x2x?x16xbf16>, tensor<1x2x?x8xbf16>
  return %dq, %dk, %dv : tensor<1x2x?x16xbf16>, tensor<1x2x?x16xbf16>, tensor<1x2x?x8xbf16>
}

// -----

// A static Sq = Skv = 96: no 96x96 buffer anywhere.
// CHECK-LABEL: func.func @static_lengths
// CHECK-NOT: 96x96
// CHECK: scf.parallel
// CHECK-NOT: 96x96
// CHECK: return
func.func @static_lengths(%q: tensor<2x2x96x8xf32>, %v: tensor<2x2x96x8xf32>, %l: tensor<2xf32>) -> (tensor<2x2x96x8xf32>, tensor<2x2x96x8xf32>, tensor<2x2x96x8xf32>, tensor<2xf32>) {
  %dq, %dk, %dv, %dl = attn.linear_aggregate_grad %q, %q, %v, %v, %v decay(%l) {causal} : tensor<2x2x96x8xf32>, tensor<2x2x96x8xf32>, tensor<2x2x96x8xf32>, tensor<2x2x96x8xf32>, tensor<2x2x96x8xf32>, tensor<2xf32> -> tensor<2x2x96x8xf32>, tensor<2x2x96x8xf32>, tensor<2x2x96x8xf32>, tensor<2xf32>
  return %dq, %dk, %dv, %dl : tensor<2x2x96x8xf32>, tensor<2x2x96x8xf32>, tensor<2x2x96x8xf32>, tensor<2xf32>
}

// -----

// A dynamic head count: not matched, left for attn-decompose.
// CHECK-LABEL: func.func @dynamic_heads
// CHECK: attn.linear_aggregate_grad
func.func @dynamic_heads(%q: tensor<1x?x4x8xf32>, %v: tensor<1x?x4x8xf32>) -> (tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>) {
  %dq, %dk, %dv = attn.linear_aggregate_grad %q, %q, %v, %v, %v {causal} : tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32> -> tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>
  return %dq, %dk, %dv : tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>
}
