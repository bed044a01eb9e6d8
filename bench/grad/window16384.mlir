// Sliding window of 256 keys (causal, the query's own key included),
// S=16384: the backward's growth from S=8192 (window8192.mlir).
// fp32, B=1, H=8, D=64.
func.func @window16384(%q: tensor<1x8x16384x64xf32>, %k: tensor<1x8x16384x64xf32>, %v: tensor<1x8x16384x64xf32>) -> tensor<1x8x16384x64xf32> {
  %s = attn.score %q, %k : tensor<1x8x16384x64xf32>, tensor<1x8x16384x64xf32> -> tensor<1x8x16384x16384xf32>
  %m = attn.mask %s [#attn.causal, #attn.window<left = 255, right = 0>] : tensor<1x8x16384x16384xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x8x16384x16384xf32>, tensor<1x8x16384x64xf32> -> tensor<1x8x16384x64xf32>
  return %o : tensor<1x8x16384x64xf32>
}
