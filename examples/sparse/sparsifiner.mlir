// Sparsifiner (Wei et al., "Sparsifiner: Learning Sparse Instance-Dependent
// Attention for Efficient Vision Transformers", CVPR 2023).
//
// A cheap low-rank connectivity predictor ranks the keys of every query;
// each query keeps its top-k keys and full-rank attention is computed over
// those keys only (unstructured, per-instance sparsity):
//   C = (Q W_r)(K W_r)^T          rank r = 8, W_r [D, r] learned
//   N(i) = top-32 keys of row i of C
//   O_i = softmax_{j in N(i)} (<q_i, k_j> / sqrt(D)) v_j
// ViT-style, non-causal: S = 256 tokens (16 x 16 patches), H = 4, D = 32.
// (The predictor's low-rank query/key maps are written here as one W_r
// applied to Q and K, the form of mechanism C8 in docs/language.md.)
//
// attn ops: linalg.generic (low-rank projections) -> attn.score {scale = 1}
// on the projections -> attn.select_topk {top_k = 32} -> attn.score (full) ->
// attn.mask [#attn.indices] -> attn.aggregate softmax.
// Compiled form: the low-rank projections run as linalg; attn-sparsify
// fuses the connectivity scores into select_topk (each rank-8 score is
// computed in one pass per query row that keeps the best 32, so the S x S
// score map is never built) and turns the attention into the gather form:
// per (batch, head, query) a loop over the query's 32 indices.

#x = affine_map<(b, h, s, r, d) -> (b, h, s, d)>
#w = affine_map<(b, h, s, r, d) -> (d, r)>
#o = affine_map<(b, h, s, r, d) -> (b, h, s, r)>

func.func @sparsifiner(%q: tensor<1x4x256x32xf32>, %k: tensor<1x4x256x32xf32>,
                       %v: tensor<1x4x256x32xf32>, %wr: tensor<32x8xf32>)
    -> (tensor<1x4x256x32xf32>, tensor<1x4x256x32xi32>) {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<1x4x256x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%init : tensor<1x4x256x8xf32>) -> tensor<1x4x256x8xf32>
  %qr = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %wr : tensor<1x4x256x32xf32>, tensor<32x8xf32>) outs(%z : tensor<1x4x256x8xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %m = arith.mulf %a, %b : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
  } -> tensor<1x4x256x8xf32>
  %kr = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%k, %wr : tensor<1x4x256x32xf32>, tensor<32x8xf32>) outs(%z : tensor<1x4x256x8xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %m = arith.mulf %a, %b : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
  } -> tensor<1x4x256x8xf32>
  // Connectivity scores and the top-32 keys per query.
  %conn = attn.score %qr, %kr {scale = 1.0 : f32} : tensor<1x4x256x8xf32>, tensor<1x4x256x8xf32> -> tensor<1x4x256x256xf32>
  %idx = attn.select_topk %conn {top_k = 32} : tensor<1x4x256x256xf32> -> tensor<1x4x256x32xi32>
  // Sparse full-rank attention over the selected keys.
  %s = attn.score %q, %k : tensor<1x4x256x32xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x256x256xf32>
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x4x256x256xf32>, tensor<1x4x256x32xi32>
  %out = attn.aggregate softmax %m, %v : tensor<1x4x256x256xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x256x32xf32>
  return %out, %idx : tensor<1x4x256x32xf32>, tensor<1x4x256x32xi32>
}
