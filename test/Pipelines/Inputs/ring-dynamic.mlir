// Causal attention with dynamic sequence sizes: the shards' length comes
// from the global .npy inputs (ring_numpy.py).
func.func @dynamic(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>) -> (tensor<1x2x?x16xf32>, tensor<1x2x?xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?x16xf32>, tensor<1x2x?xf32>
  return %o, %l : tensor<1x2x?x16xf32>, tensor<1x2x?xf32>
}
