// A causal, decayed linear-attention gradient (GQA 4/2, 300 positions: not a
// multiple of the chunk) for --random-args runs of linear-grad.test.
func.func @f(%q: tensor<2x4x300x16xf32>, %k: tensor<2x2x300x16xf32>, %v: tensor<2x2x300x16xf32>, %o: tensor<2x4x300x16xf32>, %do: tensor<2x4x300x16xf32>, %l: tensor<4xf32>) -> (tensor<2x4x300x16xf32>, tensor<2x2x300x16xf32>, tensor<2x2x300x16xf32>, tensor<4xf32>) {
  %dq, %dk, %dv, %dl = attn.linear_aggregate_grad %q, %k, %v, %o, %do decay(%l) {causal} : tensor<2x4x300x16xf32>, tensor<2x2x300x16xf32>, tensor<2x2x300x16xf32>, tensor<2x4x300x16xf32>, tensor<2x4x300x16xf32>, tensor<4xf32> -> tensor<2x4x300x16xf32>, tensor<2x2x300x16xf32>, tensor<2x2x300x16xf32>, tensor<4xf32>
  return %dq, %dk, %dv, %dl : tensor<2x4x300x16xf32>, tensor<2x2x300x16xf32>, tensor<2x2x300x16xf32>, tensor<4xf32>
}
