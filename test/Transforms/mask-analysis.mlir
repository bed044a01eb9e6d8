// The mask analysis' class of every (query tile, key tile) pair, as the
// compiled kernels compute it: per query head and query tile [i0, iEnd), the
// key range the tile visits, then one character per key tile: `.` empty
// (skipped), `F` full (no masking), `P` partial (masked per element).
// RUN: attn-opt %s --attn-test-mask-analysis="tile-q=4 tile-kv=4" -o /dev/null | FileCheck %s
// RUN: attn-opt %s --attn-test-mask-analysis="tile-q=3 tile-kv=5" -o /dev/null | FileCheck %s --check-prefix=TILES
// RUN: not attn-opt %s --attn-test-mask-analysis="tile-q=0" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: tile-q and tile-kv must be positive

// Causal, Sq = Skv: the diagonal tiles are partial, those above empty.
// CHECK-LABEL: @causal: Sq = 8, Skv = 8, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 4) P.
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) FP
// Other tile sizes; the last query tile has two rows.
// TILES-LABEL: @causal: Sq = 8, Skv = 8, tile-q = 3, tile-kv = 5
// TILES-NEXT: h0 q[0, 3) keys [0, 3) P.
// TILES-NEXT: h0 q[3, 6) keys [0, 6) PP
// TILES-NEXT: h0 q[6, 8) keys [0, 8) FP
func.func @causal(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>) -> tensor<1x1x8x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  return %o : tensor<1x1x8x16xf32>
}

// Causal, Sq < Skv: aligned bottom-right (i' = i + 10); the last query tile
// has two rows.
// CHECK-LABEL: @causal_fewer_queries: Sq = 6, Skv = 16, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 14) FFPP
// CHECK-NEXT: h0 q[4, 6) keys [0, 16) FFFP
func.func @causal_fewer_queries(%q: tensor<1x1x6x16xf32>, %k: tensor<1x1x16x16xf32>, %v: tensor<1x1x16x16xf32>) -> tensor<1x1x6x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x1x6x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32> -> tensor<1x1x6x16xf32>
  return %o : tensor<1x1x6x16xf32>
}

// Window, 5 keys left and 2 right of the diagonal.
// CHECK-LABEL: @window: Sq = 16, Skv = 16, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 6) PP..
// CHECK-NEXT: h0 q[4, 8) keys [0, 10) PPP.
// CHECK-NEXT: h0 q[8, 12) keys [3, 14) PPPP
// CHECK-NEXT: h0 q[12, 16) keys [7, 16) .PPP
func.func @window(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x16x16xf32>, %v: tensor<1x1x16x16xf32>) -> tensor<1x1x16x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.window<left = 5, right = 2>] : tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32> -> tensor<1x1x16x16xf32>
  return %o : tensor<1x1x16x16xf32>
}

// Per-head windows: head 0 sees 3 keys back, head 1 sees 8.
// CHECK-LABEL: @window_per_head: Sq = 16, Skv = 16, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 4) P...
// CHECK-NEXT: h0 q[4, 8) keys [1, 8) PP..
// CHECK-NEXT: h0 q[8, 12) keys [5, 12) .PP.
// CHECK-NEXT: h0 q[12, 16) keys [9, 16) ..PP
// CHECK-NEXT: h1 q[0, 4) keys [0, 4) P...
// CHECK-NEXT: h1 q[4, 8) keys [0, 8) FP..
// CHECK-NEXT: h1 q[8, 12) keys [0, 12) PFP.
// CHECK-NEXT: h1 q[12, 16) keys [4, 16) .PFP
func.func @window_per_head(%q: tensor<1x2x16x16xf32>, %k: tensor<1x2x16x16xf32>, %v: tensor<1x2x16x16xf32>) -> tensor<1x2x16x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.window<left = [3, 8], right = 0>] : tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32> -> tensor<1x2x16x16xf32>
  return %o : tensor<1x2x16x16xf32>
}

// Chunks of 6: full where query and key tiles share a chunk.
// CHECK-LABEL: @chunk: Sq = 12, Skv = 12, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 6) FP.
// CHECK-NEXT: h0 q[4, 8) keys [0, 12) PPP
// CHECK-NEXT: h0 q[8, 12) keys [6, 12) .PF
func.func @chunk(%q: tensor<1x1x12x16xf32>, %k: tensor<1x1x12x16xf32>, %v: tensor<1x1x12x16xf32>) -> tensor<1x1x12x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.chunk<size = 6>] : tensor<1x1x12x16xf32>, tensor<1x1x12x16xf32>, tensor<1x1x12x16xf32> -> tensor<1x1x12x16xf32>
  return %o : tensor<1x1x12x16xf32>
}

