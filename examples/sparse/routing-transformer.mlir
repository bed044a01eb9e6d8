// Routing Transformer (Roy et al., "Efficient Content-Based Sparse Attention
// with Routing Transformers", TACL 2021).
//
// Per head, queries and keys are routed to the nearest of C = 4 centroids
// (online k-means centroids, passed in as [H, C, D]); a query attends,
// causally, only to the keys routed to its own centroid:
//   cq(i) = argmin_c |q_i - mu_c|^2,  ck(j) = argmin_c |k_j - mu_c|^2
//   keep(i, j) = j <= i  AND  cq(i) == ck(j)
// Not expressible yet: the balanced assignment of the paper (each centroid
// takes its top-w nearest tokens, so clusters have equal size) -- no op
// produces it; here every token goes to its nearest centroid, so cluster
// sizes vary. S = 512, H = 4, D = 32.
//
// attn ops: attn.cluster (Q and K) -> attn.score -> attn.mask
// [#attn.segments, #attn.causal] (cq, ck) -> attn.aggregate softmax.
// Compiled form (attn-sparsify): block-sparse key-tile lists over sorted
// buckets. The cluster ids come in any order, so queries and keys are stably
// radix-sorted by id per (batch, head); each cluster is then a contiguous run
// of tiles and attention is block-diagonal in the sorted order. Causal is
// evaluated per element on the visited tiles (positions are permuted).

func.func @routing(%q: tensor<1x4x512x32xf32>, %k: tensor<1x4x512x32xf32>,
                   %v: tensor<1x4x512x32xf32>, %centroids: tensor<4x4x32xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x512xi32>, tensor<1x4x512xi32>) {
  %cq = attn.cluster %q, %centroids : tensor<1x4x512x32xf32>, tensor<4x4x32xf32> -> tensor<1x4x512xi32>
  %ck = attn.cluster %k, %centroids : tensor<1x4x512x32xf32>, tensor<4x4x32xf32> -> tensor<1x4x512xi32>
  %s = attn.score %q, %k : tensor<1x4x512x32xf32>, tensor<1x4x512x32xf32> -> tensor<1x4x512x512xf32>
  %m = attn.mask %s [#attn.segments, #attn.causal] (%cq, %ck)
      : tensor<1x4x512x512xf32>, tensor<1x4x512xi32>, tensor<1x4x512xi32>
  %o = attn.aggregate softmax %m, %v : tensor<1x4x512x512xf32>, tensor<1x4x512x32xf32> -> tensor<1x4x512x32xf32>
  return %o, %cq, %ck : tensor<1x4x512x32xf32>, tensor<1x4x512xi32>, tensor<1x4x512xi32>
}
