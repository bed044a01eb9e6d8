// Attention as an RNN (Feng et al., "Attention as an RNN", 2024: Aaren),
// mechanism D6 of docs/language.md.
//
// One query token q per head (Aaren's learned query) attends to every prefix
// x_1..x_t of the sequence; output t is exact softmax attention over keys
// 0..t:
//   o_t = sum_{j <= t} exp(s_j - m_t) v_j / sum_{j <= t} exp(s_j - m_t),
//   s_j = scale q . k_j,   m_t = max_{j <= t} s_j
// i.e. a many-to-many RNN whose state (m, numerator, denominator) is
// combined by an associative operator.
//
// attn ops: linalg.broadcast puts q on every query row, then the ordinary
// causal attention graph attn.score -> attn.mask [#attn.causal] ->
// attn.aggregate softmax (with lse, which the token-by-token update of
// aaren-step.mlir carries).
// Compiled form (attn-to-llvm): attn-scan sees that every query row is the
// same vector and replaces the O(S^2) tiled causal kernel by the O(S) scan
// form: the scores s_j once per key, then a parallel prefix scan of
// (max, numerator, denominator) over key chunks -- local reductions, an
// exclusive scan of the chunk states, and a rescan that writes each o_t.
// S = 512, H = 4, D = Dv = 32.

func.func @aaren(%q: tensor<1x4x32xf32>, %k: tensor<1x4x512x32xf32>,
                 %v: tensor<1x4x512x32xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x512xf32>) {
  %e = tensor.empty() : tensor<1x4x512x32xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x4x32xf32>)
          outs(%e : tensor<1x4x512x32xf32>) dimensions = [2]
  %s = attn.score %qb, %k : tensor<1x4x512x32xf32>, tensor<1x4x512x32xf32>
         -> tensor<1x4x512x512xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x4x512x512xf32>
  %o, %lse = attn.aggregate softmax %m, %v
               : tensor<1x4x512x512xf32>, tensor<1x4x512x32xf32>
               -> tensor<1x4x512x32xf32>, tensor<1x4x512xf32>
  return %o, %lse : tensor<1x4x512x32xf32>, tensor<1x4x512xf32>
}
