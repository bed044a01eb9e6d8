// Gradients on the ring beyond ring-masks.mlir: a score_mod that reads a
// replicated tensor (a T5-style relative bias, one bucket per distance up to
// 15, at global positions), whose gradient each rank computes a share of.
func.func @relative_bias(%q: tensor<1x2x24x16xf32>, %k: tensor<1x2x24x16xf32>, %v: tensor<1x2x24x16xf32>, %bias: tensor<2x16xf32>) -> (tensor<1x2x24x16xf32>, tensor<1x2x24xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x2x24x16xf32>, tensor<1x2x24x16xf32>, tensor<1x2x24x16xf32> -> tensor<1x2x24x16xf32>, tensor<1x2x24xf32>
    score_mod {
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %d = arith.subi %i, %j : index
      %c15 = arith.constant 15 : index
      %bucket = arith.minui %d, %c15 : index
      %t = tensor.extract %bias[%h, %bucket] : tensor<2x16xf32>
      %r = arith.addf %x, %t : f32
      attn.yield %r : f32
    }
  return %o, %l : tensor<1x2x24x16xf32>, tensor<1x2x24xf32>
}
// GQA with shards longer than a tile (tiles of 64, 72 positions per rank).
func.func @causal_long(%q: tensor<1x4x72x16xf32>, %k: tensor<1x2x72x16xf32>, %v: tensor<1x2x72x16xf32>) -> tensor<1x4x72x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x4x72x16xf32>, tensor<1x2x72x16xf32>, tensor<1x2x72x16xf32> -> tensor<1x4x72x16xf32>
  return %o : tensor<1x4x72x16xf32>
}
