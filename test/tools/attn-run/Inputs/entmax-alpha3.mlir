// α = 3 over a per-head sliding window: with these arguments a weight sits
// at its row's support edge, where t^(1/2) turns the f32 rounding of the
// scores into an error of about 2e-4 in every pipeline (naive included).
func.func @f(%q: tensor<1x6x89x24xf32>, %k: tensor<1x2x88x24xf32>, %v: tensor<1x2x88x12xf32>) -> tensor<1x6x89x12xf32> {
  %s0 = attn.score %q, %k : tensor<1x6x89x24xf32>, tensor<1x2x88x24xf32> -> tensor<1x6x89x88xf32>
  %m = attn.mask %s0 [#attn.window<left = [37, 31, 8, 27, 29, 30], right = 5>] : tensor<1x6x89x88xf32>
  %o = attn.aggregate entmax %m, %v {alpha = 3.0 : f32} : tensor<1x6x89x88xf32>, tensor<1x2x88x12xf32> -> tensor<1x6x89x12xf32>
  return %o : tensor<1x6x89x12xf32>
}
