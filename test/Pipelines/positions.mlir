// attn.attention with positions (what attn-ring emits per chunk pair): the
// tiled form (position patterns and regions), the block-sparse form
// (segments) and the reference agree, for query and key blocks at arbitrary
// positions of a longer sequence, Sq != Skv and sizes off the tile.
// RUN: attn-run %s --entry=window --random-args --check | FileCheck %s
// RUN: attn-run %s --entry=window --random-args --check --cpu-options="tile-q=16 tile-kv=16 kv-splits=2" | FileCheck %s
// RUN: attn-run %s --entry=patterns --random-args --check | FileCheck %s
// RUN: attn-run %s --entry=regions --random-args --check | FileCheck %s
// RUN: attn-run %s --entry=segments --random-args --check | FileCheck %s
// RUN: attn-run %s --entry=block_mask --random-args --check | FileCheck %s
// RUN: attn-run %s --entry=block_mask --random-args --check --cpu-options="tile-q=8 tile-kv=16" | FileCheck %s
// CHECK: max_abs_err
// A positioned block mask is the sequence's: the reference needs it to cover
// the positions (ceil(107/8) x ceil(85/16) blocks here).
// RUN: not attn-run %s --entry=short_block_mask --random-args --pipeline=reference 2>&1 | FileCheck %s --check-prefix=SHORT
// SHORT: #attn.block_mask of a positioned attention needs at least 14 x 6 blocks for its positions
// The graph form has no positions: the naive pipeline refuses them.
// RUN: not attn-run %s --entry=window --random-args --pipeline=naive 2>&1 | FileCheck %s --check-prefix=NAIVE
// NAIVE: 'attn.attention' op with positions has no naive form: the tiled and block-sparse CPU forms (attn-tile, attn-sparsify) lower it

