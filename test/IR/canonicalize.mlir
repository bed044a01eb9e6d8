// RUN: attn-opt %s --canonicalize --split-input-file | FileCheck %s

// A mask with no pattern and no predicate is the identity.
// CHECK-LABEL: func.func @empty_mask
// CHECK-SAME: (%[[S:.*]]: tensor<1x2x4x4xf32>)
// CHECK-NOT: attn.mask
// CHECK: return %[[S]]
func.func @empty_mask(%s: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %m = attn.mask %s [] : tensor<1x2x4x4xf32>
  return %m : tensor<1x2x4x4xf32>
}

// -----

// Intersection is idempotent: repeated operand-free patterns are dropped,
// patterns with operands are kept.
// CHECK-LABEL: func.func @duplicate_patterns
// CHECK: attn.mask %{{.*}} [#attn.causal, #attn.rows, #attn.rows] (%{{.*}}, %{{.*}})
func.func @duplicate_patterns(%s: tensor<1x2x4x4xf32>, %r: tensor<1x2x4xi1>) -> tensor<1x2x4x4xf32> {
  %m = attn.mask %s [#attn.causal, #attn.rows, #attn.causal, #attn.rows] (%r, %r) : tensor<1x2x4x4xf32>, tensor<1x2x4xi1>, tensor<1x2x4xi1>
  return %m : tensor<1x2x4x4xf32>
}

// -----

// A mask with a predicate region is kept.
// CHECK-LABEL: func.func @predicate_kept
// CHECK: attn.mask
func.func @predicate_kept(%s: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %m = attn.mask %s [] : tensor<1x2x4x4xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %keep = arith.cmpi uge, %i, %j : index
    attn.yield %keep : i1
  }
  return %m : tensor<1x2x4x4xf32>
}
