// Combiner (Ren et al., "Combiner: Full Attention Transformer with Sparse
// Computation Cost", NeurIPS 2021), Combiner-Fixed in the autoregressive
// setting, mechanism D7 of docs/language.md.
//
// Full attention is read as a conditional expectation and factorised: each
// query attends directly to the keys of its own region (the local span) and
// indirectly, through one summary per region, to every earlier region. The
// sequence is cut into regions of 32 tokens (about sqrt(S)); a region's
// summary is its mean-pooled key and mean-pooled value (uniform local
// expectation):
//   kbar_r = mean_{j in region r} k_j,   vbar_r = mean_{j in region r} v_j
//   direct  (o1, lse1): softmax over j <= i, j in region(i)   of q_i.k_j / sqrt(D), values v_j
//   summary (o2, lse2): softmax over r < region(i)            of q_i.kbar_r / sqrt(D), values vbar_r
//   out_i = (e^lse1 o1 + e^lse2 o2) / (e^lse1 + e^lse2)
// i.e. one softmax over {direct keys} U {region summaries}, merged by
// log-sum-exp (attn.merge). Queries of region 0 have no earlier region: the
// summary part is fully masked (o2 = 0, lse2 = -inf) and the merge returns
// the direct part alone. Every position is reached (full attention) at
// O(S sqrt S) cost. S = 256 (8 regions), H = 4, D = Dv = 32.
//
// attn ops: tensor.expand_shape + linalg.generic (mean pooling of K and V
// per region); direct: attn.score -> attn.mask [#attn.causal,
// #attn.block_local<block = 32, halo = 0>] -> attn.aggregate softmax -> (o1,
// lse1); summaries: attn.score (q against [B, H, 8, D] summaries) ->
// attn.mask with a predicate region (r < i / 32) -> attn.aggregate softmax
// -> (o2, lse2); attn.merge.
// Compiled form (attn-to-llvm): both attentions are fused into attn.attention
// and take the tiled online-softmax form with compile-time mask analysis
// (the direct part visits only the diagonal 32-key blocks); both return lse
// from the online softmax; pooling and attn.merge run as linalg. No linear
// aggregate: the O(S sqrt S) cost comes from the masks.

#pool_in  = affine_map<(b, h, r, d, t) -> (b, h, r, t, d)>
#pool_out = affine_map<(b, h, r, d, t) -> (b, h, r, d)>

func.func @combiner(%q: tensor<1x4x256x32xf32>, %k: tensor<1x4x256x32xf32>, %v: tensor<1x4x256x32xf32>)
    -> (tensor<1x4x256x32xf32>, tensor<1x4x256xf32>) {
  %zero = arith.constant 0.0 : f32

  // Region summaries: mean-pooled keys and values, [1, 4, 8, 32].
  %kr = tensor.expand_shape %k [[0], [1], [2, 3], [4]] output_shape [1, 4, 8, 32, 32]
      : tensor<1x4x256x32xf32> into tensor<1x4x8x32x32xf32>
  %vr = tensor.expand_shape %v [[0], [1], [2, 3], [4]] output_shape [1, 4, 8, 32, 32]
      : tensor<1x4x256x32xf32> into tensor<1x4x8x32x32xf32>
  %p0 = tensor.empty() : tensor<1x4x8x32xf32>
  %pz = linalg.fill ins(%zero : f32) outs(%p0 : tensor<1x4x8x32xf32>) -> tensor<1x4x8x32xf32>
  %kbar = linalg.generic {indexing_maps = [#pool_in, #pool_out],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%kr : tensor<1x4x8x32x32xf32>) outs(%pz : tensor<1x4x8x32xf32>) {
    ^bb0(%x: f32, %acc: f32):
      %inv = arith.constant 0.03125 : f32   // 1/32
      %xs = arith.mulf %x, %inv : f32
      %a = arith.addf %acc, %xs : f32
      linalg.yield %a : f32
  } -> tensor<1x4x8x32xf32>
  %vbar = linalg.generic {indexing_maps = [#pool_in, #pool_out],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%vr : tensor<1x4x8x32x32xf32>) outs(%pz : tensor<1x4x8x32xf32>) {
    ^bb0(%x: f32, %acc: f32):
      %inv = arith.constant 0.03125 : f32
      %xs = arith.mulf %x, %inv : f32
      %a = arith.addf %acc, %xs : f32
      linalg.yield %a : f32
  } -> tensor<1x4x8x32xf32>

  // Direct expectation: causal attention inside the query's own region.
  %s1 = attn.score %q, %k : tensor<1x4x256x32xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x256x256xf32>
  %m1 = attn.mask %s1 [#attn.causal, #attn.block_local<block = 32, halo = 0>] : tensor<1x4x256x256xf32>
  %o1, %lse1 = attn.aggregate softmax %m1, %v
      : tensor<1x4x256x256xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x256x32xf32>, tensor<1x4x256xf32>

  // Indirect expectation: attention to the summaries of the earlier regions.
  %s2 = attn.score %q, %kbar : tensor<1x4x256x32xf32>, tensor<1x4x8x32xf32> -> tensor<1x4x256x8xf32>
  %m2 = attn.mask %s2 [] : tensor<1x4x256x8xf32> {
  ^bb0(%b: index, %h: index, %i: index, %r: index):
    %c32 = arith.constant 32 : index
    %own = arith.divui %i, %c32 : index
    %earlier = arith.cmpi ult, %r, %own : index
    attn.yield %earlier : i1
  }
  %o2, %lse2 = attn.aggregate softmax %m2, %vbar
      : tensor<1x4x256x8xf32>, tensor<1x4x8x32xf32> -> tensor<1x4x256x32xf32>, tensor<1x4x256xf32>

  // One softmax over both sets: merge the partial results by log-sum-exp.
  %o, %lse = attn.merge %o1, %lse1, %o2, %lse2
      : tensor<1x4x256x32xf32>, tensor<1x4x256xf32>, tensor<1x4x256x32xf32>, tensor<1x4x256xf32>
      -> tensor<1x4x256x32xf32>, tensor<1x4x256xf32>
  return %o, %lse : tensor<1x4x256x32xf32>, tensor<1x4x256xf32>
}
