// B5 — blocked local attention with a halo (HaloNet). 1-D:
// `#attn.block_local<block = 6, halo = 2>` (Sq = 37 < Skv = 45, and Sq = 45 >
// Skv = 29 where early rows see no key). 2-D: 35 tokens on a 5 x 7 grid
// (t/7, t%7), 3 x 3 blocks with a halo of 1, as an attn.mask predicate region
// with index arithmetic. GQA Hq = 6 / 4, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=141 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=141 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=142 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=142 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @halo(%q: tensor<1x6x37x24xf32>, %k: tensor<1x2x45x24xf32>, %v: tensor<1x2x45x20xf32>,
                %qc: tensor<1x6x45x24xf32>, %kc: tensor<1x2x29x24xf32>, %vc: tensor<1x2x29x20xf32>,
                %x: tensor<2x4x35x16xf32>, %xk: tensor<2x2x35x16xf32>, %xv: tensor<2x2x35x12xf32>)
    -> (tensor<1x6x37x20xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>, tensor<2x4x35x12xf32>) {
  %s = attn.score %q, %k : tensor<1x6x37x24xf32>, tensor<1x2x45x24xf32> -> tensor<1x6x37x45xf32>
  %m = attn.mask %s [#attn.block_local<block = 6, halo = 2>] : tensor<1x6x37x45xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x6x37x45xf32>, tensor<1x2x45x20xf32> -> tensor<1x6x37x20xf32>
  %sc = attn.score %qc, %kc : tensor<1x6x45x24xf32>, tensor<1x2x29x24xf32> -> tensor<1x6x45x29xf32>
  %mc = attn.mask %sc [#attn.block_local<block = 6, halo = 2>] : tensor<1x6x45x29xf32>
  %oc, %lc = attn.aggregate softmax %mc, %vc : tensor<1x6x45x29xf32>, tensor<1x2x29x20xf32> -> tensor<1x6x45x20xf32>, tensor<1x6x45xf32>

  // 2-D halo on a 5 x 7 grid.
  %s2 = attn.score %x, %xk : tensor<2x4x35x16xf32>, tensor<2x2x35x16xf32> -> tensor<2x4x35x35xf32>
  %m2 = attn.mask %s2 [] : tensor<2x4x35x35xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %w = arith.constant 7 : index
    %blk = arith.constant 3 : index
    %halo = arith.constant 1 : index
    // Query block origin (in grid units), shifted by +halo so that the
    // lower bound stays non-negative: keep iff origin <= pos + halo < origin + blk + 2 halo.
    %qr = arith.divui %i, %w : index
    %qcol = arith.remui %i, %w : index
    %kr = arith.divui %j, %w : index
    %kcol = arith.remui %j, %w : index
    %qbr = arith.divui %qr, %blk : index
    %qbc = arith.divui %qcol, %blk : index
    %r0 = arith.muli %qbr, %blk : index
    %c0 = arith.muli %qbc, %blk : index
    %span = arith.constant 5 : index   // blk + 2 * halo
    %r1 = arith.addi %r0, %span : index
    %c1 = arith.addi %c0, %span : index
    %krh = arith.addi %kr, %halo : index
    %kch = arith.addi %kcol, %halo : index
    %a = arith.cmpi uge, %krh, %r0 : index
    %b1 = arith.cmpi ult, %krh, %r1 : index
    %c = arith.cmpi uge, %kch, %c0 : index
    %d = arith.cmpi ult, %kch, %c1 : index
    %ab = arith.andi %a, %b1 : i1
    %cd = arith.andi %c, %d : i1
    %keep = arith.andi %ab, %cd : i1
    attn.yield %keep : i1
  }
  %o2 = attn.aggregate softmax %m2, %xv : tensor<2x4x35x35xf32>, tensor<2x2x35x12xf32> -> tensor<2x4x35x12xf32>
  return %o, %oc, %lc, %o2 : tensor<1x6x37x20xf32>, tensor<1x6x45x20xf32>, tensor<1x6x45xf32>, tensor<2x4x35x12xf32>
}
