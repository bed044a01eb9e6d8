// The attribute syntax the generated reference shows (attr-syntax-docs.test).
func.func @f(%s: tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32> {
  %m = attn.mask %s [#attn.any<[#attn.causal, #attn.sink<count = 4>]>, #attn.block_local<block = 8, halo = 2>, #attn.chunk<size = 16>, #attn.prefix<length = 3>] : tensor<1x1x8x8xf32>
  return %m : tensor<1x1x8x8xf32>
}
