// Causal self-attention with grouped-query heads (8 query heads share 2
// key/value heads), B=1, S=512, D=64.
func.func @causal(%q: tensor<1x8x512x64xf32>, %k: tensor<1x2x512x64xf32>,
                  %v: tensor<1x2x512x64xf32>) -> tensor<1x8x512x64xf32> {
  %s = attn.score %q, %k : tensor<1x8x512x64xf32>, tensor<1x2x512x64xf32> -> tensor<1x8x512x512xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x8x512x512xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x8x512x512xf32>, tensor<1x2x512x64xf32> -> tensor<1x8x512x64xf32>
  return %o : tensor<1x8x512x64xf32>
}
