// f16 and bf16 arguments: gradients are computed in f64 and returned with
// the argument's element type; the i1 block mask gets none.
func.func @half(%q: tensor<1x2x5x4xf16>, %k: tensor<1x2x6x4xf16>,
                %v: tensor<1x2x6x3xf16>, %bm: tensor<1x1x2x2xi1>)
    -> tensor<1x2x5x3xf16> {
  %s = attn.score %q, %k : tensor<1x2x5x4xf16>, tensor<1x2x6x4xf16> -> tensor<1x2x5x6xf32>
  %m = attn.mask %s [#attn.causal, #attn.block_mask<block_q = 4, block_kv = 4>] (%bm) : tensor<1x2x5x6xf32>, tensor<1x1x2x2xi1>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x5x6xf32>, tensor<1x2x6x3xf16> -> tensor<1x2x5x3xf16>
  return %o : tensor<1x2x5x3xf16>
}

func.func @brain(%q: tensor<1x2x5x4xbf16>, %k: tensor<1x1x7x4xbf16>,
                 %v: tensor<1x1x7x3xbf16>) -> tensor<1x2x5x3xbf16> {
  %s = attn.score %q, %k : tensor<1x2x5x4xbf16>, tensor<1x1x7x4xbf16> -> tensor<1x2x5x7xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x5x7xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x5x7xf32>, tensor<1x1x7x3xbf16> -> tensor<1x2x5x3xbf16>
  return %o : tensor<1x2x5x3xbf16>
}
