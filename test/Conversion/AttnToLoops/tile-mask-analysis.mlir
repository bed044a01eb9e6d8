// The bounds the compile-time mask analysis derives for each query tile
// (rows [i0, iHi], aligned i' = i + Skv - Sq) and key tile [j0, jLast]:
// the range of key tiles the loop visits, the `empty` test that skips a tile
// and the `full` test that skips per-element masking. Everything is index
// arithmetic on the symbolic tile bounds (dynamic Sq and Skv).
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

// Sinks union window: the loop covers [0, max(i'Hi + 1, 4)); a tile between
// the sinks and the window is empty (both members empty) and skipped.
// CHECK-LABEL: func.func @sink_window
// CHECK: scf.parallel (%[[QT:.*]]) =
// CHECK-NEXT: %[[I0:.*]] = arith.muli %[[QT]], %c64 : index
// CHECK: %[[END:.*]] = arith.addi %[[I0]], %{{.*}} : index
// CHECK-NEXT: %[[ILAST:.*]] = arith.subi %[[END]], %c1 : index
// CHECK-NEXT: %[[ALO:.*]] = arith.addi %[[I0]], %[[OFF:.*]] : index
// CHECK-NEXT: %[[AHI:.*]] = arith.addi %[[ILAST]], %[[OFF]] : index
// CHECK: %[[HI:.*]] = arith.addi %[[AHI]], %c1 : index
// CHECK-NEXT: arith.maxsi %[[HI]], %c4 : index
// CHECK: scf.for %[[J0:.*]] = %{{.*}} to %{{.*}} step %c64 {
// CHECK: %[[JLAST:.*]] = arith.subi %{{.*}}, %c1 : index
// CHECK-NEXT: %[[SINK_EMPTY:.*]] = arith.cmpi sge, %[[J0]], %c4 : index
// CHECK-NEXT: %[[SINK_FULL:.*]] = arith.cmpi slt, %[[JLAST]], %c4 : index
// CHECK: %[[WIN_EMPTY:.*]] = arith.ori
// CHECK: %[[WIN_FULL:.*]] = arith.andi
// CHECK-NEXT: %[[EMPTY:.*]] = arith.andi %[[SINK_EMPTY]], %[[WIN_EMPTY]] : i1
// CHECK-NEXT: %[[FULL:.*]] = arith.ori %[[SINK_FULL]], %[[WIN_FULL]] : i1
// CHECK-NEXT: %[[VISIT:.*]] = arith.xori %[[EMPTY]], %true : i1
// CHECK-NEXT: scf.if %[[VISIT]] {
func.func @sink_window(%q: tensor<1x1x?x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x16xf32>) -> tensor<1x1x?x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.any<[#attn.sink<count = 4>, #attn.window<left = 63, right = 0>]>] : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32>
  return %o : tensor<1x1x?x16xf32>
}

// -----