// Two sink keys, Sq < Skv: only the first key tile is visited.
// CHECK-LABEL: @sink: Sq = 8, Skv = 12, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 2) P..
// CHECK-NEXT: h0 q[4, 8) keys [0, 2) P..
func.func @sink(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x12x16xf32>, %v: tensor<1x1x12x16xf32>) -> tensor<1x1x8x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.sink<count = 2>] : tensor<1x1x8x16xf32>, tensor<1x1x12x16xf32>, tensor<1x1x12x16xf32> -> tensor<1x1x8x16xf32>
  return %o : tensor<1x1x8x16xf32>
}

// Prefix-LM over the first 6 keys, causal after.
// CHECK-LABEL: @prefix: Sq = 12, Skv = 12, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 6) FP.
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) FP.
// CHECK-NEXT: h0 q[8, 12) keys [0, 12) FFP
func.func @prefix(%q: tensor<1x1x12x16xf32>, %k: tensor<1x1x12x16xf32>, %v: tensor<1x1x12x16xf32>) -> tensor<1x1x12x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.prefix<length = 6>] : tensor<1x1x12x16xf32>, tensor<1x1x12x16xf32>, tensor<1x1x12x16xf32> -> tensor<1x1x12x16xf32>
  return %o : tensor<1x1x12x16xf32>
}

// Blocks of 8 keys with a halo of 2.
// CHECK-LABEL: @block_local: Sq = 16, Skv = 16, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 10) FFP.
// CHECK-NEXT: h0 q[4, 8) keys [0, 10) FFP.
// CHECK-NEXT: h0 q[8, 12) keys [6, 16) .PFF
// CHECK-NEXT: h0 q[12, 16) keys [6, 16) .PFF
func.func @block_local(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x16x16xf32>, %v: tensor<1x1x16x16xf32>) -> tensor<1x1x16x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.block_local<block = 8, halo = 2>] : tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32> -> tensor<1x1x16x16xf32>
  return %o : tensor<1x1x16x16xf32>
}

// A union: empty only where both members are (the gap between the sinks
// and the window), full where either is.
// CHECK-LABEL: @sink_or_window: Sq = 16, Skv = 16, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 4) P...
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) PP..
// CHECK-NEXT: h0 q[8, 12) keys [0, 12) PPP.
// CHECK-NEXT: h0 q[12, 16) keys [0, 16) P.PP
func.func @sink_or_window(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x16x16xf32>, %v: tensor<1x1x16x16xf32>) -> tensor<1x1x16x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.any<[#attn.sink<count = 2>, #attn.window<left = 3, right = 0>]>] : tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32> -> tensor<1x1x16x16xf32>
  return %o : tensor<1x1x16x16xf32>
}

// An intersection: empty where either pattern is, full where both are.
// CHECK-LABEL: @causal_and_chunk: Sq = 16, Skv = 16, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 4) P...
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) FP..
// CHECK-NEXT: h0 q[8, 12) keys [8, 12) ..P.
// CHECK-NEXT: h0 q[12, 16) keys [8, 16) ..FP
func.func @causal_and_chunk(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x16x16xf32>, %v: tensor<1x1x16x16xf32>) -> tensor<1x1x16x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal, #attn.chunk<size = 8>] : tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32> -> tensor<1x1x16x16xf32>
  return %o : tensor<1x1x16x16xf32>
}

// A predicate region (i - 5 <= j <= i), classified over intervals.
// CHECK-LABEL: @predicate: Sq = 12, Skv = 12, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 12) P..
// CHECK-NEXT: h0 q[4, 8) keys [0, 12) PP.
// CHECK-NEXT: h0 q[8, 12) keys [0, 12) PPP
func.func @predicate(%q: tensor<1x1x12x16xf32>, %k: tensor<1x1x12x16xf32>, %v: tensor<1x1x12x16xf32>) -> tensor<1x1x12x16xf32> {
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x1x12x16xf32>, tensor<1x1x12x16xf32>, tensor<1x1x12x16xf32> -> tensor<1x1x12x16xf32> mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c5 = arith.constant 5 : index
    %lo = arith.subi %i, %c5 : index
    %a = arith.cmpi sle, %j, %i : index
    %w = arith.cmpi sge, %j, %lo : index
    %keep = arith.andi %a, %w : i1
    attn.yield %keep : i1
  }
  return %o : tensor<1x1x12x16xf32>
}

// Causal and a dense mask: the dense mask proves nothing, causal still
// empties tiles.
// CHECK-LABEL: @dense: Sq = 8, Skv = 8, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 4) P.
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) PP
func.func @dense(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>, %m: tensor<1x1x8x8xi1>) -> tensor<1x1x8x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal, #attn.dense] (%m : tensor<1x1x8x8xi1>) : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  return %o : tensor<1x1x8x16xf32>
}

