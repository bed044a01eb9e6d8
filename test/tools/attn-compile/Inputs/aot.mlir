// A program for the ahead-of-time tests: causal GQA attention with lse
// (two results: the results struct of the C interface), Sq = 33 < Skv = 40.
func.func @attention(%q: tensor<1x2x33x16xf32>, %k: tensor<1x1x40x16xf32>,
                     %v: tensor<1x1x40x8xf32>)
    -> (tensor<1x2x33x8xf32>, tensor<1x2x33xf32>) {
  %s = attn.score %q, %k : tensor<1x2x33x16xf32>, tensor<1x1x40x16xf32> -> tensor<1x2x33x40xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x33x40xf32>
  %o, %lse = attn.aggregate softmax %m, %v : tensor<1x2x33x40xf32>, tensor<1x1x40x8xf32>
               -> tensor<1x2x33x8xf32>, tensor<1x2x33xf32>
  return %o, %lse : tensor<1x2x33x8xf32>, tensor<1x2x33xf32>
}
