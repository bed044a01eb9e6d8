// LSH-bucketed attention: Reformer (Kitaev et al., ICLR 2020) with shared
// query/key projections, hashed by sign patterns of random projections
// (SimHash) as in HyperAttention's sortLSH (Han et al., ICLR 2024).
//
// Shared-QK: one tensor x is both query and key. With P = 3 random planes
// R [D, 3], bucket(t) = sum_p [<x_t, R[:, p]> > 0] 2^p (8 buckets); a token
// attends causally to the tokens of its own bucket:
//   keep(i, j) = j <= i  AND  bucket(i) == bucket(j)
// Differences from the papers: Reformer hashes by argmax over [xR; -xR] and
// uses several hash rounds, and masks attention to the token itself; both
// papers cut the sorted order into equal-size chunks (a token may also see
// the neighbouring chunk), whereas here buckets are exact and of any size.
// S = 512, H = 4, D = 32.
//
// attn ops: attn.lsh -> attn.score x, x -> attn.mask [#attn.causal,
// #attn.segments] (bucket, bucket) -> attn.aggregate softmax.
// Compiled form (attn-sparsify): block-sparse key-tile lists over sorted
// buckets: queries and keys are stably radix-sorted by bucket id per
// (batch, head), every bucket is a contiguous run of tiles, attention is
// block-diagonal in the sorted order (the sort-by-bucket step of both papers),
// and the output rows are written back to their original positions.

func.func @lsh(%x: tensor<1x4x512x32xf32>, %v: tensor<1x4x512x32xf32>, %planes: tensor<32x3xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x512xf32>, tensor<1x4x512xi32>) {
  %bucket = attn.lsh %x, %planes : tensor<1x4x512x32xf32>, tensor<32x3xf32> -> tensor<1x4x512xi32>
  %s = attn.score %x, %x : tensor<1x4x512x32xf32>, tensor<1x4x512x32xf32> -> tensor<1x4x512x512xf32>
  %m = attn.mask %s [#attn.causal, #attn.segments] (%bucket, %bucket)
      : tensor<1x4x512x512xf32>, tensor<1x4x512xi32>, tensor<1x4x512xi32>
  %o, %lse = attn.aggregate softmax %m, %v
      : tensor<1x4x512x512xf32>, tensor<1x4x512x32xf32> -> tensor<1x4x512x32xf32>, tensor<1x4x512xf32>
  return %o, %lse, %bucket : tensor<1x4x512x32xf32>, tensor<1x4x512xf32>, tensor<1x4x512xi32>
}
