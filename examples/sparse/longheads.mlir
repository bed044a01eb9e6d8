// LongHeads (Lu et al., "LongHeads: Multi-Head Attention is Secretly a Long
// Context Processor", 2024): every head attends to a few chunks of its own
// choosing, so the heads together cover a long context while each one sees
// only a short window.
//
// The sequence is cut into chunks of 64 tokens. Per head, each query chunk
// scores every causally visible key chunk by <mean(q chunk), mean(k chunk)>,
// keeps its top-2, and always keeps the first chunk (attention sink) and its
// own (local) chunk; attention is causal over the tokens of the kept chunks:
//   sel(qc) = top-2 chunks  U  {0}  U  {qc}
//   O_i     = softmax_{j <= i, j / 64 in sel(i / 64)} (<q_i, k_j> / sqrt(D)) v_j
// Chunk scores from mean-pooled queries and keys; LongHeads' own chunk
// representation and per-token selection while decoding are not modelled.
// S = 512 (8 chunks), Hq = 4, Hkv = 2 (GQA), D = 32.
//
// attn ops: attn.select_blocks {pool = "mean", top_k = 2, causal} ->
// linalg.generic ORs the first and the local chunk into the i1 block mask
// (so one #attn.block_mask carries the whole selection) -> attn.score ->
// attn.mask [#attn.causal, #attn.block_mask<64, 64>] -> attn.aggregate.
// Compiled form: block-sparse key-tile lists (at most 4 key chunks per query
// chunk are visited).

#id4 = affine_map<(b, h, qc, kc) -> (b, h, qc, kc)>

func.func @longheads(%q: tensor<1x4x512x32xf32>, %k: tensor<1x2x512x32xf32>,
                     %v: tensor<1x2x512x32xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x512xf32>, tensor<1x4x8x8xi1>) {
  %top = attn.select_blocks %q, %k {block_q = 64, block_kv = 64, top_k = 2, pool = "mean", causal}
      : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x8x8xi1>
  // sel[qc, kc] = top[qc, kc] OR kc == 0 OR kc == qc.
  %init = tensor.empty() : tensor<1x4x8x8xi1>
  %sel = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%top : tensor<1x4x8x8xi1>) outs(%init : tensor<1x4x8x8xi1>) {
    ^bb0(%t: i1, %o: i1):
      %qc = linalg.index 2 : index
      %kc = linalg.index 3 : index
      %c0 = arith.constant 0 : index
      %first = arith.cmpi eq, %kc, %c0 : index
      %local = arith.cmpi eq, %kc, %qc : index
      %fixed = arith.ori %first, %local : i1
      %keep = arith.ori %t, %fixed : i1
      linalg.yield %keep : i1
  } -> tensor<1x4x8x8xi1>
  %s = attn.score %q, %k : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x512xf32>
  %m = attn.mask %s [#attn.causal, #attn.block_mask<block_q = 64, block_kv = 64>] (%sel)
      : tensor<1x4x512x512xf32>, tensor<1x4x8x8xi1>
  %o, %lse = attn.aggregate softmax %m, %v
      : tensor<1x4x512x512xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x32xf32>, tensor<1x4x512xf32>
  return %o, %lse, %sel : tensor<1x4x512x32xf32>, tensor<1x4x512xf32>, tensor<1x4x8x8xi1>
}
