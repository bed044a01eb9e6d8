// Causal softmax attention, S=64: the baseline of the memory row (the
// process with its JIT and runtime, next to nothing for the tensors).
// fp32, B=1, H=8, D=64.
func.func @causal64(%q: tensor<1x8x64x64xf32>, %k: tensor<1x8x64x64xf32>, %v: tensor<1x8x64x64xf32>) -> tensor<1x8x64x64xf32> {
  %s = attn.score %q, %k : tensor<1x8x64x64xf32>, tensor<1x8x64x64xf32> -> tensor<1x8x64x64xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x8x64x64xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x8x64x64xf32>, tensor<1x8x64x64xf32> -> tensor<1x8x64x64xf32>
  return %o : tensor<1x8x64x64xf32>
}
