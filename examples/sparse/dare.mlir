// DARE-style decoupled two-stage attention (Feng et al., "Long-Sequence
// Recommendation Models Need Decoupled Embeddings", ICLR 2025: Decoupled
// Attention and Representation Embeddings). A target item searches a long
// user-behaviour history with one set of embeddings, then aggregates the
// retrieved behaviours with another, so retrieval and aggregation do not
// compete for one embedding space.
//
//   stage 1 (search):    N(t) = top-32 behaviours j by <qa_t, ka_j>
//                        (retrieval embeddings Qa, Ka, width 16)
//   stage 2 (attention): O_t = softmax_{j in N(t)} (<q_t, k_j> / sqrt(D)) v_j
// This is the two-stage form of mechanism C9 in docs/language.md (stage 2
// with its own Q, K, V).
// In DARE itself the stage-2 weights also use the attention embeddings and
// only the values come from the representation table: pass Qa, Ka to the
// second attn.score for that. Target attention, non-causal: Sq = 16
// candidate items, Skv = 512 behaviours, Hq = 4, Hkv = 2 (GQA), D = 32.
//
// attn ops: attn.score (Qa, Ka) -> attn.select_topk {top_k = 32};
// attn.score (Q, K) -> attn.mask [#attn.indices] -> attn.aggregate softmax.
// Compiled form (attn-sparsify): stage 1 is one pass per target that
// computes each retrieval score <qa_t, ka_j> in the loop and keeps the best
// 32 (the retrieval score has no other use, so select_topk is fused with it
// and no Sq x Skv score map exists, see docs/sparse-forms.md); stage 2 takes
// the gather form: per (batch, head, target) one loop over its 32
// retrieved behaviours.

func.func @dare(%qa: tensor<1x4x16x16xf32>, %ka: tensor<1x2x512x16xf32>,
                %q: tensor<1x4x16x32xf32>, %k: tensor<1x2x512x32xf32>, %v: tensor<1x2x512x32xf32>)
    -> (tensor<1x4x16x32xf32>, tensor<1x4x16xf32>, tensor<1x4x16x32xi32>) {
  // Stage 1: search with the retrieval embeddings (Qa, Ka).
  %ra = attn.score %qa, %ka : tensor<1x4x16x16xf32>, tensor<1x2x512x16xf32> -> tensor<1x4x16x512xf32>
  %idx = attn.select_topk %ra {top_k = 32} : tensor<1x4x16x512xf32> -> tensor<1x4x16x32xi32>
  // Stage 2: attention with (Q, K, V) over the retrieved behaviours.
  %s = attn.score %q, %k : tensor<1x4x16x32xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x16x512xf32>
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x4x16x512xf32>, tensor<1x4x16x32xi32>
  %o, %lse = attn.aggregate softmax %m, %v
      : tensor<1x4x16x512xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
  return %o, %lse, %idx : tensor<1x4x16x32xf32>, tensor<1x4x16xf32>, tensor<1x4x16x32xi32>
}
