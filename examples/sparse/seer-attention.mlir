// SeerAttention (Gao et al., "SeerAttention: Learning Intrinsic Sparse
// Attention in Your LLMs", 2024): a learned gate predicts which 64 x 64
// blocks of the attention map matter; attention then runs block-sparse.
//
// Gate (per query block qb and key block kb, block size 64):
//   qrep[qb] = mean_{i in qb}(q_i) Wq                        [B, Hq, 8, 16]
//   krep[kb] = concat(max_{j in kb} k_j, min_{j in kb} k_j) Wk  [B, Hkv, 8, 16]
//   keep the top 3 key blocks per query block by <qrep, krep>, among the
//   causally visible ones
// then O = softmax(QK^T / sqrt(D) masked to causal AND kept blocks) V.
// S = 512, Hq = 4, Hkv = 2 (GQA, the gate's key side is per K/V head), D = 32,
// gate width 16. Wq [32, 16] and Wk [64, 16] are the learned gate weights
// (arguments). SeerAttention's RoPE on the pooled vectors is left out.
//
// attn ops: pooling (tensor.expand_shape + linalg.generic / linalg.reduce),
// concatenation (tensor.insert_slice), projections (linalg.generic) -> attn.select_blocks
// reps(krep) qreps(qrep) {causal, top_k = 3} -> attn.score -> attn.mask
// [#attn.causal, #attn.block_mask] -> attn.aggregate softmax.
// Compiled form: the gate runs as linalg; attn-sparsify turns the attention
// into block-sparse key-tile lists built from the selected blocks.

#pool_in  = affine_map<(b, h, n, d, r) -> (b, h, n, r, d)>
#pool_out = affine_map<(b, h, n, d, r) -> (b, h, n, d)>
#proj_x   = affine_map<(b, h, n, g, d) -> (b, h, n, d)>
#proj_w   = affine_map<(b, h, n, g, d) -> (d, g)>
#proj_out = affine_map<(b, h, n, g, d) -> (b, h, n, g)>

func.func @seer_attention(%q: tensor<1x4x512x32xf32>, %k: tensor<1x2x512x32xf32>,
                          %v: tensor<1x2x512x32xf32>,
                          %wq: tensor<32x16xf32>, %wk: tensor<64x16xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x8x8xi1>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %pinf = arith.constant 0x7F800000 : f32
  // Mean-pool Q over each 64-row block: [1, 4, 8, 32].
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
  // Max- and min-pool K over each 64-key block, concatenated: [1, 2, 8, 64].
  %kb = tensor.expand_shape %k [[0], [1], [2, 3], [4]] output_shape [1, 2, 8, 64, 32]
      : tensor<1x2x512x32xf32> into tensor<1x2x8x64x32xf32>
  %kp0 = tensor.empty() : tensor<1x2x8x32xf32>
  %kmax0 = linalg.fill ins(%ninf : f32) outs(%kp0 : tensor<1x2x8x32xf32>) -> tensor<1x2x8x32xf32>
  %kmax = linalg.reduce ins(%kb : tensor<1x2x8x64x32xf32>) outs(%kmax0 : tensor<1x2x8x32xf32>) dimensions = [3]
    (%x: f32, %acc: f32) {
      %a = arith.maximumf %x, %acc : f32
      linalg.yield %a : f32
    }
  %kmin0 = linalg.fill ins(%pinf : f32) outs(%kp0 : tensor<1x2x8x32xf32>) -> tensor<1x2x8x32xf32>
  %kmin = linalg.reduce ins(%kb : tensor<1x2x8x64x32xf32>) outs(%kmin0 : tensor<1x2x8x32xf32>) dimensions = [3]
    (%x: f32, %acc: f32) {
      %a = arith.minimumf %x, %acc : f32
      linalg.yield %a : f32
    }
  %kc0 = tensor.empty() : tensor<1x2x8x64xf32>
  %kc1 = tensor.insert_slice %kmax into %kc0[0, 0, 0, 0] [1, 2, 8, 32] [1, 1, 1, 1]
      : tensor<1x2x8x32xf32> into tensor<1x2x8x64xf32>
  %kpool = tensor.insert_slice %kmin into %kc1[0, 0, 0, 32] [1, 2, 8, 32] [1, 1, 1, 1]
      : tensor<1x2x8x32xf32> into tensor<1x2x8x64xf32>
  // Learned projections: qrep = qpool Wq, krep = kpool Wk.
  %qr0 = tensor.empty() : tensor<1x4x8x16xf32>
  %qrz = linalg.fill ins(%zero : f32) outs(%qr0 : tensor<1x4x8x16xf32>) -> tensor<1x4x8x16xf32>
  %qrep = linalg.generic {indexing_maps = [#proj_x, #proj_w, #proj_out],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%qpool, %wq : tensor<1x4x8x32xf32>, tensor<32x16xf32>) outs(%qrz : tensor<1x4x8x16xf32>) {
    ^bb0(%x: f32, %w: f32, %acc: f32):
      %p = arith.mulf %x, %w : f32
      %a = arith.addf %acc, %p : f32
      linalg.yield %a : f32
  } -> tensor<1x4x8x16xf32>
  %kr0 = tensor.empty() : tensor<1x2x8x16xf32>
  %krz = linalg.fill ins(%zero : f32) outs(%kr0 : tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  %krep = linalg.generic {indexing_maps = [#proj_x, #proj_w, #proj_out],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%kpool, %wk : tensor<1x2x8x64xf32>, tensor<64x16xf32>) outs(%krz : tensor<1x2x8x16xf32>) {
    ^bb0(%x: f32, %w: f32, %acc: f32):
      %p = arith.mulf %x, %w : f32
      %a = arith.addf %acc, %p : f32
      linalg.yield %a : f32
  } -> tensor<1x2x8x16xf32>
  // Gate: top-3 causally visible key blocks per query block.
  %blocks = attn.select_blocks %q, %k reps(%krep) qreps(%qrep)
      {block_q = 64, block_kv = 64, top_k = 3, causal}
      : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32>, tensor<1x2x8x16xf32>, tensor<1x4x8x16xf32>
      -> tensor<1x4x8x8xi1>
  // Block-sparse attention over the kept blocks.
  %s = attn.score %q, %k : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x512xf32>
  %m = attn.mask %s [#attn.causal, #attn.block_mask<block_q = 64, block_kv = 64>] (%blocks)
      : tensor<1x4x512x512xf32>, tensor<1x4x8x8xi1>
  %o = attn.aggregate softmax %m, %v : tensor<1x4x512x512xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x32xf32>
  return %o, %blocks : tensor<1x4x512x32xf32>, tensor<1x4x8x8xi1>
}
