// The whole-row tiled form of entmax (attn-tile): per (batch, head, query
// tile), the row maxima over every live key tile; the rows' thresholds by
// passes over the tile's scores (Newton's method for alpha <= 2, all rows
// together until none moves; bisection for alpha > 2); a last pass turning
// scores into weights, with P V only for key tiles where some weight is
// non-zero. The scores stay in a heap scratch S^T [keys, Br] (key tiles
// padded, -inf where never computed) when it fits in 16 MiB, and are
// recomputed on every pass otherwise (or with entmax-recompute). Rows are
// renormalised; no lse, no key splits.
// RUN: attn-opt %s --attn-tile | FileCheck %s
// RUN: attn-opt %s --attn-tile="entmax-recompute=1" | FileCheck %s --check-prefix=RECOMPUTE

// CHECK-LABEL: func.func @entmax15
// CHECK: scf.parallel
// CHECK: %[[SCRATCH:.*]] = memref.alloc(%{{.*}}) : memref<?x64xf32>
// CHECK: memref.subview %[[SCRATCH]][%{{.*}}, 0] [64, 64] [1, 1]
// CHECK: math.fma
// CHECK: scf.while
// CHECK: memref.subview %[[SCRATCH]]
// CHECK: vector.reduction <or>
// CHECK: memref.subview %[[SCRATCH]]
// CHECK: vector.reduction <maximumf>
// CHECK: scf.if
// CHECK-NOT: math.floor
// CHECK-NOT: attn.attention
// Recomputed: no scratch; the scores are computed (vector FMAs) in the first
// pass, in every Newton step and in the last pass.
// RECOMPUTE-LABEL: func.func @entmax15
// RECOMPUTE-NOT: memref<?x64xf32>
// RECOMPUTE: math.fma
// RECOMPUTE: scf.while
// RECOMPUTE: math.fma
// RECOMPUTE: vector.reduction <or>
// RECOMPUTE: math.fma
// RECOMPUTE: vector.reduction <maximumf>
// RECOMPUTE-LABEL: func.func @entmax3
func.func @entmax15(%q: tensor<1x2x100x16xf32>, %k: tensor<1x2x100x16xf32>, %v: tensor<1x2x100x16xf32>) -> tensor<1x2x100x16xf32> {
  %o = attn.attention entmax %q, %k, %v [#attn.causal] {alpha = 1.5 : f32}
         : tensor<1x2x100x16xf32>, tensor<1x2x100x16xf32>, tensor<1x2x100x16xf32> -> tensor<1x2x100x16xf32>
  return %o : tensor<1x2x100x16xf32>
}

// alpha = 3: 32 bisection steps instead, with the weights t^beta =
// exp(beta log t), beta = 1/(alpha - 1) = 0.5 (polynomial approximations).
// CHECK-LABEL: func.func @entmax3
// CHECK: memref.alloc
// CHECK-NOT: scf.while
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c1 {
// CHECK: math.floor
// CHECK-NOT: attn.attention
func.func @entmax3(%q: tensor<1x2x100x16xf32>, %k: tensor<1x2x100x16xf32>, %v: tensor<1x2x100x16xf32>) -> tensor<1x2x100x16xf32> {
  %o = attn.attention entmax %q, %k, %v [] {alpha = 3.0 : f32}
         : tensor<1x2x100x16xf32>, tensor<1x2x100x16xf32>, tensor<1x2x100x16xf32> -> tensor<1x2x100x16xf32>
  return %o : tensor<1x2x100x16xf32>
}

// Skv dynamic: the cost model decides per call (scf.if on the scratch size);
// both forms are built.
// CHECK-LABEL: func.func @entmax_dynamic
// CHECK: arith.cmpi ule, %{{.*}}, %c16777216
// CHECK: scf.if
// CHECK: memref.alloc(%{{.*}}) : memref<?x64xf32>
// CHECK: } else {
// CHECK-NOT: memref<?x64xf32>
// CHECK: scf.while
func.func @entmax_dynamic(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32> {
  %o = attn.attention entmax %q, %k, %v [] {alpha = 2.0 : f32}
         : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}
