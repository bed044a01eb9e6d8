// α-entmax gradients (aggregate and normalize) for entmax-grad.test.
func.func @entmax15(%q: tensor<1x2x7x8xf32>, %k: tensor<1x1x9x8xf32>, %v: tensor<1x1x9x4xf32>) -> (tensor<1x2x7x4xf32>, tensor<1x2x7x9xf32>) {
  %s = attn.score %q, %k : tensor<1x2x7x8xf32>, tensor<1x1x9x8xf32> -> tensor<1x2x7x9xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x7x9xf32>
  %o = attn.aggregate entmax %m, %v {alpha = 1.5 : f32} : tensor<1x2x7x9xf32>, tensor<1x1x9x4xf32> -> tensor<1x2x7x4xf32>
  %p = attn.normalize entmax %m {alpha = 1.5 : f32} : tensor<1x2x7x9xf32> -> tensor<1x2x7x9xf32>
  return %o, %p : tensor<1x2x7x4xf32>, tensor<1x2x7x9xf32>
}

func.func @sparsemax(%q: tensor<1x2x7x8xf32>, %k: tensor<1x1x9x8xf32>, %v: tensor<1x1x9x4xf32>) -> (tensor<1x2x7x4xf32>, tensor<1x2x7x9xf32>) {
  %s = attn.score %q, %k : tensor<1x2x7x8xf32>, tensor<1x1x9x8xf32> -> tensor<1x2x7x9xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x7x9xf32>
  %o = attn.aggregate entmax %m, %v {alpha = 2.0 : f32} : tensor<1x2x7x9xf32>, tensor<1x1x9x4xf32> -> tensor<1x2x7x4xf32>
  %p = attn.normalize entmax %m {alpha = 2.0 : f32} : tensor<1x2x7x9xf32> -> tensor<1x2x7x9xf32>
  return %o, %p : tensor<1x2x7x4xf32>, tensor<1x2x7x9xf32>
}

func.func @entmax12(%q: tensor<1x2x7x8xf32>, %k: tensor<1x1x9x8xf32>, %v: tensor<1x1x9x4xf32>) -> tensor<1x2x7x4xf32> {
  %s = attn.score %q, %k : tensor<1x2x7x8xf32>, tensor<1x1x9x8xf32> -> tensor<1x2x7x9xf32>
  %o = attn.aggregate entmax %s, %v {alpha = 1.2 : f32} : tensor<1x2x7x9xf32>, tensor<1x1x9x4xf32> -> tensor<1x2x7x4xf32>
  return %o : tensor<1x2x7x4xf32>
}

func.func @entmax3(%q: tensor<1x2x7x8xf32>, %k: tensor<1x1x9x8xf32>, %v: tensor<1x1x9x4xf32>) -> tensor<1x2x7x4xf32> {
  %s = attn.score %q, %k : tensor<1x2x7x8xf32>, tensor<1x1x9x8xf32> -> tensor<1x2x7x9xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x7x9xf32>
  %o = attn.aggregate entmax %m, %v {alpha = 3.0 : f32} : tensor<1x2x7x9xf32>, tensor<1x1x9x4xf32> -> tensor<1x2x7x4xf32>
  return %o : tensor<1x2x7x4xf32>
}
