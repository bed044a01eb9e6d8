// RUN: attn-opt %s --attn-grad --split-input-file | FileCheck %s

// A fused softmax attention: the forward is recomputed with an lse, and one
// attn.attention_grad gives dQ, dK, dV, d(sinks) and the captured bias'
// gradient. Integer arguments (rows) get no gradient; the lse result takes
// a cotangent.
// CHECK-LABEL: func.func @chain_grad
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<1x4x9x8xf32>, %[[K:[^:]*]]: tensor<1x2x11x8xf32>, %[[V:[^:]*]]: tensor<1x2x11x8xf32>, %[[BIAS:[^:]*]]: tensor<4xf32>, %[[SK:[^:]*]]: tensor<4xf32>, %[[ROWS:[^:]*]]: tensor<1x4x9xi1>, %[[DO:[^:]*]]: tensor<1x4x9x8xf32>, %[[DL:[^:]*]]: tensor<1x4x9xf32>)
// CHECK-SAME: -> (tensor<1x4x9x8xf32>, tensor<1x2x11x8xf32>, tensor<1x2x11x8xf32>, tensor<4xf32>, tensor<4xf32>)
// CHECK: %[[O:.*]], %[[L:.*]] = attn.attention softmax %[[Q]], %[[K]], %[[V]] [#attn.causal, #attn.rows] (%[[ROWS]] : tensor<1x4x9xi1>) sinks(%[[SK]]
// CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]], %[[DSK:.*]], %[[DB:.*]] = attn.attention_grad softmax %[[Q]], %[[K]], %[[V]], %[[O]], %[[DO]] [#attn.causal, #attn.rows] (%[[ROWS]] : tensor<1x4x9xi1>) lse(%[[L]] : tensor<1x4x9xf32>) grad_lse(%[[DL]] : tensor<1x4x9xf32>) sinks(%[[SK]] : tensor<4xf32>) captures(%[[BIAS]] : tensor<4xf32>) {scale = 5.000000e-01 : f32}
// CHECK-SAME: score_mod
// CHECK: mask
// CHECK: return %[[DQ]], %[[DK]], %[[DV]], %[[DB]], %[[DSK]]
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
    %ne = arith.cmpi ne, %i, %j : index
    attn.yield %ne : i1
  }
  %o, %lse = attn.aggregate softmax %m, %v sinks(%sk) : tensor<1x4x9x11xf32>, tensor<1x2x11x8xf32>, tensor<4xf32> -> tensor<1x4x9x8xf32>, tensor<1x4x9xf32>
  return %o, %lse : tensor<1x4x9x8xf32>, tensor<1x4x9xf32>
}

// -----

// Without an lse result the recomputed forward still gets one; no lse
// cotangent. The original function is kept unchanged.
// CHECK-LABEL: func.func @plain(
// CHECK: attn.score
// CHECK-LABEL: func.func @plain_grad(
// CHECK-SAME: %{{.*}}: tensor<1x2x8x4xf16>, %{{.*}}: tensor<1x2x8x4xf16>, %{{.*}}: tensor<1x2x8x4xf16>, %{{.*}}: tensor<1x2x8x4xf16>) -> (tensor<1x2x8x4xf16>, tensor<1x2x8x4xf16>, tensor<1x2x8x4xf16>)
// CHECK: %[[O:.*]], %[[L:.*]] = attn.attention softmax
// CHECK: attn.attention_grad softmax {{.*}} lse(%[[L]] : tensor<1x2x8xf32>) :
// CHECK-NOT: grad_lse
func.func @plain(%q: tensor<1x2x8x4xf16>, %k: tensor<1x2x8x4xf16>, %v: tensor<1x2x8x4xf16>) -> tensor<1x2x8x4xf16> {
  %s = attn.score %q, %k : tensor<1x2x8x4xf16>, tensor<1x2x8x4xf16> -> tensor<1x2x8x8xf32>
  %o = attn.aggregate softmax %s, %v : tensor<1x2x8x8xf32>, tensor<1x2x8x4xf16> -> tensor<1x2x8x4xf16>
  return %o : tensor<1x2x8x4xf16>
}

// -----

// Linear attention with decay: one attn.linear_aggregate_grad, dλ included;
// the elementwise feature map's rule is a linalg.generic.
// CHECK-LABEL: func.func @linear_grad(
// CHECK-SAME: -> (tensor<1x2x16x4xf32>, tensor<1x2x16x4xf32>, tensor<1x2x16x4xf32>, tensor<2xf32>)
// CHECK: attn.feature_map elu_plus_one
// CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]], %[[DL:.*]] = attn.linear_aggregate_grad {{.*}} decay(%{{.*}}) {causal}
// CHECK: linalg.generic
// CHECK: return %{{.*}}, %[[DK]], %[[DV]], %[[DL]]
func.func @linear(%q: tensor<1x2x16x4xf32>, %k: tensor<1x2x16x4xf32>, %v: tensor<1x2x16x4xf32>, %lam: tensor<2xf32>) -> tensor<1x2x16x4xf32> {
  %fq = attn.feature_map elu_plus_one %q : tensor<1x2x16x4xf32> -> tensor<1x2x16x4xf32>
  %o = attn.linear_aggregate %fq, %k, %v decay(%lam) {causal} : tensor<1x2x16x4xf32>, tensor<1x2x16x4xf32>, tensor<1x2x16x4xf32>, tensor<2xf32> -> tensor<1x2x16x4xf32>
  return %o : tensor<1x2x16x4xf32>
}

// -----

// Selection ops pass nothing: the scores that feed select_topk get no
// gradient from it, and the i32 indices take no cotangent.
// CHECK-LABEL: func.func @topk_grad(
// CHECK-SAME: %{{[^:]*}}: tensor<1x1x8x4xf32>, %{{[^:]*}}: tensor<1x1x8x4xf32>, %{{[^:]*}}: tensor<1x1x8x4xf32>, %{{[^:]*}}: tensor<1x1x8x4xf32>)
// CHECK: attn.select_topk
// CHECK: attn.mask %{{.*}} [#attn.indices]
// CHECK-NOT: attn.select_topk
// CHECK: return
func.func @topk(%q: tensor<1x1x8x4xf32>, %k: tensor<1x1x8x4xf32>, %v: tensor<1x1x8x4xf32>) -> (tensor<1x1x8x4xf32>, tensor<1x1x8x2xi32>) {
  %s = attn.score %q, %k : tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x8x8xf32>
  %idx = attn.select_topk %s {top_k = 2} : tensor<1x1x8x8xf32> -> tensor<1x1x8x2xi32>
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x1x8x8xf32>, tensor<1x1x8x2xi32>
  %o = attn.aggregate softmax %m, %v : tensor<1x1x8x8xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x8x4xf32>
  return %o, %idx : tensor<1x1x8x4xf32>, tensor<1x1x8x2xi32>
}
