// The tiled backward of attn.attention_grad (attn-tile) with run-time
// tile-level patterns (block_mask, segments, rows): the forward's key-tile
// lists are built in place and transposed into per-(batch, query head, key
// tile) lists of query tiles, in ascending order, by one sequential pass
// per (batch, head); the key-tile walk visits only the listed query tiles
// of its part (no binary search), and only pairs that are not full are
// masked -- with the static intervals where the tile-level patterns keep
// the whole pair, per element otherwise. Key lists (csr, indices) give
// lists of the pairs their keys meet (last function).
// RUN: attn-opt %s --split-input-file --attn-tile="tile-q=64 tile-kv=64 vector-width=16" --canonicalize --cse | FileCheck %s

// CHECK-LABEL: func.func @block_mask
// CHECK: %[[NQT:.*]] = arith.ceildivui %[[SQ:.*]], %c64 : index
// CHECK: %[[NKT:.*]] = arith.ceildivui %[[SKV:.*]], %c64 : index
// The key-tile lists, per query tile, read the block mask.
// CHECK: %[[KCOUNTS:.*]] = memref.alloc(%[[B:.*]], %[[NQT]]) : memref<?x4x?xi32>
// CHECK: %[[KTILES:.*]] = memref.alloc(%[[B]], %[[NQT]], %[[NKT]]) : memref<?x4x?x?xi32>
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%[[B]], %c4, %[[NQT]])
// CHECK: tensor.extract %{{.*}} : tensor<?x4x?x?xi1>
// The transposition: entry kt * 4 + state of query tile qt becomes entry
// qt * 4 + state at the end of key tile kt's list.
// CHECK: %[[QCOUNTS:.*]] = memref.alloc(%[[B]], %[[NKT]]) : memref<?x4x?xi32>
// CHECK: %[[QTILES:.*]] = memref.alloc(%[[B]], %[[NKT]], %[[NQT]]) : memref<?x4x?x?xi32>
// CHECK: scf.parallel (%[[TB:.*]], %[[TH:.*]]) = (%c0, %c0) to (%[[B]], %c4)
// CHECK-NEXT: scf.for %[[KT0:.*]] = %c0 to %[[NKT]] step %c1 {
// CHECK-NEXT: memref.store %c0_i32, %[[QCOUNTS]][%[[TB]], %[[TH]], %[[KT0]]]
// CHECK: scf.for %[[QT:.*]] = %c0 to %[[NQT]] step %c1 {
// CHECK-NEXT: %[[N:.*]] = memref.load %[[KCOUNTS]][%[[TB]], %[[TH]], %[[QT]]]
// CHECK-NEXT: %[[NIDX:.*]] = arith.index_cast %[[N]] : i32 to index
// CHECK-NEXT: scf.for %[[E:.*]] = %c0 to %[[NIDX]] step %c1 {
// CHECK-NEXT: %[[ENTRY:.*]] = memref.load %[[KTILES]][%[[TB]], %[[TH]], %[[QT]], %[[E]]]
// CHECK-NEXT: %[[ENTRYIDX:.*]] = arith.index_cast %[[ENTRY]] : i32 to index
// CHECK-NEXT: %[[KT:.*]] = arith.divui %[[ENTRYIDX]], %c4 : index
// CHECK-NEXT: %[[AT:.*]] = memref.load %[[QCOUNTS]][%[[TB]], %[[TH]], %[[KT]]]
// CHECK-NEXT: %[[STATE:.*]] = arith.remui %[[ENTRYIDX]], %c4 : index
// CHECK-NEXT: %[[QT4:.*]] = arith.muli %[[QT]], %c4 : index
// CHECK-NEXT: %[[SWAPPED:.*]] = arith.addi %[[QT4]], %[[STATE]] : index
// CHECK-NEXT: %[[SWAPPED32:.*]] = arith.index_cast %[[SWAPPED]] : index to i32
// CHECK-NEXT: %[[ATIDX:.*]] = arith.index_cast %[[AT]] : i32 to index
// CHECK-NEXT: memref.store %[[SWAPPED32]], %[[QTILES]][%[[TB]], %[[TH]], %[[KT]], %[[ATIDX]]]
// CHECK-NEXT: %[[NEXT:.*]] = arith.addi %[[AT]], %c1_i32 : i32
// CHECK-NEXT: memref.store %[[NEXT]], %[[QCOUNTS]][%[[TB]], %[[TH]], %[[KT]]]
// The key-tile pass: for each key tile and query head of the GQA group, the
// loop over the count of its list; the part takes qt = part (mod 8).
// CHECK: scf.parallel (%[[PB:.*]], %[[HK:.*]], %[[PART:.*]]) = (%c0, %c0, %c0) to (%[[B]], %c2, %c4)
// CHECK-NOT: scf.while
// CHECK: scf.for %[[WKT:.*]] = %c0 to %[[NKT]] step %c1 {
// CHECK: scf.for %[[G:.*]] = %c0 to %c2 step %c1 {
// CHECK-NEXT: %[[HK2:.*]] = arith.muli %[[HK]], %c2 : index
// CHECK-NEXT: %[[HI:.*]] = arith.addi %[[HK2]], %[[G]] : index
// CHECK-NEXT: %[[COUNT:.*]] = memref.load %[[QCOUNTS]][%[[PB]], %[[HI]], %[[WKT]]]
// CHECK-NEXT: %[[COUNTIDX:.*]] = arith.index_cast %[[COUNT]] : i32 to index
// CHECK-NEXT: scf.for %[[WN:.*]] = %c0 to %[[COUNTIDX]] step %c1 {
// CHECK-NEXT: %[[WENTRY:.*]] = memref.load %[[QTILES]][%[[PB]], %[[HI]], %[[WKT]], %[[WN]]]
// CHECK-NEXT: %[[WENTRYIDX:.*]] = arith.index_cast %[[WENTRY]] : i32 to index
// CHECK-NEXT: %[[WQT:.*]] = arith.divui %[[WENTRYIDX]], %c4 : index
// CHECK-NEXT: %[[WSTATE:.*]] = arith.remui %[[WENTRYIDX]], %c4 : index
// CHECK-NEXT: %[[WPART:.*]] = arith.remui %[[WQT]], %c4 : index
// CHECK-NEXT: %[[MINE:.*]] = arith.cmpi eq, %[[WPART]], %[[PART]] : index
// CHECK-NEXT: scf.if %[[MINE]] {
// StaticPartial (1): the causal intervals; Partial (2): per element, the
// block mask included; Full (0): no mask.
// CHECK: %[[STATIC:.*]] = arith.cmpi eq, %[[WSTATE]], %c1 : index
// CHECK: %[[NOTFULL:.*]] = arith.cmpi ne, %[[WSTATE]], %c0 : index
// CHECK-NEXT: scf.if %[[NOTFULL]] {
// CHECK-NEXT: scf.if %[[STATIC]] {
// CHECK: } else {
// CHECK: tensor.extract %{{.*}} : tensor<?x4x?x?xi1>
func.func @block_mask(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %o: tensor<?x4x?x16xf32>, %do: tensor<?x4x?x16xf32>, %lse: tensor<?x4x?xf32>, %bm: tensor<?x4x?x?xi1>) -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal, #attn.block_mask<block_q = 64, block_kv = 64>] (%bm : tensor<?x4x?x?xi1>) lse(%lse : tensor<?x4x?xf32>) : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
  return %dq, %dk, %dv : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}

