// MoA: Mixture of Sparse Attention (Fu et al., 2024) — heterogeneous
// sliding windows: every head gets its own causal window span, found offline
// by MoA's profiler, plus the first few "attention sink" tokens
// (StreamingLLM, Xiao et al., 2023) that every head keeps.
//   keep(h, i, j) = j <= i  AND  (j < 4  OR  i - left[h] <= j)
// Spans here: left = [32, 64, 128, 256] for heads 0..3 (a local head up to a
// near-global one). S = 512, Hq = 4, Hkv = 2 (GQA), D = 32.
//
// attn ops: attn.score -> attn.mask [#attn.any<[#attn.sink<count = 4>,
// #attn.window<left = [..per head..], right = 0>]>, #attn.causal] ->
// attn.aggregate softmax (output and log-sum-exp).
// Compiled form: the mask is static, so attn-sparsify leaves the fused
// attn.attention to attn-tile: the tiled online-softmax form, with each key
// tile classified at compile time per head (empty tiles outside the sink and
// the head's window are never visited, full tiles run unmasked). No run-time
// mask data at all.

func.func @moa(%q: tensor<1x4x512x32xf32>, %k: tensor<1x2x512x32xf32>, %v: tensor<1x2x512x32xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x512xf32>) {
  %s = attn.score %q, %k : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x512xf32>
  %m = attn.mask %s [#attn.any<[#attn.sink<count = 4>,
                                #attn.window<left = [32, 64, 128, 256], right = 0>]>,
                     #attn.causal] : tensor<1x4x512x512xf32>
  %o, %lse = attn.aggregate softmax %m, %v
      : tensor<1x4x512x512xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x32xf32>, tensor<1x4x512xf32>
  return %o, %lse : tensor<1x4x512x32xf32>, tensor<1x4x512xf32>
}
