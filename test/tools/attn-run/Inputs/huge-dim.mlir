func.func @f(%q: tensor<1x2x9223372036854775807x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x2x9223372036854775807x8xf32> {
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x2x9223372036854775807x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32> -> tensor<1x2x9223372036854775807x8xf32>
  return %o : tensor<1x2x9223372036854775807x8xf32>
}