func.func @window(%q: tensor<1x4x37x16xf32>, %k: tensor<1x2x45x16xf32>, %v: tensor<1x2x45x8xf32>) -> (tensor<1x4x37x8xf32>, tensor<1x4x37xf32>) {
  %qp = arith.constant 70 : index
  %kp = arith.constant 40 : index
  %o, %l = attn.attention softmax %q, %k, %v [#attn.window<left = [3, 9, 30, 60], right = 2>, #attn.causal] positions(%qp, %kp) : tensor<1x4x37x16xf32>, tensor<1x2x45x16xf32>, tensor<1x2x45x8xf32> -> tensor<1x4x37x8xf32>, tensor<1x4x37xf32>
  return %o, %l : tensor<1x4x37x8xf32>, tensor<1x4x37xf32>
}

func.func @patterns(%q: tensor<2x2x33x16xf32>, %k: tensor<2x2x29x16xf32>, %v: tensor<2x2x29x16xf32>) -> (tensor<2x2x33x16xf32>, tensor<2x2x33x16xf32>, tensor<2x2x33x16xf32>) {
  %qp = arith.constant 64 : index
  %kp = arith.constant 32 : index
  %a = attn.attention softmax %q, %k, %v [#attn.any<[#attn.sink<count = 36>, #attn.window<left = 20, right = 0>]>, #attn.causal] positions(%qp, %kp) : tensor<2x2x33x16xf32>, tensor<2x2x29x16xf32>, tensor<2x2x29x16xf32> -> tensor<2x2x33x16xf32>
  %b = attn.attention softmax %q, %k, %v [#attn.chunk<size = 48>] positions(%qp, %kp) : tensor<2x2x33x16xf32>, tensor<2x2x29x16xf32>, tensor<2x2x29x16xf32> -> tensor<2x2x33x16xf32>
  %c = attn.attention softmax %q, %k, %v [#attn.prefix<length = 40>, #attn.block_local<block = 16, halo = 5>] positions(%kp, %qp) : tensor<2x2x33x16xf32>, tensor<2x2x29x16xf32>, tensor<2x2x29x16xf32> -> tensor<2x2x33x16xf32>
  return %a, %b, %c : tensor<2x2x33x16xf32>, tensor<2x2x33x16xf32>, tensor<2x2x33x16xf32>
}

func.func @regions(%q: tensor<1x2x40x16xf32>, %k: tensor<1x2x40x16xf32>, %v: tensor<1x2x40x16xf32>) -> (tensor<1x2x40x16xf32>, tensor<1x2x40xf32>) {
  %qp = arith.constant 100 : index
  %kp = arith.constant 75 : index
  %o, %l = attn.attention softmax %q, %k, %v [] positions(%qp, %kp) : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32> -> tensor<1x2x40x16xf32>, tensor<1x2x40xf32>
    score_mod {
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %d = arith.subi %i, %j : index
      %di = arith.index_cast %d : index to i64
      %df = arith.sitofp %di : i64 to f32
      %c = arith.constant -0.0625 : f32
      %m = arith.mulf %df, %c : f32
      %r = arith.addf %x, %m : f32
      attn.yield %r : f32
    }
    mask {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %c30 = arith.constant 30 : index
      %lim = arith.subi %i, %c30 : index
      %keep = arith.cmpi sle, %j, %lim : index
      attn.yield %keep : i1
    }
  return %o, %l : tensor<1x2x40x16xf32>, tensor<1x2x40xf32>
}

func.func @segments(%q: tensor<2x2x40x16xf32>, %k: tensor<2x2x36x16xf32>, %v: tensor<2x2x36x16xf32>, %qs: tensor<2x40xi32>, %ks: tensor<2x36xi32>) -> tensor<2x2x40x16xf32> {
  %qp = arith.constant 36 : index
  %kp = arith.constant 0 : index
  %o = attn.attention softmax %q, %k, %v [#attn.segments, #attn.causal] (%qs, %ks : tensor<2x40xi32>, tensor<2x36xi32>) positions(%qp, %kp) : tensor<2x2x40x16xf32>, tensor<2x2x36x16xf32>, tensor<2x2x36x16xf32> -> tensor<2x2x40x16xf32>
  return %o : tensor<2x2x40x16xf32>
}

// A block mask of the whole sequence, read at positions (blocks 8 x 16 that
// the tiles straddle), with causal.
func.func @block_mask(%q: tensor<1x2x37x16xf32>, %k: tensor<1x2x45x16xf32>, %v: tensor<1x2x45x16xf32>, %bm: tensor<1x2x14x6xi1>) -> (tensor<1x2x37x16xf32>, tensor<1x2x37xf32>) {
  %qp = arith.constant 70 : index
  %kp = arith.constant 40 : index
  %o, %l = attn.attention softmax %q, %k, %v [#attn.block_mask<block_q = 8, block_kv = 16>, #attn.causal] (%bm : tensor<1x2x14x6xi1>) positions(%qp, %kp) : tensor<1x2x37x16xf32>, tensor<1x2x45x16xf32>, tensor<1x2x45x16xf32> -> tensor<1x2x37x16xf32>, tensor<1x2x37xf32>
  return %o, %l : tensor<1x2x37x16xf32>, tensor<1x2x37xf32>
}

func.func @short_block_mask(%q: tensor<1x2x37x16xf32>, %k: tensor<1x2x45x16xf32>, %v: tensor<1x2x45x16xf32>, %bm: tensor<1x2x13x6xi1>) -> tensor<1x2x37x16xf32> {
  %qp = arith.constant 70 : index
  %kp = arith.constant 40 : index
  %o = attn.attention softmax %q, %k, %v [#attn.block_mask<block_q = 8, block_kv = 16>] (%bm : tensor<1x2x13x6xi1>) positions(%qp, %kp) : tensor<1x2x37x16xf32>, tensor<1x2x45x16xf32>, tensor<1x2x45x16xf32> -> tensor<1x2x37x16xf32>
  return %o : tensor<1x2x37x16xf32>
}
