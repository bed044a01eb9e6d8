// Dense softmax attention, S=4096: the backward the causal and the
// block-sparse ones are compared with. fp32, B=1, H=8, D=64.
func.func @dense4096(%q: tensor<1x8x4096x64xf32>, %k: tensor<1x8x4096x64xf32>, %v: tensor<1x8x4096x64xf32>) -> tensor<1x8x4096x64xf32> {
  %s = attn.score %q, %k : tensor<1x8x4096x64xf32>, tensor<1x8x4096x64xf32> -> tensor<1x8x4096x4096xf32>
  %o = attn.aggregate softmax %s, %v : tensor<1x8x4096x4096xf32>, tensor<1x8x4096x64xf32> -> tensor<1x8x4096x64xf32>
  return %o : tensor<1x8x4096x64xf32>
}
