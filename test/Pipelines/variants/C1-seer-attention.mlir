// C1 — SeerAttention gate: Q mean-pooled and K max- and min-pooled per 6-token
// block (tensor.expand_shape + linalg.reduce), each through its own linalg
// projection (max and min projections added, not concatenated), passed as
// `qreps`/`reps` to attn.select_blocks {causal, top_k = 3}; then
// [#attn.causal, #attn.block_mask] + softmax. Sq = 36 < Skv = 42, GQA 4/2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=201 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=201 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=202 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=202 --check | FileCheck %s
// CHECK: max_abs_err=

#in5  = affine_map<(b, h, n, r, d) -> (b, h, n, d)>
#w5   = affine_map<(b, h, n, r, d) -> (d, r)>
#out5 = affine_map<(b, h, n, r, d) -> (b, h, n, r)>
#id4  = affine_map<(b, h, n, r) -> (b, h, n, r)>

func.func @seer(%q: tensor<1x4x36x24xf32>, %k: tensor<1x2x42x24xf32>, %v: tensor<1x2x42x20xf32>,
                %wq: tensor<24x8xf32>, %wkmax: tensor<24x8xf32>, %wkmin: tensor<24x8xf32>)
    -> (tensor<1x4x36x20xf32>, tensor<1x4x36xf32>, tensor<1x4x6x7xi1>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %pinf = arith.constant 0x7F800000 : f32
  // Mean-pooled Q blocks: [1, 4, 6, 24].
  %qe = tensor.expand_shape %q [[0], [1], [2, 3], [4]] output_shape [1, 4, 6, 6, 24]
      : tensor<1x4x36x24xf32> into tensor<1x4x6x6x24xf32>
  %qinit = tensor.empty() : tensor<1x4x6x24xf32>
  %qz = linalg.fill ins(%zero : f32) outs(%qinit : tensor<1x4x6x24xf32>) -> tensor<1x4x6x24xf32>
  %qsum = linalg.reduce ins(%qe : tensor<1x4x6x6x24xf32>) outs(%qz : tensor<1x4x6x24xf32>) dimensions = [3]
    (%in: f32, %acc: f32) {
      %a = arith.addf %in, %acc : f32
      linalg.yield %a : f32
    }
  // Max- and min-pooled K blocks: [1, 2, 7, 24].
  %ke = tensor.expand_shape %k [[0], [1], [2, 3], [4]] output_shape [1, 2, 7, 6, 24]
      : tensor<1x2x42x24xf32> into tensor<1x2x7x6x24xf32>
  %kinit = tensor.empty() : tensor<1x2x7x24xf32>
  %kmax0 = linalg.fill ins(%ninf : f32) outs(%kinit : tensor<1x2x7x24xf32>) -> tensor<1x2x7x24xf32>
  %kmax = linalg.reduce ins(%ke : tensor<1x2x7x6x24xf32>) outs(%kmax0 : tensor<1x2x7x24xf32>) dimensions = [3]
    (%in: f32, %acc: f32) {
      %a = arith.maximumf %in, %acc : f32
      linalg.yield %a : f32
    }
  %kmin0 = linalg.fill ins(%pinf : f32) outs(%kinit : tensor<1x2x7x24xf32>) -> tensor<1x2x7x24xf32>
  %kmin = linalg.reduce ins(%ke : tensor<1x2x7x6x24xf32>) outs(%kmin0 : tensor<1x2x7x24xf32>) dimensions = [3]
    (%in: f32, %acc: f32) {
      %a = arith.minimumf %in, %acc : f32
      linalg.yield %a : f32
    }
  // Projections: qreps = mean(Q) Wq, reps = max(K) Wkmax + min(K) Wkmin.
  %pinit = tensor.empty() : tensor<1x4x6x8xf32>
  %pz = linalg.fill ins(%zero : f32) outs(%pinit : tensor<1x4x6x8xf32>) -> tensor<1x4x6x8xf32>
  %qproj = linalg.generic {indexing_maps = [#in5, #w5, #out5],
                           iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%qsum, %wq : tensor<1x4x6x24xf32>, tensor<24x8xf32>) outs(%pz : tensor<1x4x6x8xf32>) {
    ^bb0(%x: f32, %w: f32, %acc: f32):
      %m = arith.mulf %x, %w : f32
      %a = arith.addf %acc, %m : f32
      linalg.yield %a : f32
  } -> tensor<1x4x6x8xf32>
  %qreps = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%qproj : tensor<1x4x6x8xf32>) outs(%pinit : tensor<1x4x6x8xf32>) {
    ^bb0(%x: f32, %o: f32):
      %six = arith.constant 6.0 : f32
      %m = arith.divf %x, %six : f32
      linalg.yield %m : f32
  } -> tensor<1x4x6x8xf32>
  %rinit = tensor.empty() : tensor<1x2x7x8xf32>
  %rz = linalg.fill ins(%zero : f32) outs(%rinit : tensor<1x2x7x8xf32>) -> tensor<1x2x7x8xf32>
  %rmax = linalg.generic {indexing_maps = [#in5, #w5, #out5],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%kmax, %wkmax : tensor<1x2x7x24xf32>, tensor<24x8xf32>) outs(%rz : tensor<1x2x7x8xf32>) {
    ^bb0(%x: f32, %w: f32, %acc: f32):
      %m = arith.mulf %x, %w : f32
      %a = arith.addf %acc, %m : f32
      linalg.yield %a : f32
  } -> tensor<1x2x7x8xf32>
  %reps = linalg.generic {indexing_maps = [#in5, #w5, #out5],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%kmin, %wkmin : tensor<1x2x7x24xf32>, tensor<24x8xf32>) outs(%rmax : tensor<1x2x7x8xf32>) {
    ^bb0(%x: f32, %w: f32, %acc: f32):
      %m = arith.mulf %x, %w : f32
      %a = arith.addf %acc, %m : f32
      linalg.yield %a : f32
  } -> tensor<1x2x7x8xf32>
  %bm = attn.select_blocks %q, %k reps(%reps) qreps(%qreps) {block_q = 6, block_kv = 6, top_k = 3, causal}
      : tensor<1x4x36x24xf32>, tensor<1x2x42x24xf32>, tensor<1x2x7x8xf32>, tensor<1x4x6x8xf32> -> tensor<1x4x6x7xi1>
  %s = attn.score %q, %k : tensor<1x4x36x24xf32>, tensor<1x2x42x24xf32> -> tensor<1x4x36x42xf32>
  %m = attn.mask %s [#attn.causal, #attn.block_mask<block_q = 6, block_kv = 6>] (%bm)
      : tensor<1x4x36x42xf32>, tensor<1x4x6x7xi1>
  %o, %l = attn.aggregate softmax %m, %v : tensor<1x4x36x42xf32>, tensor<1x2x42x20xf32> -> tensor<1x4x36x20xf32>, tensor<1x4x36xf32>
  return %o, %l, %bm : tensor<1x4x36x20xf32>, tensor<1x4x36xf32>, tensor<1x4x6x7xi1>
}

