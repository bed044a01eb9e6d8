// attn-decompose fails, naming the op, when a head count is dynamic.
// RUN: attn-opt %s --attn-decompose -split-input-file -verify-diagnostics

func.func @score_dynamic_heads(%q: tensor<1x?x4x8xf32>, %k: tensor<1x?x4x8xf32>) -> tensor<1x?x4x4xf32> {
  // expected-error @+1 {{'attn.score' op could not be decomposed: the naive form needs static head counts}}
  %s = attn.score %q, %k : tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32> -> tensor<1x?x4x4xf32>
  return %s : tensor<1x?x4x4xf32>
}

// -----

func.func @aggregate_dynamic_heads(%s: tensor<1x2x4x4xf32>, %v: tensor<1x?x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.aggregate' op could not be decomposed: the naive form needs static head counts}}
  %o = attn.aggregate softmax %s, %v : tensor<1x2x4x4xf32>, tensor<1x?x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @linear_grad_dynamic_heads(%q: tensor<1x?x4x8xf32>, %v: tensor<1x?x4x8xf32>) -> (tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>) {
  // expected-error @+1 {{'attn.linear_aggregate_grad' op could not be decomposed: the naive form needs static head counts}}
  %dq, %dk, %dv = attn.linear_aggregate_grad %q, %q, %v, %v, %v {causal} : tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32> -> tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>
  return %dq, %dk, %dv : tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>
}
