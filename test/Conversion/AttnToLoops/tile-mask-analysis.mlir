// How the tiled form uses the compile-time mask analysis for each query tile
// (rows [i0, iHi], aligned i' = i + Skv - Sq) and key tile [j0, jLast]: the
// key range bounds the key-tile loop, the `empty` test skips a tile and the
// `full` test skips per-element masking. Everything is index arithmetic on
// the symbolic tile bounds (dynamic Sq and Skv). The classes each pattern
// and predicate region gets are tested with -attn-test-mask-analysis in
// test/Transforms/mask-analysis.mlir.
// RUN: attn-opt %s --split-input-file --attn-tile="tile-q=64 tile-kv=64 vector-width=16" --canonicalize --cse | FileCheck %s

// Causal: keys [0, i'Hi + 1); empty iff i'Hi < j0; full iff jLast <= i'Lo.
// CHECK-LABEL: func.func @causal
// CHECK: scf.parallel (%[[QT:.*]]) =
// CHECK-NEXT: %[[I0:.*]] = arith.muli %[[QT]], %c64 : index
// CHECK: %[[END:.*]] = arith.addi %[[I0]], %{{.*}} : index
// CHECK-NEXT: %[[ILAST:.*]] = arith.subi %[[END]], %c1 : index
// CHECK-NEXT: %[[ALO:.*]] = arith.addi %[[I0]], %[[OFF:.*]] : index
// CHECK-NEXT: %[[AHI:.*]] = arith.addi %[[ILAST]], %[[OFF]] : index
// CHECK: %[[HI:.*]] = arith.addi %[[AHI]], %c1 : index
// CHECK-NEXT: arith.minsi %{{.*}}, %[[HI]] : index
// CHECK: scf.for %[[J0:.*]] = %{{.*}} to %{{.*}} step %c64 {
// CHECK: %[[JLAST:.*]] = arith.subi %{{.*}}, %c1 : index
// CHECK-NEXT: %[[VISIT:.*]] = arith.cmpi sge, %[[AHI]], %[[J0]] : index
// CHECK-NEXT: scf.if %[[VISIT]] {
// CHECK: %[[PARTIAL:.*]] = arith.cmpi sgt, %[[JLAST]], %[[ALO]] : index
// CHECK-NEXT: scf.if %[[PARTIAL]] {
func.func @causal(%q: tensor<1x1x?x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x16xf32>) -> tensor<1x1x?x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32>
  return %o : tensor<1x1x?x16xf32>
}

// -----

// Sliding window left = 255: keys [i'Lo - 255, i'Hi + 1); empty iff
// jLast < i'Lo - 255 or i'Hi < j0; full iff i'Hi - 255 <= j0 and jLast <= i'Lo.
// A sequence twice as long visits the same number of tiles per query tile.
// CHECK-LABEL: func.func @window
// CHECK: scf.parallel (%[[QT:.*]]) =
// CHECK-NEXT: %[[I0:.*]] = arith.muli %[[QT]], %c64 : index
// CHECK: %[[END:.*]] = arith.addi %[[I0]], %{{.*}} : index
// CHECK-NEXT: %[[ILAST:.*]] = arith.subi %[[END]], %c1 : index
// CHECK-NEXT: %[[ALO:.*]] = arith.addi %[[I0]], %[[OFF:.*]] : index
// CHECK-NEXT: %[[AHI:.*]] = arith.addi %[[ILAST]], %[[OFF]] : index
// CHECK: %[[LO:.*]] = arith.subi %[[ALO]], %c255 : index
// CHECK-NEXT: %[[HI:.*]] = arith.addi %[[AHI]], %c1 : index
// CHECK-NEXT: %[[LO0:.*]] = arith.maxsi %[[LO]], %c0 : index
// CHECK: scf.for %[[J0:.*]] = %{{.*}} to %{{.*}} step %c64 {
// CHECK: %[[JLAST:.*]] = arith.subi %{{.*}}, %c1 : index
// CHECK-NEXT: %[[E1:.*]] = arith.cmpi slt, %[[JLAST]], %[[LO]] : index
// CHECK-NEXT: %[[E2:.*]] = arith.cmpi slt, %[[AHI]], %[[J0]] : index
// CHECK-NEXT: %[[EMPTY:.*]] = arith.ori %[[E1]], %[[E2]] : i1
// CHECK-NEXT: %[[FLO:.*]] = arith.subi %[[AHI]], %c255 : index
// CHECK-NEXT: %[[F1:.*]] = arith.cmpi sle, %[[FLO]], %[[J0]] : index
// CHECK-NEXT: %[[F2:.*]] = arith.cmpi sle, %[[JLAST]], %[[ALO]] : index
// CHECK-NEXT: %[[FULL:.*]] = arith.andi %[[F1]], %[[F2]] : i1
// CHECK-NEXT: %[[VISIT:.*]] = arith.xori %[[EMPTY]], %true : i1
// CHECK-NEXT: scf.if %[[VISIT]] {
// CHECK: %[[PARTIAL:.*]] = arith.xori %[[FULL]], %true : i1
// CHECK-NEXT: scf.if %[[PARTIAL]] {
func.func @window(%q: tensor<1x1x?x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x16xf32>) -> tensor<1x1x?x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.window<left = 255, right = 0>] : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32>
  return %o : tensor<1x1x?x16xf32>
}

// -----

// A region the evaluator cannot model (it reads a tensor) makes every tile
// partial: no tile is skipped or proven full, the predicate runs per element.
// CHECK-LABEL: func.func @opaque_predicate
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c64 {
// CHECK-NOT: scf.if
// CHECK: tensor.extract %{{.*}} : tensor<?xi1>
func.func @opaque_predicate(%q: tensor<1x1x?x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x16xf32>, %keep: tensor<?xi1>) -> tensor<1x1x?x16xf32> {
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32> mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %x = tensor.extract %keep[%j] : tensor<?xi1>
    attn.yield %x : i1
  }
  return %o : tensor<1x1x?x16xf32>
}
