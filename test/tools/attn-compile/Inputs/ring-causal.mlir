// One rank's shard of causal attention (ring.test, ring_driver.c).
func.func @causal(%q: tensor<1x2x48x16xf32>, %k: tensor<1x2x48x16xf32>, %v: tensor<1x2x48x16xf32>) -> tensor<1x2x48x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x2x48x16xf32>, tensor<1x2x48x16xf32>, tensor<1x2x48x16xf32> -> tensor<1x2x48x16xf32>
  return %o : tensor<1x2x48x16xf32>
}
