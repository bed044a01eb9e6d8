// Decoding across ranks (ring_sweep.py ... decode): each function holds one
// rank's contiguous shard of the keys and values (the key length times P
// globally) and the replicated queries, the last Sq positions.
// One query, GQA, lse and sink logits.
func.func @decode_one(%q: tensor<2x4x1x16xf32>, %k: tensor<2x2x40x16xf32>, %v: tensor<2x2x40x8xf32>, %s: tensor<4xf32>) -> (tensor<2x4x1x8xf32>, tensor<2x4x1xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.causal] sinks(%s : tensor<4xf32>) : tensor<2x4x1x16xf32>, tensor<2x2x40x16xf32>, tensor<2x2x40x8xf32> -> tensor<2x4x1x8xf32>, tensor<2x4x1xf32>
  return %o, %l : tensor<2x4x1x8xf32>, tensor<2x4x1xf32>
}
// A few queries (speculative decoding), a window that leaves most ranks'
// keys out, and StreamingLLM's sinks; bf16.
func.func @decode_window(%q: tensor<1x2x3x16xbf16>, %k: tensor<1x2x36x16xbf16>, %v: tensor<1x2x36x16xbf16>) -> (tensor<1x2x3x16xbf16>, tensor<1x2x3xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.any<[#attn.sink<count = 4>, #attn.window<left = 20, right = 0>]>, #attn.causal] : tensor<1x2x3x16xbf16>, tensor<1x2x36x16xbf16>, tensor<1x2x36x16xbf16> -> tensor<1x2x3x16xbf16>, tensor<1x2x3xf32>
  return %o, %l : tensor<1x2x3x16xbf16>, tensor<1x2x3xf32>
}
// Packed documents: the key ids travel with the keys' shard.
func.func @decode_segments(%q: tensor<2x2x2x16xf32>, %k: tensor<2x2x30x16xf32>, %v: tensor<2x2x30x16xf32>, %qs: tensor<2x2xi32>, %ks: tensor<2x30xi32>) -> tensor<2x2x2x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.segments, #attn.causal] (%qs, %ks : tensor<2x2xi32>, tensor<2x30xi32>) : tensor<2x2x2x16xf32>, tensor<2x2x30x16xf32>, tensor<2x2x30x16xf32> -> tensor<2x2x2x16xf32>
  return %o : tensor<2x2x2x16xf32>
}
