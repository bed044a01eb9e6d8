// The whole-row tiled form of entmax (attn-tile): per (batch, head, query
// tile) the masked scores of every live key tile are written into a heap
// scratch S^T [keys, Br] (key tiles padded, -inf where never computed); each
// row vector's threshold is found over it (Newton's method for alpha <= 2,
// stopping when no lane moves; bisection for alpha > 2); a last pass turns
// scores into weights in place, and P V runs only for key tiles where some
// weight is non-zero. Rows are renormalised; no lse, no key splits.
// RUN: attn-opt %s --attn-tile | FileCheck %s

// CHECK-LABEL: func.func @entmax15
// CHECK: scf.parallel
// CHECK: %[[SCRATCH:.*]] = memref.alloc(%{{.*}}) : memref<?x64xf32>
// CHECK: memref.subview %[[SCRATCH]][%{{.*}}, 0] [64, 64] [1, 1]
// CHECK: math.fma
// CHECK: scf.while
// CHECK: vector.reduction <or>
// CHECK: memref.subview %[[SCRATCH]]
// CHECK: vector.reduction <maximumf>
// CHECK: scf.if
// CHECK-NOT: math.floor
// CHECK-NOT: attn.attention
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
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args(%{{.*}} = %cst{{.*}}, %{{.*}} = %cst{{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK: math.floor
// CHECK-NOT: attn.attention
func.func @entmax3(%q: tensor<1x2x100x16xf32>, %k: tensor<1x2x100x16xf32>, %v: tensor<1x2x100x16xf32>) -> tensor<1x2x100x16xf32> {
  %o = attn.attention entmax %q, %k, %v [] {alpha = 3.0 : f32}
         : tensor<1x2x100x16xf32>, tensor<1x2x100x16xf32>, tensor<1x2x100x16xf32> -> tensor<1x2x100x16xf32>
  return %o : tensor<1x2x100x16xf32>
}
