func.func @f(%s: tensor<1x1x2x5xf32>) -> tensor<1x1x2x5xf32> {
  %idx = arith.constant dense<[[[[0, 7], [1, -1]]]]> : tensor<1x1x2x2xi32>
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x1x2x5xf32>, tensor<1x1x2x2xi32>
  return %m : tensor<1x1x2x5xf32>
}
