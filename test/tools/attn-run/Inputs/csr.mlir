func.func @graph(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x5x8xf32>, %v: tensor<1x1x5x8xf32>, %rp: tensor<5xi32>, %cols: tensor<6xi32>) -> tensor<1x1x4x8xf32> {
  %s = attn.score %q, %k : tensor<1x1x4x8xf32>, tensor<1x1x5x8xf32> -> tensor<1x1x4x5xf32>
  %m = attn.mask %s [#attn.csr] (%rp, %cols) : tensor<1x1x4x5xf32>, tensor<5xi32>, tensor<6xi32>
  %o = attn.aggregate softmax %m, %v : tensor<1x1x4x5xf32>, tensor<1x1x5x8xf32> -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}
