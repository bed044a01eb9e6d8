func.func @gather(%s: tensor<1x1x2x5xf32>, %idx: tensor<1x1x2x2xi32>, %rows: tensor<1x1x2xi1>) -> tensor<1x1x2x5xf32> {
  %m = attn.mask %s [#attn.indices, #attn.rows] (%idx, %rows) : tensor<1x1x2x5xf32>, tensor<1x1x2x2xi32>, tensor<1x1x2xi1>
  return %m : tensor<1x1x2x5xf32>
}