// Patterns with run-time data prove nothing at compile time: every tile is
// partial (the block-sparse form decides tile-level patterns at run time).
// CHECK-LABEL: @dense_only: Sq = 8, Skv = 8, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 8) PP
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) PP
func.func @dense_only(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>, %m: tensor<1x1x8x8xi1>) -> tensor<1x1x8x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.dense] (%m : tensor<1x1x8x8xi1>) : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  return %o : tensor<1x1x8x16xf32>
}

// CHECK-LABEL: @segments: Sq = 8, Skv = 8, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 8) PP
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) PP
func.func @segments(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>, %qs: tensor<1x8xi32>, %ks: tensor<1x8xi32>) -> tensor<1x1x8x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.segments] (%qs, %ks : tensor<1x8xi32>, tensor<1x8xi32>) : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  return %o : tensor<1x1x8x16xf32>
}

// Dynamic Sq or Skv: nothing to enumerate.
// CHECK-LABEL: @dynamic: dynamic Sq or Skv, skipped
func.func @dynamic(%q: tensor<1x1x?x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x16xf32>) -> tensor<1x1x?x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32>
  return %o : tensor<1x1x?x16xf32>
}

// No mask: every tile is full.
// CHECK-LABEL: @no_mask: Sq = 8, Skv = 8, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 8) FF
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) FF
func.func @no_mask(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>) -> tensor<1x1x8x16xf32> {
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  return %o : tensor<1x1x8x16xf32>
}

// Unsigned division of a difference that can be negative: (i - j) divui 4 is
// huge for j > i, so the rules cannot treat it as monotone; the analysis
// declines (every tile partial, masked per element). Regression: it used to
// call the tiles below the diagonal empty.
// CHECK-LABEL: @divui_of_difference: Sq = 8, Skv = 8, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 8) PP
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) PP
func.func @divui_of_difference(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>) -> tensor<1x1x8x16xf32> {
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c4 = arith.constant 4 : index
    %c0 = arith.constant 0 : index
    %d = arith.subi %i, %j : index
    %r = arith.divui %d, %c4 : index
    %keep = arith.cmpi eq, %r, %c0 : index
    attn.yield %keep : i1
  }
  return %o : tensor<1x1x8x16xf32>
}

// Unsigned ops on values that are non-negative at compile time (positions,
// shifts, absolute values) keep their interval rules: blocks of 4 keys by
// j >> 2 == i >> 2 (block-diagonal), |i - j| <= 3 through absi.
// CHECK-LABEL: @unsigned_non_negative: Sq = 8, Skv = 8, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 8) F.
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) .F
func.func @unsigned_non_negative(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>) -> tensor<1x1x8x16xf32> {
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %bi = arith.shrui %i, %c2 : index
    %bj = arith.divui %j, %c4 : index
    %keep = arith.cmpi eq, %bi, %bj : index
    attn.yield %keep : i1
  }
  return %o : tensor<1x1x8x16xf32>
}

// CHECK-LABEL: @absolute_distance: Sq = 8, Skv = 8, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 8) FP
// CHECK-NEXT: h0 q[4, 8) keys [0, 8) PF
// CHECK-LABEL: @absolute_distance: Sq = 16, Skv = 16, tile-q = 4, tile-kv = 4
// CHECK-NEXT: h0 q[0, 4) keys [0, 16) FP..
// CHECK-NEXT: h0 q[4, 8) keys [0, 16) PFP.
// CHECK-NEXT: h0 q[8, 12) keys [0, 16) .PFP
// CHECK-NEXT: h0 q[12, 16) keys [0, 16) ..PF
func.func @absolute_distance(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>, %q2: tensor<1x1x16x16xf32>, %k2: tensor<1x1x16x16xf32>) -> (tensor<1x1x8x16xf32>, tensor<1x1x16x16xf32>) {
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c3 = arith.constant 3 : index
    %d = arith.subi %i, %j : index
    %a = math.absi %d : index
    %keep = arith.cmpi ule, %a, %c3 : index
    attn.yield %keep : i1
  }
  %o2 = attn.attention softmax %q2, %k2, %k2 [] : tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32> -> tensor<1x1x16x16xf32>
  mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c3 = arith.constant 3 : index
    %d = arith.subi %i, %j : index
    %a = math.absi %d : index
    %keep = arith.cmpi sle, %a, %c3 : index
    attn.yield %keep : i1
  }
  return %o, %o2 : tensor<1x1x8x16xf32>, tensor<1x1x16x16xf32>
}
