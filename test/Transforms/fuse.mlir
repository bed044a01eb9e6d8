// RUN: attn-opt %s --attn-fuse --split-input-file | FileCheck %s

// The whole chain becomes one op carrying both regions, the patterns, their
// operands, the scale, the kind, the sinks and both results.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: (%[[Q:.*]]: tensor<1x4x9x8xf32>, %[[K:.*]]: tensor<1x2x11x8xf32>, %[[V:.*]]: tensor<1x2x11x8xf32>, %[[BIAS:.*]]: tensor<4xf32>, %[[SK:.*]]: tensor<4xf32>, %[[ROWS:.*]]: tensor<1x4x9xi1>)
// CHECK-NOT: attn.score
// CHECK-NOT: attn.mask
// CHECK: %[[O:.*]], %[[L:.*]] = attn.attention softmax %[[Q]], %[[K]], %[[V]] [#attn.causal, #attn.rows] (%[[ROWS]] : tensor<1x4x9xi1>) sinks(%[[SK]] : tensor<4xf32>) {scale = 5.000000e-01 : f32}
// CHECK-SAME: score_mod {
// CHECK: tensor.extract %[[BIAS]]
// CHECK: } mask {
// CHECK: arith.cmpi ne
// CHECK-NOT: attn.aggregate
// CHECK: return %[[O]], %[[L]]
func.func @chain(%q: tensor<1x4x9x8xf32>, %k: tensor<1x2x11x8xf32>, %v: tensor<1x2x11x8xf32>, %bias: tensor<4xf32>, %sk: tensor<4xf32>, %rows: tensor<1x4x9xi1>) -> (tensor<1x4x9x8xf32>, tensor<1x4x9xf32>) {
  %s = attn.score %q, %k {scale = 0.5 : f32} : tensor<1x4x9x8xf32>, tensor<1x2x11x8xf32> -> tensor<1x4x9x11xf32>
  %t = attn.score_mod %s : tensor<1x4x9x11xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %e = tensor.extract %bias[%h] : tensor<4xf32>
    %y = arith.addf %x, %e : f32
    attn.yield %y : f32
  }
  %m = attn.mask %t [#attn.causal, #attn.rows] (%rows) : tensor<1x4x9x11xf32>, tensor<1x4x9xi1> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %keep = arith.cmpi ne, %i, %j : index
    attn.yield %keep : i1
  }
  %o, %l = attn.aggregate softmax %m, %v sinks(%sk) : tensor<1x4x9x11xf32>, tensor<1x2x11x8xf32>, tensor<4xf32> -> tensor<1x4x9x8xf32>, tensor<1x4x9xf32>
  return %o, %l : tensor<1x4x9x8xf32>, tensor<1x4x9xf32>
}

// -----

// Any subset of the chain fuses: score -> aggregate.
// CHECK-LABEL: func.func @score_aggregate
// CHECK: attn.attention none %{{.*}}, %{{.*}}, %{{.*}} [] : tensor<1x1x5x4xf32>, tensor<1x1x6x4xf32>, tensor<1x1x6x4xf32> -> tensor<1x1x5x4xf32>
// CHECK-NOT: score_mod
func.func @score_aggregate(%q: tensor<1x1x5x4xf32>, %k: tensor<1x1x6x4xf32>) -> tensor<1x1x5x4xf32> {
  %s = attn.score %q, %k : tensor<1x1x5x4xf32>, tensor<1x1x6x4xf32> -> tensor<1x1x5x6xf32>
  %o = attn.aggregate none %s, %k : tensor<1x1x5x6xf32>, tensor<1x1x6x4xf32> -> tensor<1x1x5x4xf32>
  return %o : tensor<1x1x5x4xf32>
}

// -----

// Scores used by something other than an attention chain (here a returned
// mask) are not fused: they are needed densely anyway.
// CHECK-LABEL: func.func @shared_scores
// CHECK: attn.score
// CHECK: attn.mask
// CHECK: attn.aggregate
// CHECK-NOT: attn.attention
func.func @shared_scores(%q: tensor<1x1x5x4xf32>) -> (tensor<1x1x5x4xf32>, tensor<1x1x5x5xf32>) {
  %s = attn.score %q, %q : tensor<1x1x5x4xf32>, tensor<1x1x5x4xf32> -> tensor<1x1x5x5xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x1x5x5xf32>
  %o = attn.aggregate softmax %m, %q : tensor<1x1x5x5xf32>, tensor<1x1x5x4xf32> -> tensor<1x1x5x4xf32>
  return %o, %m : tensor<1x1x5x4xf32>, tensor<1x1x5x5xf32>
}

// -----

// Scores (and a score_mod) shared only by attention chains: each chain is
// fused on its own and recomputes them, so no dense scores remain.
// CHECK-LABEL: func.func @chains_share_scores
// CHECK-NOT: attn.score
// CHECK: attn.attention softmax %{{.*}} [#attn.causal]
// CHECK-SAME: score_mod
// CHECK: attn.yield
// CHECK: attn.attention softmax %{{.*}} [#attn.window<left = 1, right = 0>]
// CHECK-SAME: score_mod
// CHECK: attn.yield
// CHECK: attn.attention sigmoid
// CHECK-SAME: score_mod
// CHECK-NOT: attn.score
// CHECK-NOT: attn.mask
func.func @chains_share_scores(%q: tensor<1x1x5x4xf32>) -> (tensor<1x1x5x4xf32>, tensor<1x1x5x4xf32>, tensor<1x1x5x4xf32>) {
  %s = attn.score %q, %q : tensor<1x1x5x4xf32>, tensor<1x1x5x4xf32> -> tensor<1x1x5x5xf32>
  %t = attn.score_mod %s : tensor<1x1x5x5xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %y = math.tanh %x : f32
    attn.yield %y : f32
  }
  %m1 = attn.mask %t [#attn.causal] : tensor<1x1x5x5xf32>
  %o1 = attn.aggregate softmax %m1, %q : tensor<1x1x5x5xf32>, tensor<1x1x5x4xf32> -> tensor<1x1x5x4xf32>
  %m2 = attn.mask %t [#attn.window<left = 1, right = 0>] : tensor<1x1x5x5xf32>
  %o2 = attn.aggregate softmax %m2, %q : tensor<1x1x5x5xf32>, tensor<1x1x5x4xf32> -> tensor<1x1x5x4xf32>
  %o3 = attn.aggregate sigmoid %t, %q : tensor<1x1x5x5xf32>, tensor<1x1x5x4xf32> -> tensor<1x1x5x4xf32>
  return %o1, %o2, %o3 : tensor<1x1x5x4xf32>, tensor<1x1x5x4xf32>, tensor<1x1x5x4xf32>
}

// -----

// A chain that does not start at attn.score (scores from elsewhere) stays.
// CHECK-LABEL: func.func @external_scores
// CHECK: attn.mask
// CHECK: attn.aggregate
// CHECK-NOT: attn.attention
func.func @external_scores(%s: tensor<1x1x5x5xf32>, %v: tensor<1x1x5x4xf32>) -> tensor<1x1x5x4xf32> {
  %m = attn.mask %s [#attn.causal] : tensor<1x1x5x5xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x1x5x5xf32>, tensor<1x1x5x4xf32> -> tensor<1x1x5x4xf32>
  return %o : tensor<1x1x5x4xf32>
}
