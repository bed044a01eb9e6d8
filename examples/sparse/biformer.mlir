// BiFormer bi-level routing attention (Zhu et al., "BiFormer: Vision
// Transformer with Bi-Level Routing Attention", CVPR 2023).
//
// A 16 x 16 feature map is split into 16 regions of 4 x 4 tokens; tokens are
// stored region-major (the 16 tokens of region r are positions 16r..16r+15),
// as BiFormer's region partition does. Per head:
//   1. region affinity A = mean_r(Q) mean_r(K)^T            [16 x 16 regions]
//   2. each query region keeps its top-4 key regions (routing)
//   3. token-to-token attention of every query over the union of the keys
//      of its region's 4 routed regions (non-causal)
// S = 256, H = 4, D = 32. BiFormer's local context enhancement (a depthwise
// conv on V added to the output) is ordinary convolution and left out.
//
// attn ops: attn.select_blocks {pool = "mean", top_k = 4, block 16} ->
// attn.score -> attn.mask [#attn.block_mask<16, 16>] -> attn.aggregate.
// Compiled form: select_blocks runs as linalg; attn-sparsify turns the
// attention into block-sparse key-tile lists (the 16-token regions are read
// at their own size inside larger compute tiles).

func.func @biformer(%q: tensor<1x4x256x32xf32>, %k: tensor<1x4x256x32xf32>,
                    %v: tensor<1x4x256x32xf32>)
    -> (tensor<1x4x256x32xf32>, tensor<1x4x16x16xi1>) {
  %routes = attn.select_blocks %q, %k {block_q = 16, block_kv = 16, top_k = 4, pool = "mean"}
      : tensor<1x4x256x32xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x16x16xi1>
  %s = attn.score %q, %k : tensor<1x4x256x32xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x256x256xf32>
  %m = attn.mask %s [#attn.block_mask<block_q = 16, block_kv = 16>] (%routes)
      : tensor<1x4x256x256xf32>, tensor<1x4x16x16xi1>
  %o = attn.aggregate softmax %m, %v : tensor<1x4x256x256xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x256x32xf32>
  return %o, %routes : tensor<1x4x256x32xf32>, tensor<1x4x16x16xi1>
}
