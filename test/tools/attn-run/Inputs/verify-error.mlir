func.func @bad(%q: tensor<1x3x4x8xf32>, %k: tensor<1x2x4x8xf32>) -> tensor<1x3x4x4xf32> {
  %s = attn.score %q, %k : tensor<1x3x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x3x4x4xf32>
  return %s : tensor<1x3x4x4xf32>
}