// Chunks of 128: keys [floor(i'Lo/128)*128, (floor(i'Hi/128)+1)*128); full
// iff the query and key tiles lie in one chunk.
// CHECK-LABEL: func.func @chunk
// CHECK: scf.parallel (%[[QT:.*]]) =
// CHECK-NEXT: %[[I0:.*]] = arith.muli %[[QT]], %c64 : index
// CHECK: %[[END:.*]] = arith.addi %[[I0]], %{{.*}} : index
// CHECK-NEXT: %[[ILAST:.*]] = arith.subi %[[END]], %c1 : index
// CHECK-NEXT: %[[ALO:.*]] = arith.addi %[[I0]], %[[OFF:.*]] : index
// CHECK-NEXT: %[[AHI:.*]] = arith.addi %[[ILAST]], %[[OFF]] : index
// CHECK: %[[CLO:.*]] = arith.floordivsi %[[ALO]], %c128 : index
// CHECK-NEXT: %[[CHI:.*]] = arith.floordivsi %[[AHI]], %c128 : index
// CHECK-NEXT: %[[LO:.*]] = arith.muli %[[CLO]], %c128 : index
// CHECK-NEXT: %[[NEXT:.*]] = arith.addi %[[CHI]], %c1 : index
// CHECK-NEXT: %[[HI:.*]] = arith.muli %[[NEXT]], %c128 : index
// CHECK: scf.for %[[J0:.*]] = %{{.*}} to %{{.*}} step %c64 {
// CHECK: %[[JLAST:.*]] = arith.subi %{{.*}}, %c1 : index
// CHECK-NEXT: %[[KLO:.*]] = arith.floordivsi %[[J0]], %c128 : index
// CHECK-NEXT: %[[KHI:.*]] = arith.floordivsi %[[JLAST]], %c128 : index
// CHECK-NEXT: %[[E1:.*]] = arith.cmpi slt, %[[KHI]], %[[CLO]] : index
// CHECK-NEXT: %[[E2:.*]] = arith.cmpi slt, %[[CHI]], %[[KLO]] : index
// CHECK-NEXT: %[[EMPTY:.*]] = arith.ori %[[E1]], %[[E2]] : i1
// CHECK-NEXT: %[[F1:.*]] = arith.cmpi eq, %[[CLO]], %[[CHI]] : index
// CHECK-NEXT: %[[F2:.*]] = arith.cmpi eq, %[[KLO]], %[[CLO]] : index
func.func @chunk(%q: tensor<1x1x?x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x16xf32>) -> tensor<1x1x?x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.chunk<size = 128>] : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32>
  return %o : tensor<1x1x?x16xf32>
}

// -----

// Prefix-LM with P = 100: keys [0, max(P, i'Hi + 1)); empty iff j0 >= P and
// j0 > i'Hi; full iff jLast < P or jLast <= i'Lo.
// CHECK-LABEL: func.func @prefix
// CHECK: scf.parallel (%[[QT:.*]]) =
// CHECK-NEXT: %[[I0:.*]] = arith.muli %[[QT]], %c64 : index
// CHECK: %[[END:.*]] = arith.addi %[[I0]], %{{.*}} : index
// CHECK-NEXT: %[[ILAST:.*]] = arith.subi %[[END]], %c1 : index
// CHECK-NEXT: %[[ALO:.*]] = arith.addi %[[I0]], %[[OFF:.*]] : index
// CHECK-NEXT: %[[AHI:.*]] = arith.addi %[[ILAST]], %[[OFF]] : index
// CHECK: %[[HI:.*]] = arith.addi %[[AHI]], %c1 : index
// CHECK-NEXT: arith.maxsi %[[HI]], %c100 : index
// CHECK: scf.for %[[J0:.*]] = %{{.*}} to %{{.*}} step %c64 {
// CHECK: %[[JLAST:.*]] = arith.subi %{{.*}}, %c1 : index
// CHECK-NEXT: %[[E1:.*]] = arith.cmpi sge, %[[J0]], %c100 : index
// CHECK-NEXT: %[[E2:.*]] = arith.cmpi slt, %[[AHI]], %[[J0]] : index
// CHECK-NEXT: %[[EMPTY:.*]] = arith.andi %[[E1]], %[[E2]] : i1
// CHECK-NEXT: %[[F1:.*]] = arith.cmpi slt, %[[JLAST]], %c100 : index
// CHECK-NEXT: %[[F2:.*]] = arith.cmpi sle, %[[JLAST]], %[[ALO]] : index
// CHECK-NEXT: %[[FULL:.*]] = arith.ori %[[F1]], %[[F2]] : i1
func.func @prefix(%q: tensor<1x1x?x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x16xf32>) -> tensor<1x1x?x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.prefix<length = 100>] : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32>
  return %o : tensor<1x1x?x16xf32>
}

// -----

