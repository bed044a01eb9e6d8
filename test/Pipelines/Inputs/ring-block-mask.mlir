// Block masks on the ring: the mask is the whole sequence's (replicated,
// read at global positions), so its block counts are written dynamic in
// the shard's program. Blocks of 8 queries x 16 keys, which zigzag chunks
// of 12 positions (P = 4) straddle. Run by ring_block_mask.py.
func.func @block_mask(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>, %bm: tensor<1x2x?x?xi1>) -> (tensor<1x2x?x16xf32>, tensor<1x2x?xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.block_mask<block_q = 8, block_kv = 16>, #attn.causal] (%bm : tensor<1x2x?x?xi1>) : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?x16xf32>, tensor<1x2x?xf32>
  return %o, %l : tensor<1x2x?x16xf32>, tensor<1x2x?xf32>
}
