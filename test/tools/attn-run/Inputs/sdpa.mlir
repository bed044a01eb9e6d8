func.func @sdpa(%q: tensor<1x4x5x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x4x5x8xf32> {
  %s = attn.score %q, %k : tensor<1x4x5x8xf32>, tensor<1x2x6x8xf32> -> tensor<1x4x5x6xf32>
  %o = attn.aggregate softmax %s, %v : tensor<1x4x5x6xf32>, tensor<1x2x6x8xf32> -> tensor<1x4x5x8xf32>
  return %o : tensor<1x4x5x8xf32>
}
