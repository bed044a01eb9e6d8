// MoH: Mixture-of-Head attention (Jin et al., "MoH: Multi-Head Attention as
// Head-Routing Mixture-of-Experts", 2024). Heads are experts: a router picks
// the top-k heads per token, only those (token, head) rows are computed, and
// the head outputs are weighted by the router's gate before the output
// projection.
//
//   logits[t, :] = x_t W_r                          x [B, S, 64], W_r [64, H]
//   sel(t)       = top-2 heads of logits[t, :]       (ties to the lower head)
//   g[h, t]      = softmax over h in sel(t) of logits[t, h], 0 for other heads
//   Y[h, t]      = g[h, t] * Attn_h(t)    (causal; rows h not in sel(t) skipped)
// Y [B, H, S, D] is what MoH feeds to W_O (sum_h Y_h W_O^h); W_O and MoH's
// always-active shared heads and two-level gate are left out.
// S = 512, Hq = 4, Hkv = 2 (GQA), D = 32.
//
// attn ops: router, ranking and gates in linalg.generic / linalg.reduce;
// attn.score -> attn.mask [#attn.causal, #attn.rows] (sel as i1 [B, H, S]) ->
// attn.aggregate softmax -> linalg.generic weighting.
// Compiled form (attn-sparsify): block-sparse key-tile lists driven by the
// row mask: per (batch, head) the live rows are moved ahead of the dead ones,
// so dead rows fill whole query tiles with empty lists and are never
// computed (output 0); the causal bounds come from the live rows' intervals
// (docs/sparse-forms.md).

#rt_x   = affine_map<(b, s, h, d) -> (b, s, d)>
#rt_w   = affine_map<(b, s, h, d) -> (d, h)>
#rt_out = affine_map<(b, s, h, d) -> (b, s, h)>
#rk_me  = affine_map<(b, h, s, g) -> (b, s, h)>
#rk_oth = affine_map<(b, h, s, g) -> (b, s, g)>
#rk_out = affine_map<(b, h, s, g) -> (b, h, s)>
#bhs    = affine_map<(b, h, s) -> (b, h, s)>
#bsh    = affine_map<(b, h, s) -> (b, s, h)>
#bs     = affine_map<(b, h, s) -> (b, s)>
#o4     = affine_map<(b, h, s, d) -> (b, h, s, d)>
#g4     = affine_map<(b, h, s, d) -> (b, h, s)>
#z4     = affine_map<(b, h, s, d) -> (b, s)>

