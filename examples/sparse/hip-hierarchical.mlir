// HiP attention, hierarchical top-k pruning (Lee et al., "HiP Attention:
// Sparse Sub-Quadratic Attention with Hierarchical Attention Pruning", 2024),
// two levels of the tree search.
//
// Per head and query block of 64 queries (pooled by mean), each key block is
// represented by one token, its centre key (as HiP's representative token):
//   1. coarse: among the causally visible 128-key blocks, keep the top 2;
//   2. fine: among the 32-key blocks inside the kept coarse blocks (and
//      causally visible), keep the top 4 -- the search descends only into
//      the selected parents;
//   3. causal attention over the tokens of the kept fine blocks.
// HiP runs log2(T) such levels in O(T log T); two fixed levels here.
// S = 512 (4 coarse, 16 fine blocks), Hq = 4, Hkv = 2 (GQA), D = 32.
//
// attn ops: representatives by strided tensor.extract_slice; query pooling by
// linalg.generic; level 1 attn.select_blocks reps() qreps(); level 2 scores
// the fine representatives with attn.score on the pooled tensors (a [8 x 16]
// block-level score map), masks it with the coarse selection
// (#attn.block_mask<block_q = 1, block_kv = 4>: 4 fine blocks per coarse
// block) and a causal predicate, picks with attn.select_topk and turns the
// indices into an i1 block mask with linalg.generic. The attention mask
// lists [#attn.causal, coarse block_mask<64, 128>, fine block_mask<64, 32>];
// patterns in one attn.mask intersect (the coarse one is implied by the fine
// one here). Note: with select_blocks alone, a fine level would be selected
// over all blocks and then intersected with the coarse one -- not a tree
// search; hence the masked select_topk for level 2.
// Compiled form: the selection runs as linalg, except select_topk, which
// attn-sparsify lowers to one pass per row of the masked [8 x 16] block
// scores; attn-sparsify turns the attention into block-sparse key-tile lists
// (both block masks read at their own block size).

#pool_in  = affine_map<(b, h, n, d, r) -> (b, h, n, r, d)>
#pool_out = affine_map<(b, h, n, d, r) -> (b, h, n, d)>
#sel_idx  = affine_map<(b, h, qb, kb, t) -> (b, h, qb, t)>
#sel_out  = affine_map<(b, h, qb, kb, t) -> (b, h, qb, kb)>

func.func @hip(%q: tensor<1x4x512x32xf32>, %k: tensor<1x2x512x32xf32>, %v: tensor<1x2x512x32xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x8x4xi1>, tensor<1x4x8x16xi1>) {
  %zero = arith.constant 0.0 : f32
  %false = arith.constant false
  // Query blocks pooled by mean: [1, 4, 8, 32].
  %qb = tensor.expand_shape %q [[0], [1], [2, 3], [4]] output_shape [1, 4, 8, 64, 32]
      : tensor<1x4x512x32xf32> into tensor<1x4x8x64x32xf32>
  %qp0 = tensor.empty() : tensor<1x4x8x32xf32>
  %qpz = linalg.fill ins(%zero : f32) outs(%qp0 : tensor<1x4x8x32xf32>) -> tensor<1x4x8x32xf32>
  %qpool = linalg.generic {indexing_maps = [#pool_in, #pool_out],
                           iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%qb : tensor<1x4x8x64x32xf32>) outs(%qpz : tensor<1x4x8x32xf32>) {
    ^bb0(%x: f32, %acc: f32):
      %inv = arith.constant 0.015625 : f32   // 1/64
      %xs = arith.mulf %x, %inv : f32
      %a = arith.addf %acc, %xs : f32
      linalg.yield %a : f32
  } -> tensor<1x4x8x32xf32>
  // Representative tokens: the centre key of every 128- and 32-key block.
  %rep_coarse = tensor.extract_slice %k[0, 0, 64, 0] [1, 2, 4, 32] [1, 1, 128, 1]
      : tensor<1x2x512x32xf32> to tensor<1x2x4x32xf32>
  %rep_fine = tensor.extract_slice %k[0, 0, 16, 0] [1, 2, 16, 32] [1, 1, 32, 1]
      : tensor<1x2x512x32xf32> to tensor<1x2x16x32xf32>
  // Level 1: top-2 coarse blocks per query block.
  %coarse = attn.select_blocks %q, %k reps(%rep_coarse) qreps(%qpool)
      {block_q = 64, block_kv = 128, top_k = 2, causal}
      : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32>, tensor<1x2x4x32xf32>, tensor<1x4x8x32xf32>
      -> tensor<1x4x8x4xi1>
  // Level 2: fine blocks scored only inside the kept coarse blocks.
  %fs = attn.score %qpool, %rep_fine {scale = 1.0 : f32}
      : tensor<1x4x8x32xf32>, tensor<1x2x16x32xf32> -> tensor<1x4x8x16xf32>
  %fsm = attn.mask %fs [#attn.block_mask<block_q = 1, block_kv = 4>] (%coarse)
      : tensor<1x4x8x16xf32>, tensor<1x4x8x4xi1> {
  ^bb0(%b: index, %h: index, %qi: index, %kj: index):
    // Causal at block level: the fine block's first key 32 kj is visible to
    // the query block's last query 64 qi + 63.
    %c32 = arith.constant 32 : index
    %c64 = arith.constant 64 : index
    %c63 = arith.constant 63 : index
    %first = arith.muli %kj, %c32 : index
    %q0 = arith.muli %qi, %c64 : index
    %last = arith.addi %q0, %c63 : index
    %vis = arith.cmpi ule, %first, %last : index
    attn.yield %vis : i1
  }
  %idx = attn.select_topk %fsm {top_k = 4} : tensor<1x4x8x16xf32> -> tensor<1x4x8x4xi32>
  // Indices -> i1 block mask: fine[qb, kb] = any_t idx[qb, t] == kb (-1 never matches).
  %f0 = tensor.empty() : tensor<1x4x8x16xi1>
  %ff = linalg.fill ins(%false : i1) outs(%f0 : tensor<1x4x8x16xi1>) -> tensor<1x4x8x16xi1>
  %fine = linalg.generic {indexing_maps = [#sel_idx, #sel_out],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%idx : tensor<1x4x8x4xi32>) outs(%ff : tensor<1x4x8x16xi1>) {
    ^bb0(%t: i32, %acc: i1):
      %kb = linalg.index 3 : index
      %kbi = arith.index_cast %kb : index to i32
      %hit = arith.cmpi eq, %t, %kbi : i32
      %any = arith.ori %acc, %hit : i1
      linalg.yield %any : i1
  } -> tensor<1x4x8x16xi1>
  // Token-level attention over the kept fine blocks.
  %s = attn.score %q, %k : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x512xf32>
  %m = attn.mask %s [#attn.causal,
                     #attn.block_mask<block_q = 64, block_kv = 128>,
                     #attn.block_mask<block_q = 64, block_kv = 32>] (%coarse, %fine)
      : tensor<1x4x512x512xf32>, tensor<1x4x8x4xi1>, tensor<1x4x8x16xi1>
  %o = attn.aggregate softmax %m, %v : tensor<1x4x512x512xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x32xf32>
  return %o, %coarse, %fine : tensor<1x4x512x32xf32>, tensor<1x4x8x4xi1>, tensor<1x4x8x16xi1>
}
