// With V = I (Dv = Skv) the output rows are the entmax weights themselves:
// the fused (tiled) form's weights become observable.
func.func @weights(%q: tensor<1x4x70x16xf32>, %k: tensor<1x2x150x16xf32>, %v: tensor<1x2x150x150xf32>)
    -> (tensor<1x4x70x150xf32>, tensor<1x4x70x150xf32>, tensor<1x4x70x150xf32>) {
  %o15 = attn.attention entmax %q, %k, %v [#attn.causal] {alpha = 1.5 : f32} : tensor<1x4x70x16xf32>, tensor<1x2x150x16xf32>, tensor<1x2x150x150xf32> -> tensor<1x4x70x150xf32>
  %o2 = attn.attention entmax %q, %k, %v [] {alpha = 2.0 : f32} : tensor<1x4x70x16xf32>, tensor<1x2x150x16xf32>, tensor<1x2x150x150xf32> -> tensor<1x4x70x150xf32>
  %o12 = attn.attention entmax %q, %k, %v [] {alpha = 1.2 : f32} : tensor<1x4x70x16xf32>, tensor<1x2x150x16xf32>, tensor<1x2x150x150xf32> -> tensor<1x4x70x150xf32>
  return %o15, %o2, %o12 : tensor<1x4x70x150xf32>, tensor<1x4x70x150xf32>, tensor<1x4x70x150xf32>
}
