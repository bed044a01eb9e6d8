// Zero batch, zero queries and zero keys (docs/language.md, "Sizes"): empty
// results, and with no keys every row is fully masked (output 0, lse -inf).
func.func @no_batch(%q: tensor<0x2x5x8xf32>, %k: tensor<0x1x6x8xf32>, %v: tensor<0x1x6x4xf32>) -> (tensor<0x2x5x4xf32>, tensor<0x2x5xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<0x2x5x8xf32>, tensor<0x1x6x8xf32>, tensor<0x1x6x4xf32> -> tensor<0x2x5x4xf32>, tensor<0x2x5xf32>
  return %o, %l : tensor<0x2x5x4xf32>, tensor<0x2x5xf32>
}
func.func @no_queries(%q: tensor<2x4x0x8xf32>, %k: tensor<2x2x70x8xf32>, %v: tensor<2x2x70x4xf32>) -> (tensor<2x4x0x4xf32>, tensor<2x4x0xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<2x4x0x8xf32>, tensor<2x2x70x8xf32>, tensor<2x2x70x4xf32> -> tensor<2x4x0x4xf32>, tensor<2x4x0xf32>
  return %o, %l : tensor<2x4x0x4xf32>, tensor<2x4x0xf32>
}
func.func @no_keys(%q: tensor<2x4x70x8xf32>, %k: tensor<2x2x0x8xf32>, %v: tensor<2x2x0x4xf32>) -> (tensor<2x4x70x4xf32>, tensor<2x4x70xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<2x4x70x8xf32>, tensor<2x2x0x8xf32>, tensor<2x2x0x4xf32> -> tensor<2x4x70x4xf32>, tensor<2x4x70xf32>
  return %o, %l : tensor<2x4x70x4xf32>, tensor<2x4x70xf32>
}
func.func @no_keys_graph(%q: tensor<2x1x3x8xf32>, %k: tensor<2x1x0x8xf32>, %v: tensor<2x1x0x16xf32>, %ind: tensor<2x1x3x2xi32>) -> tensor<2x1x3x16xf32> {
  %o = attn.attention none %q, %k, %v [#attn.indices] (%ind : tensor<2x1x3x2xi32>) : tensor<2x1x3x8xf32>, tensor<2x1x0x8xf32>, tensor<2x1x0x16xf32> -> tensor<2x1x3x16xf32>
  return %o : tensor<2x1x3x16xf32>
}
func.func @no_keys_linear(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x0x8xf32>, %v: tensor<1x2x0x4xf32>) -> tensor<1x2x5x4xf32> {
  %fq = attn.feature_map elu_plus_one %q : tensor<1x2x5x8xf32> -> tensor<1x2x5x8xf32>
  %fk = attn.feature_map elu_plus_one %k : tensor<1x2x0x8xf32> -> tensor<1x2x0x8xf32>
  %o = attn.linear_aggregate %fq, %fk, %v {normalize} : tensor<1x2x5x8xf32>, tensor<1x2x0x8xf32>, tensor<1x2x0x4xf32> -> tensor<1x2x5x4xf32>
  return %o : tensor<1x2x5x4xf32>
}