// -----

// Segments and rows alone: no static pattern, so a listed pair is either
// full (no mask) or partial (per element); nothing is reordered (no sort of
// the ids, no live rows first, unlike the forward).
// CHECK-LABEL: func.func @segments_rows
// CHECK-NOT: memref<257xindex>
// CHECK: memref.alloc(%{{.*}}) : memref<?x4x?xi32>
// CHECK: memref.alloc(%{{.*}}) : memref<?x4x?x?xi32>
// CHECK: %[[QCOUNTS:.*]] = memref.alloc(%{{.*}}) : memref<?x4x?xi32>
// CHECK: %[[QTILES:.*]] = memref.alloc(%{{.*}}) : memref<?x4x?x?xi32>
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%{{.*}}, %c2, %c4)
// CHECK-NOT: scf.while
// CHECK: %[[COUNT:.*]] = memref.load %[[QCOUNTS]]
// CHECK-NEXT: %[[COUNTIDX:.*]] = arith.index_cast %[[COUNT]] : i32 to index
// CHECK-NEXT: scf.for %{{.*}} = %c0 to %[[COUNTIDX]] step %c1 {
// CHECK-NEXT: memref.load %[[QTILES]]
// CHECK: %[[NOTFULL:.*]] = arith.cmpi ne, %{{.*}}, %c0 : index
// CHECK-NEXT: scf.if %[[NOTFULL]] {
// CHECK: tensor.extract %{{.*}} : tensor<?x?xi32>
// CHECK: tensor.extract %{{.*}} : tensor<?x4x?xi1>
func.func @segments_rows(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %o: tensor<?x4x?x16xf32>, %do: tensor<?x4x?x16xf32>, %lse: tensor<?x4x?xf32>, %qs: tensor<?x?xi32>, %ks: tensor<?x?xi32>, %rows: tensor<?x4x?xi1>) -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.segments, #attn.rows] (%qs, %ks, %rows : tensor<?x?xi32>, tensor<?x?xi32>, tensor<?x4x?xi1>) lse(%lse : tensor<?x4x?xf32>) : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
  return %dq, %dk, %dv : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}

