// Verifier errors of sizes: head and feature dimensions of at least 1, at
// least one query head, and tensors whose byte size int64 can count.
// (Batch and sequence lengths may be 0: docs/language.md, "Sizes".)
// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @score_d0(%q: tensor<1x2x5x0xf32>, %k: tensor<1x2x6x0xf32>) -> tensor<1x2x5x6xf32> {
  // expected-error @+1 {{'attn.score' op head dimension D of the query must be at least 1, got 0}}
  %s = attn.score %q, %k : tensor<1x2x5x0xf32>, tensor<1x2x6x0xf32> -> tensor<1x2x5x6xf32>
  return %s : tensor<1x2x5x6xf32>
}

// -----

func.func @aggregate_dv0(%s: tensor<1x2x5x6xf32>, %v: tensor<1x2x6x0xf32>) -> tensor<1x2x5x0xf32> {
  // expected-error @+1 {{'attn.aggregate' op value head dimension Dv must be at least 1, got 0}}
  %o = attn.aggregate softmax %s, %v : tensor<1x2x5x6xf32>, tensor<1x2x6x0xf32> -> tensor<1x2x5x0xf32>
  return %o : tensor<1x2x5x0xf32>
}

// -----

func.func @attention_d0(%q: tensor<1x2x5x0xf32>, %k: tensor<1x2x6x0xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x2x5x8xf32> {
  // expected-error @+1 {{'attn.attention' op head dimension D of the query must be at least 1, got 0}}
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x2x5x0xf32>, tensor<1x2x6x0xf32>, tensor<1x2x6x8xf32> -> tensor<1x2x5x8xf32>
  return %o : tensor<1x2x5x8xf32>
}

// -----

// The reproducers of the crashes in the gather form (#attn.indices, and
// #attn.csr with Dv = 0).
func.func @indices_d0(%q: tensor<1x1x4x0xf32>, %k: tensor<1x1x5x0xf32>, %v: tensor<1x1x5x8xf32>, %idx: tensor<1x1x4x2xi32>) -> tensor<1x1x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op head dimension D of the query must be at least 1, got 0}}
  %o = attn.attention softmax %q, %k, %v [#attn.indices] (%idx : tensor<1x1x4x2xi32>) : tensor<1x1x4x0xf32>, tensor<1x1x5x0xf32>, tensor<1x1x5x8xf32> -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// -----

func.func @csr_dv0(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x5x8xf32>, %v: tensor<1x1x5x0xf32>, %rp: tensor<5xi32>, %cols: tensor<6xi32>) -> tensor<1x1x4x0xf32> {
  // expected-error @+1 {{'attn.attention' op value head dimension Dv must be at least 1, got 0}}
  %o = attn.attention softmax %q, %k, %v [#attn.csr] (%rp, %cols : tensor<5xi32>, tensor<6xi32>) : tensor<1x1x4x8xf32>, tensor<1x1x5x8xf32>, tensor<1x1x5x0xf32> -> tensor<1x1x4x0xf32>
  return %o : tensor<1x1x4x0xf32>
}

// -----

func.func @attention_dv0(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x0xf32>) -> tensor<1x2x5x0xf32> {
  // expected-error @+1 {{'attn.attention' op value head dimension Dv must be at least 1, got 0}}
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x2x5x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x0xf32> -> tensor<1x2x5x0xf32>
  return %o : tensor<1x2x5x0xf32>
}

// -----

func.func @no_query_heads(%q: tensor<1x0x5x8xf32>, %k: tensor<1x1x6x8xf32>, %v: tensor<1x1x6x8xf32>) -> tensor<1x0x5x8xf32> {
  // expected-error @+1 {{'attn.attention' op query heads must be at least 1, got 0}}
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x0x5x8xf32>, tensor<1x1x6x8xf32>, tensor<1x1x6x8xf32> -> tensor<1x0x5x8xf32>
  return %o : tensor<1x0x5x8xf32>
}

// -----

func.func @feature_map_d0(%x: tensor<1x2x4x0xf32>) -> tensor<1x2x4x0xf32> {
  // expected-error @+1 {{'attn.feature_map' op feature dimension of the input must be at least 1, got 0}}
  %f = attn.feature_map elu_plus_one %x : tensor<1x2x4x0xf32> -> tensor<1x2x4x0xf32>
  return %f : tensor<1x2x4x0xf32>
}

// -----

func.func @random_features_f0(%x: tensor<1x2x4x8xf32>, %w: tensor<8x0xf32>) -> tensor<1x2x4x0xf32> {
  // expected-error @+1 {{'attn.feature_map' op feature count F of the weights must be at least 1, got 0}}
  %f = attn.feature_map random_features %x, %w : tensor<1x2x4x8xf32>, tensor<8x0xf32> -> tensor<1x2x4x0xf32>
  return %f : tensor<1x2x4x0xf32>
}

// -----

func.func @linear_f0(%q: tensor<1x2x4x0xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op feature dimension F of the query features must be at least 1, got 0}}
  %o = attn.linear_aggregate %q, %q, %v {causal} : tensor<1x2x4x0xf32>, tensor<1x2x4x0xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @linear_dv0(%q: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x0xf32>) -> tensor<1x2x4x0xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op value head dimension Dv must be at least 1, got 0}}
  %o = attn.linear_aggregate %q, %q, %v {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x0xf32> -> tensor<1x2x4x0xf32>
  return %o : tensor<1x2x4x0xf32>
}

// -----

func.func @linear_grad_dv0(%q: tensor<1x1x4x4xf32>, %v: tensor<1x1x4x0xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.linear_aggregate_grad' op value head dimension Dv must be at least 1, got 0}}
  %dq, %dk, %dv = attn.linear_aggregate_grad %q, %q, %v, %v, %v : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x0xf32>, tensor<1x1x4x0xf32>, tensor<1x1x4x0xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x0xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// A dimension of 2^63 - 1: the query's bytes overflow int64.
func.func @huge(%q: tensor<1x2x9223372036854775807x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x2x9223372036854775807x8xf32> {
  // expected-error @+1 {{'attn.attention' op operand #0 of type 'tensor<1x2x9223372036854775807x8xf32>' has more than 2^63 - 1 bytes}}
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x2x9223372036854775807x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32> -> tensor<1x2x9223372036854775807x8xf32>
  return %o : tensor<1x2x9223372036854775807x8xf32>
}

// -----

// Each operand fits, but the scores [1, 1, 2^32, 2^32] f32 (2^66 bytes) do
// not: result sizes are checked too; dynamic sizes count as unknown.
func.func @huge_scores(%q: tensor<?x1x4294967296x8xf32>, %k: tensor<?x1x4294967296x8xf32>) -> tensor<?x1x4294967296x4294967296xf32> {
  // expected-error @+1 {{'attn.score' op result #0 of type 'tensor<?x1x4294967296x4294967296xf32>' has more than 2^63 - 1 bytes}}
  %s = attn.score %q, %k : tensor<?x1x4294967296x8xf32>, tensor<?x1x4294967296x8xf32> -> tensor<?x1x4294967296x4294967296xf32>
  return %s : tensor<?x1x4294967296x4294967296xf32>
}
