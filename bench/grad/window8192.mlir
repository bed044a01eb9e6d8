// Sliding window of 256 keys (causal, the query's own key included),
// S=8192: the backward's growth from S=8192 to 16384 (window16384.mlir).
// fp32, B=1, H=8, D=64.
func.func @window8192(%q: tensor<1x8x8192x64xf32>, %k: tensor<1x8x8192x64xf32>, %v: tensor<1x8x8192x64xf32>) -> tensor<1x8x8192x64xf32> {
  %s = attn.score %q, %k : tensor<1x8x8192x64xf32>, tensor<1x8x8192x64xf32> -> tensor<1x8x8192x8192xf32>
  %m = attn.mask %s [#attn.causal, #attn.window<left = 255, right = 0>] : tensor<1x8x8192x8192xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x8x8192x8192xf32>, tensor<1x8x8192x64xf32> -> tensor<1x8x8192x64xf32>
  return %o : tensor<1x8x8192x64xf32>
}
