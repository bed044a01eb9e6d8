// Fixed block-sparse attention (Sparse Transformer, Child et al. 2019;
// BigBird / Longformer-style layouts; Triton/FlashAttention "block-sparse").
//
// The layout is a per-head i1 block mask [B, H, S/64, S/64] given as an
// argument: query block qb may see key block kb iff layout[b, h, qb, kb].
// Here it is intersected with causal, as in a decoder:
//   O = softmax(QK^T / sqrt(D) + mask) V,  mask = causal AND layout (block 64)
// S = 512 (8 x 8 blocks), Hq = 4 query heads sharing Hkv = 2 K/V heads (GQA),
// D = 32. Rows with no visible key return 0 (lse = -inf).
//
// attn ops: attn.score -> attn.mask [#attn.causal, #attn.block_mask] ->
// attn.aggregate softmax (output and log-sum-exp).
// Compiled form (attn-sparsify): block-sparse key-tile lists. A compaction
// pass lists, per (batch, head, query tile), the key tiles that meet a kept
// block and that causal allows; the kernel visits only those tiles (full
// tiles unmasked, partial tiles masked per element).
//
// attn-run --random-args draws the layout with P(true) = 0.75.

func.func @block_sparse(%q: tensor<1x4x512x32xf32>, %k: tensor<1x2x512x32xf32>,
                        %v: tensor<1x2x512x32xf32>, %layout: tensor<1x4x8x8xi1>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x512xf32>) {
  %s = attn.score %q, %k : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x512xf32>
  %m = attn.mask %s [#attn.causal, #attn.block_mask<block_q = 64, block_kv = 64>] (%layout)
      : tensor<1x4x512x512xf32>, tensor<1x4x8x8xi1>
  %o, %lse = attn.aggregate softmax %m, %v
      : tensor<1x4x512x512xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x32xf32>, tensor<1x4x512xf32>
  return %o, %lse : tensor<1x4x512x32xf32>, tensor<1x4x512xf32>
}
