// Programs written for one rank's shard, run by ring_sweep.py under the
// ring with P = 1..4 ranks and both layouts, against the reference on the
// global inputs (random, the shard's sequence length times P).
// Window per head, GQA, lse, sink logits.
func.func @window_gqa(%q: tensor<2x4x48x16xf32>, %k: tensor<2x2x48x16xf32>, %v: tensor<2x2x48x8xf32>, %s: tensor<4xf32>) -> (tensor<2x4x48x8xf32>, tensor<2x4x48xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.window<left = [5, 17, 40, 3], right = [0, 2, 0, 9]>] sinks(%s : tensor<4xf32>) : tensor<2x4x48x16xf32>, tensor<2x2x48x16xf32>, tensor<2x2x48x8xf32> -> tensor<2x4x48x8xf32>, tensor<2x4x48xf32>
  return %o, %l : tensor<2x4x48x8xf32>, tensor<2x4x48xf32>
}
// Attention sinks + causal window (StreamingLLM) and prefix LM.
func.func @sink_prefix(%q: tensor<1x2x40x16xf32>, %k: tensor<1x2x40x16xf32>, %v: tensor<1x2x40x16xf32>) -> (tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>) {
  %o = attn.attention softmax %q, %k, %v [#attn.any<[#attn.sink<count = 4>, #attn.window<left = 6, right = 0>]>, #attn.causal] : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32> -> tensor<1x2x40x16xf32>
  %p = attn.attention softmax %q, %k, %v [#attn.prefix<length = 19>] : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32> -> tensor<1x2x40x16xf32>
  return %o, %p : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>
}
// Chunked attention and block-local.
func.func @chunk_local(%q: tensor<1x2x40x16xf32>, %k: tensor<1x2x40x16xf32>, %v: tensor<1x2x40x16xf32>) -> (tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>) {
  %o = attn.attention softmax %q, %k, %v [#attn.chunk<size = 7>] : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32> -> tensor<1x2x40x16xf32>
  %p = attn.attention softmax %q, %k, %v [#attn.block_local<block = 8, halo = 3>] : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32> -> tensor<1x2x40x16xf32>
  return %o, %p : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>
}
// Regions see global positions: ALiBi score_mod and a dilated predicate;
// rows with no key (i < 3 under j <= i - 3) give 0 and lse -inf.
func.func @regions(%q: tensor<1x2x40x16xf32>, %k: tensor<1x2x40x16xf32>, %v: tensor<1x2x40x16xf32>) -> (tensor<1x2x40x16xf32>, tensor<1x2x40xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [] : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32> -> tensor<1x2x40x16xf32>, tensor<1x2x40xf32>
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
      %c3 = arith.constant 3 : index
      %c2 = arith.constant 2 : index
      %c0 = arith.constant 0 : index
      %lim = arith.subi %i, %c3 : index
      %le = arith.cmpi sle, %j, %lim : index
      %r = arith.remui %j, %c2 : index
      %ev = arith.cmpi eq, %r, %c0 : index
      %t = arith.andi %le, %ev : i1
      attn.yield %t : i1
    }
  return %o, %l : tensor<1x2x40x16xf32>, tensor<1x2x40xf32>
}
// Packed documents and causal.
func.func @segments(%q: tensor<2x2x40x16xf32>, %k: tensor<2x2x40x16xf32>, %v: tensor<2x2x40x16xf32>, %qs: tensor<2x40xi32>, %ks: tensor<2x40xi32>) -> tensor<2x2x40x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.segments, #attn.causal] (%qs, %ks : tensor<2x40xi32>, tensor<2x40xi32>) : tensor<2x2x40x16xf32>, tensor<2x2x40x16xf32>, tensor<2x2x40x16xf32> -> tensor<2x2x40x16xf32>
  return %o : tensor<2x2x40x16xf32>
}
// bf16 causal, shards not a multiple of the tile.
func.func @bf16_causal(%q: tensor<1x2x38x16xbf16>, %k: tensor<1x2x38x16xbf16>, %v: tensor<1x2x38x16xbf16>) -> tensor<1x2x38x16xbf16> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x2x38x16xbf16>, tensor<1x2x38x16xbf16>, tensor<1x2x38x16xbf16> -> tensor<1x2x38x16xbf16>
  return %o : tensor<1x2x38x16xbf16>
}
// The graph form: attn-fuse makes it one attention before the ring.
func.func @graph(%q: tensor<1x2x30x16xf32>, %k: tensor<1x2x30x16xf32>, %v: tensor<1x2x30x16xf32>) -> tensor<1x2x30x16xf32> {
  %s = attn.score %q, %k : tensor<1x2x30x16xf32>, tensor<1x2x30x16xf32> -> tensor<1x2x30x30xf32>
  %m = attn.mask %s [#attn.window<left = 9, right = 0>] : tensor<1x2x30x30xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x30x30xf32>, tensor<1x2x30x16xf32> -> tensor<1x2x30x16xf32>
  return %o : tensor<1x2x30x16xf32>
}
