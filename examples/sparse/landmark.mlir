// Landmark attention (Mohtashami & Jaggi, "Landmark Attention: Random-Access
// Infinite Context Length for Transformers", NeurIPS 2023), retrieval form.
//
// The context is cut into blocks of 64 tokens; each block has one landmark
// token whose key (landmark[b, h, kb], [B, Hkv, 8, D], an argument here)
// represents the block. Each query scores the landmarks of the blocks it may
// see (causal), keeps its top-2 blocks, always keeps its own (local) block,
// and attends causally to the tokens of those blocks:
//   sel(i)  = top-2_{kb : 64 kb <= i} <q_i, landmark[kb]>  U  {i / 64}
//   O_i     = softmax_{j <= i, j / 64 in sel(i)} (<q_i, k_j> / sqrt(D)) v_j
// Selection is per query (block_q = 1), as in the paper; block_q = 64 would
// select once per query block instead. The paper's grouped softmax (block
// weights from the landmark scores) is not modelled: plain softmax over the
// retrieved tokens. S = 512, Hq = 4, Hkv = 2 (GQA), D = 32.
//
// attn ops: attn.select_blocks reps(landmark) {block_q = 1, block_kv = 64,
// top_k = 2, causal} -> linalg.generic (OR the local block into the i1 mask)
// -> attn.score -> attn.mask [#attn.causal, #attn.block_mask<1, 64>] ->
// attn.aggregate softmax.
// Compiled form: block-sparse key-tile lists (a query tile visits the union
// of its rows' blocks; rows are masked per element in partial tiles).

#id4 = affine_map<(b, h, i, kb) -> (b, h, i, kb)>

func.func @landmark(%q: tensor<1x4x512x32xf32>, %k: tensor<1x2x512x32xf32>,
                    %v: tensor<1x2x512x32xf32>, %landmark: tensor<1x2x8x32xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x512x8xi1>) {
  %top = attn.select_blocks %q, %k reps(%landmark) {block_q = 1, block_kv = 64, top_k = 2, causal}
      : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x512x8xi1>
  // Always keep the query's own block: sel[i, kb] |= (kb == i / 64).
  %init = tensor.empty() : tensor<1x4x512x8xi1>
  %sel = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%top : tensor<1x4x512x8xi1>) outs(%init : tensor<1x4x512x8xi1>) {
    ^bb0(%t: i1, %o: i1):
      %i = linalg.index 2 : index
      %kb = linalg.index 3 : index
      %c64 = arith.constant 64 : index
      %own = arith.divui %i, %c64 : index
      %local = arith.cmpi eq, %kb, %own : index
      %keep = arith.ori %t, %local : i1
      linalg.yield %keep : i1
  } -> tensor<1x4x512x8xi1>
  %s = attn.score %q, %k : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x512xf32>
  %m = attn.mask %s [#attn.causal, #attn.block_mask<block_q = 1, block_kv = 64>] (%sel)
      : tensor<1x4x512x512xf32>, tensor<1x4x512x8xi1>
  %o = attn.aggregate softmax %m, %v : tensor<1x4x512x512xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x32xf32>
  return %o, %sel : tensor<1x4x512x32xf32>, tensor<1x4x512x8xi1>
}
