// RUN: attn-opt %s --attn-decompose --split-input-file | FileCheck %s

// Scores: a contraction over D that reads K head h floordiv (Hq/Hkv), then the
// scale.
// CHECK-DAG: #[[$Q:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-DAG: #[[$K:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 floordiv 4, d3, d4)>
// CHECK-LABEL: func.func @score_gqa
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[SCALE:.*]] = arith.constant 1.250000e-01 : f32
// CHECK: %[[FILL:.*]] = linalg.fill ins(%[[ZERO]] : f32)
// CHECK: %[[DOT:.*]] = linalg.generic {indexing_maps = [#[[$Q]], #[[$K]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%[[FILL]] : tensor<1x8x5x7xf32>)
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[DOT]]
// CHECK: arith.mulf %{{.*}}, %[[SCALE]] : f32
// CHECK-NOT: attn.
func.func @score_gqa(%q: tensor<1x8x5x16xf16>, %k: tensor<1x2x7x16xf16>) -> tensor<1x8x5x7xf32> {
  %s = attn.score %q, %k {scale = 0.125 : f32} : tensor<1x8x5x16xf16>, tensor<1x2x7x16xf16> -> tensor<1x8x5x7xf32>
  return %s : tensor<1x8x5x7xf32>
}

// -----

// Masks: a predicate over linalg.index values; masked scores become -inf.
// The causal diagonal is aligned bottom-right with Skv - Sq computed from the
// dynamic sizes.
// CHECK-LABEL: func.func @mask_causal_dynamic
// CHECK-DAG: %[[NINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG: %[[SQ:.*]] = tensor.dim %{{.*}}, %c2
// CHECK-DAG: %[[SKV:.*]] = tensor.dim %{{.*}}, %c3
// CHECK: linalg.generic
// CHECK: %[[I:.*]] = linalg.index 2 : index
// CHECK: %[[J:.*]] = linalg.index 3 : index
// CHECK: %[[OFF:.*]] = arith.subi %[[SKV]], %[[SQ]] : index
// CHECK: %[[ALIGNED:.*]] = arith.addi %[[I]], %[[OFF]] : index
// CHECK: %[[KEEP:.*]] = arith.cmpi sle, %[[J]], %[[ALIGNED]] : index
// CHECK: arith.select %{{.*}}, %{{.*}}, %[[NINF]] : f32
// CHECK-NOT: attn.
func.func @mask_causal_dynamic(%s: tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32> {
  %m = attn.mask %s [#attn.causal] : tensor<?x4x?x?xf32>
  return %m : tensor<?x4x?x?xf32>
}

// -----

// CSR adjacency: the row's column range is searched with an scf.for.
// CHECK-LABEL: func.func @mask_csr
// CHECK: linalg.generic
// CHECK: tensor.extract %{{.*}}[%{{.*}}] : tensor<5xi32>
// CHECK: scf.for
// CHECK: tensor.extract %{{.*}}[%{{.*}}] : tensor<9xi32>
// CHECK: arith.ori
// CHECK: scf.yield
func.func @mask_csr(%s: tensor<1x2x4x6xf32>, %rp: tensor<5xi32>, %cols: tensor<9xi32>) -> tensor<1x2x4x6xf32> {
  %m = attn.mask %s [#attn.csr] (%rp, %cols) : tensor<1x2x4x6xf32>, tensor<5xi32>, tensor<9xi32>
  return %m : tensor<1x2x4x6xf32>
}

// -----

// Predicate regions are inlined into the generic body with the raw indices.
// CHECK-LABEL: func.func @mask_predicate
// CHECK: linalg.generic
// CHECK: %[[I:.*]] = linalg.index 2 : index
// CHECK: %[[J:.*]] = linalg.index 3 : index
// CHECK: arith.cmpi uge, %[[I]], %[[J]] : index
// CHECK-NOT: attn.yield
func.func @mask_predicate(%s: tensor<1x2x4x6xf32>) -> tensor<1x2x4x6xf32> {
  %m = attn.mask %s [] : tensor<1x2x4x6xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %keep = arith.cmpi uge, %i, %j : index
    attn.yield %keep : i1
  }
  return %m : tensor<1x2x4x6xf32>
}

// -----

// Softmax: row max (with a safe 0 for fully masked rows), exp, row sum,
// P V with the GQA value map, a guarded division, and lse = m + log(l).
// CHECK-DAG: #[[$V:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 floordiv 2, d4, d3)>
// CHECK-LABEL: func.func @aggregate_softmax
// CHECK: arith.maximumf
// CHECK: arith.cmpf oeq
// CHECK: arith.select
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: linalg.generic {indexing_maps = [{{.*}}, #[[$V]], {{.*}}]
// CHECK: arith.divf
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: math.log
// CHECK-NOT: attn.
func.func @aggregate_softmax(%s: tensor<1x4x3x5xf32>, %v: tensor<1x2x5x8xbf16>) -> (tensor<1x4x3x8xbf16>, tensor<1x4x3xf32>) {
  %o, %lse = attn.aggregate softmax %s, %v : tensor<1x4x3x5xf32>, tensor<1x2x5x8xbf16> -> tensor<1x4x3x8xbf16>, tensor<1x4x3xf32>
  return %o, %lse : tensor<1x4x3x8xbf16>, tensor<1x4x3xf32>
}

// -----

// Top-k: a stable rank per key by counting the keys that beat it, then the
// key of each rank (or -1).
// CHECK-LABEL: func.func @select_topk
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpi ult
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK: arith.select
// CHECK-NOT: attn.
func.func @select_topk(%s: tensor<1x2x3x9xf32>) -> tensor<1x2x3x4xi32> {
  %i = attn.select_topk %s {top_k = 4} : tensor<1x2x3x9xf32> -> tensor<1x2x3x4xi32>
  return %i : tensor<1x2x3x4xi32>
}

// -----

// Linear attention with decay: lambda^(i' - j) via math.powf on causal pairs.
// CHECK-LABEL: func.func @linear_decay
// CHECK: math.powf
// CHECK: arith.select
// CHECK-NOT: attn.
func.func @linear_decay(%q: tensor<1x2x6x4xf32>, %l: tensor<2xf32>) -> tensor<1x2x6x4xf32> {
  %o = attn.linear_aggregate %q, %q, %q decay(%l) {causal} : tensor<1x2x6x4xf32>, tensor<1x2x6x4xf32>, tensor<1x2x6x4xf32>, tensor<2xf32> -> tensor<1x2x6x4xf32>
  return %o : tensor<1x2x6x4xf32>
}
