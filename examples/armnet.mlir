// ARM-Net's adaptive relation modelling (Cai et al., "ARM-Net: Adaptive
// Relation Modeling Network for Structured Data", SIGMOD 2021): feature
// interactions of a table row are selected by α-entmax attention.
//
// Each table row (the batch, B = 64) has m = 13 fields, embedded per head
// (H = 2 heads, 16 dimensions). Each head has K = 8 learned interaction
// queries ("exponential neurons"), shared by every row. Neuron k of head h
// weighs the row's fields with 1.5-entmax of its bilinear scores:
//   w = entmax_1.5(q_hk E_h^T / sqrt(16))
// (low scores get exactly zero weight, so each neuron picks a few fields),
// and combines them multiplicatively, in log space:
//   y_hk = exp(Σ_j w_j log(|E_hj| + 1e-6))    (per embedding dimension).
//
// attn ops: the shared queries broadcast over the rows (linalg.broadcast),
// attn.score, attn.aggregate entmax {alpha = 1.5} over the log-embeddings;
// the exponent is an ordinary linalg.generic. attn-fuse fuses the score and
// the aggregate into one attn.attention entmax: the cpu pipeline runs the
// whole-row tiled form (13 fields: one partial key tile). ARM-Net's
// embedding lookup and the MLP on top of the neurons are ordinary layers
// and left out.

#id4 = affine_map<(b, h, i, d) -> (b, h, i, d)>

func.func @armnet(%neurons: tensor<2x8x16xf32>, %emb: tensor<64x2x13x16xf32>)
    -> tensor<64x2x8x16xf32> {
  %qe = tensor.empty() : tensor<64x2x8x16xf32>
  %q = linalg.broadcast ins(%neurons : tensor<2x8x16xf32>)
         outs(%qe : tensor<64x2x8x16xf32>) dimensions = [0]
  %le = tensor.empty() : tensor<64x2x13x16xf32>
  %logs = linalg.generic {indexing_maps = [#id4, #id4],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%emb : tensor<64x2x13x16xf32>) outs(%le : tensor<64x2x13x16xf32>) {
  ^bb0(%x: f32, %out: f32):
    %eps = arith.constant 1.0e-6 : f32
    %a = math.absf %x : f32
    %p = arith.addf %a, %eps : f32
    %l = math.log %p : f32
    linalg.yield %l : f32
  } -> tensor<64x2x13x16xf32>
  %s = attn.score %q, %emb : tensor<64x2x8x16xf32>, tensor<64x2x13x16xf32>
         -> tensor<64x2x8x13xf32>
  %o = attn.aggregate entmax %s, %logs {alpha = 1.5 : f32}
         : tensor<64x2x8x13xf32>, tensor<64x2x13x16xf32> -> tensor<64x2x8x16xf32>
  %ye = tensor.empty() : tensor<64x2x8x16xf32>
  %y = linalg.generic {indexing_maps = [#id4, #id4],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%o : tensor<64x2x8x16xf32>) outs(%ye : tensor<64x2x8x16xf32>) {
  ^bb0(%x: f32, %out: f32):
    %e = math.exp %x : f32
    linalg.yield %e : f32
  } -> tensor<64x2x8x16xf32>
  return %y : tensor<64x2x8x16xf32>
}
