// Based (Arora et al., "Simple linear attention language models balance the
// recall-throughput tradeoff", ICML 2024): linear attention with a 2nd-order
// Taylor feature map for global recall, plus exact softmax attention over a
// small sliding window for precise local shifts (mechanism D3 of
// docs/language.md).
//
// Linear part. Based approximates exp(q.k / sqrt(d)) by its Taylor series
// 1 + x + x^2/2, x = q.k / sqrt(d), written as a dot product of features
//   phi(y) = [1, y, (y (x) y) / sqrt 2]          (F = 1 + d + d^2)
// of the inputs scaled by d^(-1/4) (so that phi(q').phi(k') = 1 + x + x^2/2
// with q' = q d^(-1/4), k' = k d^(-1/4)). The paper projects q and k to a
// small feature dimension (d = 16 in its models); d = 8 here (F = 73). The
// linear attention is causal and normalised:
//   lin_i = sum_{j <= i} phi(q'_i).phi(k'_j) v_j / (sum_{j <= i} phi(q'_i).phi(k'_j) + eps)
// 1 + x + x^2/2 >= 1/2, so the denominator never vanishes.
// Window part. Exact causal softmax attention over the last 64 keys:
//   win_i = softmax_{i-63 <= j <= i} (q_i.k_j / sqrt(d)) v_j
// Output = lin + win (the two parts summed, as mechanism D3 states).
// S = 256, H = 4, d = 8, Dv = 32.
//
// attn ops: linalg.generic (scale by 8^(-1/4)) -> attn.feature_map taylor2 ->
// attn.linear_aggregate {causal, normalize}; attn.score -> attn.mask
// [#attn.causal, #attn.window<left = 63, right = 0>] -> attn.aggregate
// softmax; linalg.add.
// Compiled form (attn-to-llvm): attn-linearize turns the linear aggregate into
// the chunked O(S) form (per (b, h) a [73, 32] state and a [73] normaliser,
// re-based per chunk); the taylor2 maps are fused into it: each of the 73
// features is formed from the raw 8-wide rows on load (phi(K) once per
// chunk), so the [.., 73] feature tensors never exist. The window
// attention is fused into attn.attention and takes the tiled online-softmax
// form; tiles outside the window band are never visited.

#id = affine_map<(b, h, s, d) -> (b, h, s, d)>

func.func @based(%q: tensor<1x4x256x8xf32>, %k: tensor<1x4x256x8xf32>, %v: tensor<1x4x256x32xf32>)
    -> tensor<1x4x256x32xf32> {
  // q' = q d^(-1/4), k' = k d^(-1/4).
  %qi = tensor.empty() : tensor<1x4x256x8xf32>
  %qs = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : tensor<1x4x256x8xf32>) outs(%qi : tensor<1x4x256x8xf32>) {
    ^bb0(%x: f32, %o: f32):
      %c = arith.constant 0.594603558 : f32   // 8^(-1/4)
      %y = arith.mulf %x, %c : f32
      linalg.yield %y : f32
  } -> tensor<1x4x256x8xf32>
  %ki = tensor.empty() : tensor<1x4x256x8xf32>
  %ks = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k : tensor<1x4x256x8xf32>) outs(%ki : tensor<1x4x256x8xf32>) {
    ^bb0(%x: f32, %o: f32):
      %c = arith.constant 0.594603558 : f32
      %y = arith.mulf %x, %c : f32
      linalg.yield %y : f32
  } -> tensor<1x4x256x8xf32>

  // Taylor linear attention: phi = [1, y, y (x) y / sqrt 2], F = 1 + 8 + 64 = 73.
  %fq = attn.feature_map taylor2 %qs : tensor<1x4x256x8xf32> -> tensor<1x4x256x73xf32>
  %fk = attn.feature_map taylor2 %ks : tensor<1x4x256x8xf32> -> tensor<1x4x256x73xf32>
  %lin = attn.linear_aggregate %fq, %fk, %v {causal, normalize}
      : tensor<1x4x256x73xf32>, tensor<1x4x256x73xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x256x32xf32>

  // Sliding-window softmax attention over the last 64 keys (scale 1/sqrt 8).
  %s = attn.score %q, %k : tensor<1x4x256x8xf32>, tensor<1x4x256x8xf32> -> tensor<1x4x256x256xf32>
  %m = attn.mask %s [#attn.causal, #attn.window<left = 63, right = 0>] : tensor<1x4x256x256xf32>
  %win = attn.aggregate softmax %m, %v : tensor<1x4x256x256xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x256x32xf32>

  // Based sums the two mixers' outputs.
  %init = tensor.empty() : tensor<1x4x256x32xf32>
  %out = linalg.add ins(%lin, %win : tensor<1x4x256x32xf32>, tensor<1x4x256x32xf32>)
                    outs(%init : tensor<1x4x256x32xf32>) -> tensor<1x4x256x32xf32>
  return %out : tensor<1x4x256x32xf32>
}
