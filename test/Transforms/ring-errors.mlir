// What attn-ring cannot distribute: each error names the op.
// RUN: attn-opt %s --attn-ring --split-input-file -verify-diagnostics

func.func @entmax(%q: tensor<1x1x8x4xf32>) -> tensor<1x1x8x4xf32> {
  // expected-error @+1 {{'attn.attention' op cannot run on the ring: partial results merge by log-sum-exp, which needs softmax, got entmax}}
  %o = attn.attention entmax %q, %q, %q [] {alpha = 1.5 : f32} : tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x8x4xf32>
  return %o : tensor<1x1x8x4xf32>
}

// -----

func.func @rows(%q: tensor<1x1x8x4xf32>, %r: tensor<1x1x8xi1>) -> tensor<1x1x8x4xf32> {
  // expected-error @+1 {{'attn.attention' op cannot run on the ring: no ring form for #attn.rows (position patterns, block masks, #attn.segments and regions travel)}}
  %o = attn.attention softmax %q, %q, %q [#attn.rows] (%r : tensor<1x1x8xi1>) : tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x8x4xf32>
  return %o : tensor<1x1x8x4xf32>
}

// -----

func.func @cross(%q: tensor<1x1x8x4xf32>, %k: tensor<1x1x6x4xf32>) -> tensor<1x1x8x4xf32> {
  // expected-error @+1 {{'attn.attention' op cannot run on the ring: it needs self-attention shapes (Sq = Skv on every rank), got Sq = 8, Skv = 6}}
  %o = attn.attention softmax %q, %k, %k [] : tensor<1x1x8x4xf32>, tensor<1x1x6x4xf32>, tensor<1x1x6x4xf32> -> tensor<1x1x8x4xf32>
  return %o : tensor<1x1x8x4xf32>
}

// -----

func.func @odd(%q: tensor<1x1x7x4xf32>) -> tensor<1x1x7x4xf32> {
  // expected-error @+1 {{'attn.attention' op cannot run on the ring: the zigzag layout needs an even shard length, got 7}}
  %o = attn.attention softmax %q, %q, %q [#attn.causal] : tensor<1x1x7x4xf32>, tensor<1x1x7x4xf32>, tensor<1x1x7x4xf32> -> tensor<1x1x7x4xf32>
  return %o : tensor<1x1x7x4xf32>
}

// -----

// An unfused graph op would see this rank's shard only.
func.func @graph(%q: tensor<1x1x8x4xf32>) -> tensor<1x1x8x8xf32> {
  // expected-error @+1 {{'attn.score' op has no ring form: only fused attention (attn.attention and attn.attention_grad) runs across ranks}}
  %s = attn.score %q, %q : tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x8x8xf32>
  return %s : tensor<1x1x8x8xf32>
}

// -----

// The backward ring has the forward's limits.
func.func @grad_rows(%q: tensor<1x1x8x4xf32>, %l: tensor<1x1x8xf32>, %r: tensor<1x1x8xi1>) -> tensor<1x1x8x4xf32> {
  // expected-error @+1 {{'attn.attention_grad' op cannot run on the ring: no ring form for #attn.rows (position patterns, block masks, #attn.segments and regions travel)}}
  %dq, %dk, %dv = attn.attention_grad softmax %q, %q, %q, %q, %q [#attn.rows] (%r : tensor<1x1x8xi1>) lse(%l : tensor<1x1x8xf32>) : tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>
  return %dq : tensor<1x1x8x4xf32>
}

// -----

func.func @grad_odd(%q: tensor<1x1x7x4xf32>, %l: tensor<1x1x7xf32>) -> tensor<1x1x7x4xf32> {
  // expected-error @+1 {{'attn.attention_grad' op cannot run on the ring: the zigzag layout needs an even shard length, got 7}}
  %dq, %dk, %dv = attn.attention_grad softmax %q, %q, %q, %q, %q [#attn.causal] lse(%l : tensor<1x1x7xf32>) : tensor<1x1x7x4xf32>, tensor<1x1x7x4xf32>, tensor<1x1x7x4xf32>, tensor<1x1x7x4xf32>, tensor<1x1x7x4xf32> -> tensor<1x1x7x4xf32>, tensor<1x1x7x4xf32>, tensor<1x1x7x4xf32>
  return %dq : tensor<1x1x7x4xf32>
}
