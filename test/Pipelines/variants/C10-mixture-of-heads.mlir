// C10 — Mixture-of-heads: a linalg.generic router ranks the 6 heads per token
// from logits [B, Sq, H] (ties to the smaller head) and keeps the top 3 as i1
// rows [B, H, Sq]; `[#attn.causal, #attn.rows] (%rows)` skips the others
// (output 0, lse -inf). Outputs are weighted by sigmoid(logit) per head and
// summed over heads with linalg.generic. Sq = Skv = 37, GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=301 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=301 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=302 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=302 --check | FileCheck %s
// CHECK: max_abs_err=

#cmp_self  = affine_map<(b, h, s, g) -> (b, s, h)>
#cmp_other = affine_map<(b, h, s, g) -> (b, s, g)>
#cmp_out   = affine_map<(b, h, s, g) -> (b, h, s)>
#id3       = affine_map<(b, h, s) -> (b, h, s)>
#o4        = affine_map<(b, h, s, d) -> (b, h, s, d)>
#g4        = affine_map<(b, h, s, d) -> (b, s, h)>
#sum_in    = affine_map<(b, s, d, h) -> (b, h, s, d)>
#sum_out   = affine_map<(b, s, d, h) -> (b, s, d)>

func.func @moh(%q: tensor<2x6x37x24xf32>, %k: tensor<2x2x37x24xf32>, %v: tensor<2x2x37x20xf32>,
               %logits: tensor<2x37x6xf32>)
    -> (tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37xi1>, tensor<2x6x37x20xf32>, tensor<2x37x20xf32>) {
  %c0 = arith.constant 0 : i32
  %fzero = arith.constant 0.0 : f32
  // rank[b, h, s] = #{g : logit[g] > logit[h] or (logit[g] == logit[h] and g < h)}.
  %ri = tensor.empty() : tensor<2x6x37xi32>
  %rz = linalg.fill ins(%c0 : i32) outs(%ri : tensor<2x6x37xi32>) -> tensor<2x6x37xi32>
  %rank = linalg.generic {indexing_maps = [#cmp_self, #cmp_other, #cmp_out],
                          iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%logits, %logits : tensor<2x37x6xf32>, tensor<2x37x6xf32>) outs(%rz : tensor<2x6x37xi32>) {
    ^bb0(%mine: f32, %other: f32, %acc: i32):
      %h = linalg.index 1 : index
      %g = linalg.index 3 : index
      %gt = arith.cmpf ogt, %other, %mine : f32
      %eq = arith.cmpf oeq, %other, %mine : f32
      %lt = arith.cmpi ult, %g, %h : index
      %tie = arith.andi %eq, %lt : i1
      %beats = arith.ori %gt, %tie : i1
      %one = arith.extui %beats : i1 to i32
      %n = arith.addi %acc, %one : i32
      linalg.yield %n : i32
  } -> tensor<2x6x37xi32>
  %bi = tensor.empty() : tensor<2x6x37xi1>
  %rows = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%rank : tensor<2x6x37xi32>) outs(%bi : tensor<2x6x37xi1>) {
    ^bb0(%r: i32, %o: i1):
      %topk = arith.constant 3 : i32
      %keep = arith.cmpi slt, %r, %topk : i32
      linalg.yield %keep : i1
  } -> tensor<2x6x37xi1>
  %s = attn.score %q, %k : tensor<2x6x37x24xf32>, tensor<2x2x37x24xf32> -> tensor<2x6x37x37xf32>
  %m = attn.mask %s [#attn.causal, #attn.rows] (%rows) : tensor<2x6x37x37xf32>, tensor<2x6x37xi1>
  %o, %l = attn.aggregate softmax %m, %v : tensor<2x6x37x37xf32>, tensor<2x2x37x20xf32> -> tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
  // Per-head weighting by sigmoid(router logit), then the sum over heads.
  %wi = tensor.empty() : tensor<2x6x37x20xf32>
  %weighted = linalg.generic {indexing_maps = [#o4, #g4, #o4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%o, %logits : tensor<2x6x37x20xf32>, tensor<2x37x6xf32>) outs(%wi : tensor<2x6x37x20xf32>) {
    ^bb0(%x: f32, %lg: f32, %out: f32):
      %one = arith.constant 1.0 : f32
      %n = arith.negf %lg : f32
      %e = math.exp %n : f32
      %d = arith.addf %one, %e : f32
      %sig = arith.divf %one, %d : f32
      %y = arith.mulf %x, %sig : f32
      linalg.yield %y : f32
  } -> tensor<2x6x37x20xf32>
  %si = tensor.empty() : tensor<2x37x20xf32>
  %sz = linalg.fill ins(%fzero : f32) outs(%si : tensor<2x37x20xf32>) -> tensor<2x37x20xf32>
  %sum = linalg.generic {indexing_maps = [#sum_in, #sum_out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%weighted : tensor<2x6x37x20xf32>) outs(%sz : tensor<2x37x20xf32>) {
    ^bb0(%x: f32, %acc: f32):
      %y = arith.addf %acc, %x : f32
      linalg.yield %y : f32
  } -> tensor<2x37x20xf32>
  return %o, %l, %rows, %weighted, %sum : tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37xi1>, tensor<2x6x37x20xf32>, tensor<2x37x20xf32>
}
