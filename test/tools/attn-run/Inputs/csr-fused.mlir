func.func @graph(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x5x8xf32>, %v: tensor<1x1x5x8xf32>, %rp: tensor<5xi32>, %cols: tensor<6xi32>) -> tensor<1x1x4x8xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.csr] (%rp, %cols : tensor<5xi32>, tensor<6xi32>) : tensor<1x1x4x8xf32>, tensor<1x1x5x8xf32>, tensor<1x1x5x8xf32> -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}