// Blocked local attention, block 128 with a halo of 16: keys
// [floor(i'Lo/128)*128 - 16, (floor(i'Hi/128)+1)*128 + 16).
// CHECK-LABEL: func.func @block_local
// CHECK: scf.parallel (%[[QT:.*]]) =
// CHECK-NEXT: %[[I0:.*]] = arith.muli %[[QT]], %c64 : index
// CHECK: %[[END:.*]] = arith.addi %[[I0]], %{{.*}} : index
// CHECK-NEXT: %[[ILAST:.*]] = arith.subi %[[END]], %c1 : index
// CHECK-NEXT: %[[ALO:.*]] = arith.addi %[[I0]], %[[OFF:.*]] : index
// CHECK-NEXT: %[[AHI:.*]] = arith.addi %[[ILAST]], %[[OFF]] : index
// CHECK: %[[BLO:.*]] = arith.floordivsi %[[ALO]], %c128 : index
// CHECK-NEXT: %[[BHI:.*]] = arith.floordivsi %[[AHI]], %c128 : index
// CHECK-NEXT: %[[START:.*]] = arith.muli %[[BLO]], %c128 : index
// CHECK-NEXT: %[[LO:.*]] = arith.subi %[[START]], %c16 : index
// CHECK-NEXT: %[[NEXT:.*]] = arith.addi %[[BHI]], %c1 : index
// CHECK-NEXT: %[[END:.*]] = arith.muli %[[NEXT]], %c128 : index
// CHECK-NEXT: %[[HI:.*]] = arith.addi %[[END]], %c16 : index
// CHECK: scf.for %[[J0:.*]] = %{{.*}} to %{{.*}} step %c64 {
// CHECK: %[[JLAST:.*]] = arith.subi %{{.*}}, %c1 : index
// CHECK-NEXT: %[[E1:.*]] = arith.cmpi slt, %[[JLAST]], %[[LO]] : index
// CHECK-NEXT: %[[E2:.*]] = arith.cmpi sle, %[[HI]], %[[J0]] : index
// CHECK-NEXT: %[[EMPTY:.*]] = arith.ori %[[E1]], %[[E2]] : i1
func.func @block_local(%q: tensor<1x1x?x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x16xf32>) -> tensor<1x1x?x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.block_local<block = 128, halo = 16>] : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32>
  return %o : tensor<1x1x?x16xf32>
}

// -----

// A predicate region (i - 7 <= j <= i on raw indices) evaluated over
// intervals: empty iff iHi < j0 or jLast < iLo - 7; full iff jLast <= iLo and
// iHi - 7 <= j0.
// CHECK-LABEL: func.func @predicate
// CHECK: scf.parallel (%[[QT:.*]]) =
// CHECK-NEXT: %[[I0:.*]] = arith.muli %[[QT]], %c64 : index
// CHECK: %[[END:.*]] = arith.addi %[[I0]], %{{.*}} : index
// CHECK-NEXT: %[[IHI:.*]] = arith.subi %[[END]], %c1 : index
// CHECK: scf.for %[[J0:.*]] = %{{.*}} to %{{.*}} step %c64 {
// CHECK: %[[JLAST:.*]] = arith.subi %{{.*}}, %c1 : index
// CHECK-NEXT: %[[LO:.*]] = arith.subi %[[I0]], %c7 : index
// CHECK-NEXT: %[[FLO:.*]] = arith.subi %[[END]], %c8 : index
// CHECK-NEXT: %[[E1:.*]] = arith.cmpi slt, %[[IHI]], %[[J0]] : index
// CHECK-NEXT: %[[F1:.*]] = arith.cmpi sle, %[[JLAST]], %[[I0]] : index
// CHECK-NEXT: %[[E2:.*]] = arith.cmpi slt, %[[JLAST]], %[[LO]] : index
// CHECK-NEXT: %[[F2:.*]] = arith.cmpi sle, %[[FLO]], %[[J0]] : index
// CHECK-NEXT: %[[EMPTY:.*]] = arith.ori %[[E1]], %[[E2]] : i1
// CHECK-NEXT: %[[FULL:.*]] = arith.andi %[[F1]], %[[F2]] : i1
// CHECK-NEXT: %[[VISIT:.*]] = arith.xori %[[EMPTY]], %true : i1
// CHECK-NEXT: scf.if %[[VISIT]] {
func.func @predicate(%q: tensor<1x1x?x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x16xf32>) -> tensor<1x1x?x16xf32> {
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32> mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c7 = arith.constant 7 : index
    %lo = arith.subi %i, %c7 : index
    %a = arith.cmpi sle, %j, %i : index
    %w = arith.cmpi sge, %j, %lo : index
    %keep = arith.andi %a, %w : i1
    attn.yield %keep : i1
  }
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