// -----

// CSR: per (batch, head), for each query tile in order, the key tiles of its
// rows' neighbours are marked, then the marked tiles that causal does not
// prove empty are appended as partial (state 2) to their lists.
// CHECK-LABEL: func.func @csr
// CHECK: %[[QCOUNTS:.*]] = memref.alloc(%{{.*}}) : memref<?x4x?xi32>
// CHECK: %[[QTILES:.*]] = memref.alloc(%{{.*}}) : memref<?x4x?x?xi32>
// CHECK: %[[MARKS:.*]] = memref.alloc(%{{.*}}) : memref<?x4x?xi1>
// CHECK: scf.parallel (%[[TB:.*]], %[[TH:.*]]) = (%c0, %c0) to (%{{.*}}, %c4)
// CHECK: scf.for %[[QT:.*]] = %c0 to %[[NQT:.*]] step %c1 {
// CHECK: memref.store %false, %[[MARKS]][%[[TB]], %[[TH]], %{{.*}}]
// CHECK: %[[LO:.*]] = tensor.extract %{{.*}}[%[[I:.*]]] : tensor<?xi32>
// CHECK: %[[HI:.*]] = tensor.extract %{{.*}}[%{{.*}}] : tensor<?xi32>
// CHECK: scf.for %[[P:.*]] = %{{.*}} to %{{.*}} step %c1 {
// CHECK-NEXT: %[[J:.*]] = tensor.extract %{{.*}}[%[[P]]] : tensor<?xi32>
// CHECK: %[[KT:.*]] = arith.divui %{{.*}}, %c64 : index
// CHECK-NEXT: memref.store %true, %[[MARKS]][%[[TB]], %[[TH]], %[[KT]]]
// CHECK: %[[MARKED:.*]] = memref.load %[[MARKS]][%[[TB]], %[[TH]], %{{.*}}]
// CHECK: %[[LISTED:.*]] = arith.andi %[[MARKED]], %{{.*}} : i1
// CHECK-NEXT: scf.if %[[LISTED]] {
// CHECK: %[[QT4:.*]] = arith.muli %[[QT]], %c4 : index
// CHECK-NEXT: %[[ENTRY:.*]] = arith.addi %[[QT4]], %c2 : index
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%{{.*}}, %c2, %c4)
// CHECK-NOT: scf.while
// CHECK: memref.load %[[QCOUNTS]]
func.func @csr(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %o: tensor<?x4x?x16xf32>, %do: tensor<?x4x?x16xf32>, %lse: tensor<?x4x?xf32>, %rp: tensor<?xi32>, %cols: tensor<?xi32>) -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal, #attn.csr] (%rp, %cols : tensor<?xi32>, tensor<?xi32>) lse(%lse : tensor<?x4x?xf32>) : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
  return %dq, %dk, %dv : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}