func.func @moh(%x: tensor<1x512x64xf32>, %wr: tensor<64x4xf32>,
               %q: tensor<1x4x512x32xf32>, %k: tensor<1x2x512x32xf32>, %v: tensor<1x2x512x32xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x512xi1>) {
  %fzero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %izero = arith.constant 0 : i32
  // Router logits [1, 512, 4].
  %l0 = tensor.empty() : tensor<1x512x4xf32>
  %lz = linalg.fill ins(%fzero : f32) outs(%l0 : tensor<1x512x4xf32>) -> tensor<1x512x4xf32>
  %logits = linalg.generic {indexing_maps = [#rt_x, #rt_w, #rt_out],
                            iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %wr : tensor<1x512x64xf32>, tensor<64x4xf32>) outs(%lz : tensor<1x512x4xf32>) {
    ^bb0(%a: f32, %w: f32, %acc: f32):
      %p = arith.mulf %a, %w : f32
      %s = arith.addf %acc, %p : f32
      linalg.yield %s : f32
  } -> tensor<1x512x4xf32>
  // rank[h, t] = #{g : logit g beats logit h}; keep the heads of rank < 2.
  %r0 = tensor.empty() : tensor<1x4x512xi32>
  %rz = linalg.fill ins(%izero : i32) outs(%r0 : tensor<1x4x512xi32>) -> tensor<1x4x512xi32>
  %rank = linalg.generic {indexing_maps = [#rk_me, #rk_oth, #rk_out],
                          iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%logits, %logits : tensor<1x512x4xf32>, tensor<1x512x4xf32>) outs(%rz : tensor<1x4x512xi32>) {
    ^bb0(%mine: f32, %other: f32, %acc: i32):
      %h = linalg.index 1 : index
      %g = linalg.index 3 : index
      %gt = arith.cmpf ogt, %other, %mine : f32
      %eq = arith.cmpf oeq, %other, %mine : f32
      %lower = arith.cmpi ult, %g, %h : index
      %tie = arith.andi %eq, %lower : i1
      %beats = arith.ori %gt, %tie : i1
      %one = arith.extui %beats : i1 to i32
      %n = arith.addi %acc, %one : i32
      linalg.yield %n : i32
  } -> tensor<1x4x512xi32>
  %s0 = tensor.empty() : tensor<1x4x512xi1>
  %sel = linalg.generic {indexing_maps = [#bhs, #bhs], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%rank : tensor<1x4x512xi32>) outs(%s0 : tensor<1x4x512xi1>) {
    ^bb0(%r: i32, %o: i1):
      %c2 = arith.constant 2 : i32
      %keep = arith.cmpi slt, %r, %c2 : i32
      linalg.yield %keep : i1
  } -> tensor<1x4x512xi1>
  // Attention on the selected (head, token) rows only.
  %s = attn.score %q, %k : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x512xf32>
  %m = attn.mask %s [#attn.causal, #attn.rows] (%sel) : tensor<1x4x512x512xf32>, tensor<1x4x512xi1>
  %o = attn.aggregate softmax %m, %v : tensor<1x4x512x512xf32>, tensor<1x2x512x32xf32> -> tensor<1x4x512x32xf32>
  // Gates: softmax of the logits over the selected heads (the top head is
  // selected, so the max over all heads is the max over the selected ones).
  %m0 = tensor.empty() : tensor<1x512xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%m0 : tensor<1x512xf32>) -> tensor<1x512xf32>
  %lmax = linalg.reduce ins(%logits : tensor<1x512x4xf32>) outs(%mi : tensor<1x512xf32>) dimensions = [2]
    (%a: f32, %acc: f32) {
      %r = arith.maximumf %a, %acc : f32
      linalg.yield %r : f32
    }
  %e0 = tensor.empty() : tensor<1x4x512xf32>
  %e = linalg.generic {indexing_maps = [#bhs, #bsh, #bs, #bhs], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%sel, %logits, %lmax : tensor<1x4x512xi1>, tensor<1x512x4xf32>, tensor<1x512xf32>)
      outs(%e0 : tensor<1x4x512xf32>) {
    ^bb0(%on: i1, %l: f32, %mx: f32, %out: f32):
      %d = arith.subf %l, %mx : f32
      %ex = math.exp %d : f32
      %c0 = arith.constant 0.0 : f32
      %r = arith.select %on, %ex, %c0 : f32
      linalg.yield %r : f32
  } -> tensor<1x4x512xf32>
  %zi = linalg.fill ins(%fzero : f32) outs(%m0 : tensor<1x512xf32>) -> tensor<1x512xf32>
  %z = linalg.reduce ins(%e : tensor<1x4x512xf32>) outs(%zi : tensor<1x512xf32>) dimensions = [1]
    (%a: f32, %acc: f32) {
      %r = arith.addf %a, %acc : f32
      linalg.yield %r : f32
    }
  // Y[h, t] = g[h, t] * O[h, t].
  %y0 = tensor.empty() : tensor<1x4x512x32xf32>
  %y = linalg.generic {indexing_maps = [#o4, #g4, #z4, #o4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%o, %e, %z : tensor<1x4x512x32xf32>, tensor<1x4x512xf32>, tensor<1x512xf32>)
      outs(%y0 : tensor<1x4x512x32xf32>) {
    ^bb0(%ov: f32, %ev: f32, %zv: f32, %out: f32):
      %g = arith.divf %ev, %zv : f32
      %r = arith.mulf %ov, %g : f32
      linalg.yield %r : f32
  } -> tensor<1x4x512x32xf32>
  return %y, %sel : tensor<1x4x512x32xf32>, tensor<1x4x512xi1>
}
