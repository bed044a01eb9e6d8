// Every verifier error of the attn dialect.
// RUN: attn-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{#attn.window left must be non-negative, got -1}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.window<left = -1, right = 0>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.window right needs at least one value}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.window<left = 1, right = []>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.chunk size must be positive, got 0}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.chunk<size = 0>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.sink count must be positive, got -2}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.sink<count = -2>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.prefix length must be non-negative, got -1}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.prefix<length = -1>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.block_local block must be positive, got 0}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.block_local<block = 0, halo = 1>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.block_local halo must be non-negative, got -3}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.block_local<block = 2, halo = -3>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.block_mask block_kv must be positive, got 0}}
func.func @f(%s: tensor<1x1x4x4xf32>, %bm: tensor<1x1x2x2xi1>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.block_mask<block_q = 2, block_kv = 0>] (%bm) : tensor<1x1x4x4xf32>, tensor<1x1x2x2xi1> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.any needs at least one pattern}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.any<[]>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.any element 3 : i64 is not a mask pattern}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.any<[3]>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

func.func @score_rank(%q: tensor<8x4x16xf32>, %k: tensor<1x2x4x16xf32>) -> tensor<1x8x4x4xf32> {
  // expected-error @+1 {{'attn.score' op query must have rank 4, got 3}}
  %s = attn.score %q, %k : tensor<8x4x16xf32>, tensor<1x2x4x16xf32> -> tensor<1x8x4x4xf32>
  return %s : tensor<1x8x4x4xf32>
}

// -----

func.func @score_elt(%q: tensor<1x8x4x16xi32>, %k: tensor<1x2x4x16xf32>) -> tensor<1x8x4x4xf32> {
  // expected-error @+1 {{'attn.score' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %s = attn.score %q, %k : tensor<1x8x4x16xi32>, tensor<1x2x4x16xf32> -> tensor<1x8x4x4xf32>
  return %s : tensor<1x8x4x4xf32>
}

// -----

func.func @score_batch(%q: tensor<1x8x4x16xf32>, %k: tensor<2x2x4x16xf32>) -> tensor<1x8x4x4xf32> {
  // expected-error @+1 {{'attn.score' op query and key batch sizes differ (1 vs 2)}}
  %s = attn.score %q, %k : tensor<1x8x4x16xf32>, tensor<2x2x4x16xf32> -> tensor<1x8x4x4xf32>
  return %s : tensor<1x8x4x4xf32>
}

// -----

func.func @score_dim(%q: tensor<1x8x4x16xf32>, %k: tensor<1x2x4x32xf32>) -> tensor<1x8x4x4xf32> {
  // expected-error @+1 {{'attn.score' op query and key head dimensions differ (16 vs 32)}}
  %s = attn.score %q, %k : tensor<1x8x4x16xf32>, tensor<1x2x4x32xf32> -> tensor<1x8x4x4xf32>
  return %s : tensor<1x8x4x4xf32>
}

// -----

func.func @score_dynamic_d(%q: tensor<1x8x4x?xf32>, %k: tensor<1x2x4x?xf32>) -> tensor<1x8x4x4xf32> {
  // expected-error @+1 {{'attn.score' op head dimension D of the query must be static}}
  %s = attn.score %q, %k : tensor<1x8x4x?xf32>, tensor<1x2x4x?xf32> -> tensor<1x8x4x4xf32>
  return %s : tensor<1x8x4x4xf32>
}

// -----

func.func @score_gqa(%q: tensor<1x8x4x16xf32>, %k: tensor<1x3x4x16xf32>) -> tensor<1x8x4x4xf32> {
  // expected-error @+1 {{'attn.score' op key heads (3) must divide query heads (8)}}
  %s = attn.score %q, %k : tensor<1x8x4x16xf32>, tensor<1x3x4x16xf32> -> tensor<1x8x4x4xf32>
  return %s : tensor<1x8x4x4xf32>
}

// -----

func.func @score_result(%q: tensor<1x8x4x16xf32>, %k: tensor<1x2x5x16xf32>) -> tensor<1x8x4x4xf32> {
  // expected-error @+1 {{'attn.score' op result #0 has shape [1, 8, 4, 4] but [1, 8, 4, 5] is expected}}
  %s = attn.score %q, %k : tensor<1x8x4x16xf32>, tensor<1x2x5x16xf32> -> tensor<1x8x4x4xf32>
  return %s : tensor<1x8x4x4xf32>
}

// -----

func.func @score_mod_args(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.score_mod' op score_mod region must take arguments (f32, index, index, index, index)}}
  %t = attn.score_mod %s : tensor<1x1x4x4xf32> {
  ^bb0(%x: f32, %b: index):
    attn.yield %x : f32
  }
  return %t : tensor<1x1x4x4xf32>
}

// -----

func.func @score_mod_yield(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.score_mod' op score_mod region must yield 'f32', got 'index'}}
  %t = attn.score_mod %s : tensor<1x1x4x4xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    attn.yield %i : index
  }
  return %t : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_not_pattern(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op mask pattern must be an #attn pattern attribute}}
  %m = attn.mask %s [1 : i64] : tensor<1x1x4x4xf32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_count(%s: tensor<1x1x4x4xf32>, %a: tensor<1x4xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op mask patterns consume 2 operand(s), but 1 given}}
  %m = attn.mask %s [#attn.segments] (%a) : tensor<1x1x4x4xf32>, tensor<1x4xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_window_heads(%s: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.window left list needs one entry per query head (3 vs 2)}}
  %m = attn.mask %s [#attn.window<left = [1, 2, 3], right = 0>] : tensor<1x2x4x4xf32>
  return %m : tensor<1x2x4x4xf32>
}

// -----

func.func @mask_bm_type(%s: tensor<1x1x4x4xf32>, %bm: tensor<1x1x2x2xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.block_mask operand must be a tensor of i1}}
  %m = attn.mask %s [#attn.block_mask<block_q = 2, block_kv = 2>] (%bm) : tensor<1x1x4x4xf32>, tensor<1x1x2x2xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_bm_rank(%s: tensor<1x1x4x4xf32>, %bm: tensor<2x2xi1>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.block_mask operand must have rank 4, got 2}}
  %m = attn.mask %s [#attn.block_mask<block_q = 2, block_kv = 2>] (%bm) : tensor<1x1x4x4xf32>, tensor<2x2xi1>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_bm_heads(%s: tensor<1x4x4x4xf32>, %bm: tensor<1x2x2x2xi1>) -> tensor<1x4x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.block_mask head count must be 1 or 4, got 2}}
  %m = attn.mask %s [#attn.block_mask<block_q = 2, block_kv = 2>] (%bm) : tensor<1x4x4x4xf32>, tensor<1x2x2x2xi1>
  return %m : tensor<1x4x4x4xf32>
}

// -----

func.func @mask_bm_blocks(%s: tensor<1x1x5x4xf32>, %bm: tensor<1x1x2x2xi1>) -> tensor<1x1x5x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.block_mask query blocks must be ceil(Sq/block_q) (2 vs 3)}}
  %m = attn.mask %s [#attn.block_mask<block_q = 2, block_kv = 2>] (%bm) : tensor<1x1x5x4xf32>, tensor<1x1x2x2xi1>
  return %m : tensor<1x1x5x4xf32>
}

// -----

func.func @mask_bm_kblocks(%s: tensor<1x1x4x7xf32>, %bm: tensor<1x1x2x3xi1>) -> tensor<1x1x4x7xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.block_mask key blocks must be ceil(Skv/block_kv) (3 vs 4)}}
  %m = attn.mask %s [#attn.block_mask<block_q = 2, block_kv = 2>] (%bm) : tensor<1x1x4x7xf32>, tensor<1x1x2x3xi1>
  return %m : tensor<1x1x4x7xf32>
}

// -----

func.func @mask_seg_rank(%s: tensor<1x1x4x4xf32>, %a: tensor<1x4xi32>, %b: tensor<1x1x4xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.segments ids must both be [B, S] or both [B, H, S]}}
  %m = attn.mask %s [#attn.segments] (%a, %b) : tensor<1x1x4x4xf32>, tensor<1x4xi32>, tensor<1x1x4xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_seg_len(%s: tensor<1x1x4x6xf32>, %a: tensor<1x4xi32>, %b: tensor<1x4xi32>) -> tensor<1x1x4x6xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.segments key ids length != Skv (4 vs 6)}}
  %m = attn.mask %s [#attn.segments] (%a, %b) : tensor<1x1x4x6xf32>, tensor<1x4xi32>, tensor<1x4xi32>
  return %m : tensor<1x1x4x6xf32>
}

// -----

func.func @mask_seg_type(%s: tensor<1x1x4x4xf32>, %a: tensor<1x4xi64>, %b: tensor<1x4xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.segments query ids must be a tensor of i32}}
  %m = attn.mask %s [#attn.segments] (%a, %b) : tensor<1x1x4x4xf32>, tensor<1x4xi64>, tensor<1x4xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_csr(%s: tensor<1x1x4x4xf32>, %rp: tensor<4xi32>, %c: tensor<6xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.csr row pointers must have Sq+1 entries (4 vs 5)}}
  %m = attn.mask %s [#attn.csr] (%rp, %c) : tensor<1x1x4x4xf32>, tensor<4xi32>, tensor<6xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_indices(%s: tensor<1x2x4x4xf32>, %idx: tensor<1x1x4x2xi32>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.indices head count (1 vs 2)}}
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x2x4x4xf32>, tensor<1x1x4x2xi32>
  return %m : tensor<1x2x4x4xf32>
}

// -----

func.func @mask_rows(%s: tensor<1x1x4x4xf32>, %r: tensor<1x1x5xi1>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.rows length != Sq (5 vs 4)}}
  %m = attn.mask %s [#attn.rows] (%r) : tensor<1x1x4x4xf32>, tensor<1x1x5xi1>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_dense(%s: tensor<1x1x4x4xf32>, %d: tensor<1x1x4x3xi1>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.dense columns != Skv (3 vs 4)}}
  %m = attn.mask %s [#attn.dense] (%d) : tensor<1x1x4x4xf32>, tensor<1x1x4x3xi1>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_predicate_args(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op predicate region must take arguments (index, index, index, index)}}
  %m = attn.mask %s [] : tensor<1x1x4x4xf32> {
  ^bb0(%i: index, %j: index):
    %keep = arith.cmpi uge, %i, %j : index
    attn.yield %keep : i1
  }
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_predicate_yield(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op predicate region must yield 'i1', got 'index'}}
  %m = attn.mask %s [] : tensor<1x1x4x4xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    attn.yield %i : index
  }
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @agg_len(%s: tensor<1x2x4x5xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.aggregate' op scores key length and value length differ (5 vs 4)}}
  %o = attn.aggregate softmax %s, %v : tensor<1x2x4x5xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @agg_heads(%s: tensor<1x4x4x4xf32>, %v: tensor<1x3x4x8xf32>) -> tensor<1x4x4x8xf32> {
  // expected-error @+1 {{'attn.aggregate' op value heads (3) must divide query heads (4)}}
  %o = attn.aggregate softmax %s, %v : tensor<1x4x4x4xf32>, tensor<1x3x4x8xf32> -> tensor<1x4x4x8xf32>
  return %o : tensor<1x4x4x8xf32>
}

// -----

func.func @agg_batch(%s: tensor<2x2x4x4xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<2x2x4x8xf32> {
  // expected-error @+1 {{'attn.aggregate' op scores and value batch sizes differ (2 vs 1)}}
  %o = attn.aggregate softmax %s, %v : tensor<2x2x4x4xf32>, tensor<1x2x4x8xf32> -> tensor<2x2x4x8xf32>
  return %o : tensor<2x2x4x8xf32>
}

// -----

func.func @agg_sinks_kind(%s: tensor<1x2x4x4xf32>, %v: tensor<1x2x4x8xf32>, %sk: tensor<2xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.aggregate' op sinks require softmax aggregation}}
  %o = attn.aggregate sigmoid %s, %v sinks(%sk) : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>, tensor<2xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @agg_sinks_len(%s: tensor<1x2x4x4xf32>, %v: tensor<1x2x4x8xf32>, %sk: tensor<3xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.aggregate' op sinks need one logit per query head (3 vs 2)}}
  %o = attn.aggregate softmax %s, %v sinks(%sk) : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>, tensor<3xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @agg_lse_kind(%s: tensor<1x2x4x4xf32>, %v: tensor<1x2x4x8xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4xf32>) {
  // expected-error @+1 {{'attn.aggregate' op an lse result requires softmax aggregation}}
  %o, %l = attn.aggregate none %s, %v : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
  return %o, %l : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
}

// -----

func.func @agg_out_type(%s: tensor<1x2x4x4xf32>, %v: tensor<1x2x4x8xf16>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.aggregate' op output element type must be the value element type}}
  %o = attn.aggregate softmax %s, %v : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf16> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @agg_out_shape(%s: tensor<1x2x4x4xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'attn.aggregate' op result #0 has shape [1, 2, 4, 4] but [1, 2, 4, 8] is expected}}
  %o = attn.aggregate softmax %s, %v : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x4xf32>
  return %o : tensor<1x2x4x4xf32>
}

// -----

func.func @merge_odd(%o: tensor<1x2x4x8xf32>, %l: tensor<1x2x4xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4xf32>) {
  // expected-error @+1 {{'attn.merge' op expects (output, lse) operand pairs}}
  %r, %rl = attn.merge %o, %l, %o : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
  return %r, %rl : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
}

// -----

func.func @merge_shape(%o: tensor<1x2x4x8xf32>, %l: tensor<1x2x4xf32>, %o2: tensor<1x2x5x8xf32>, %l2: tensor<1x2x5xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4xf32>) {
  // expected-error @+1 {{'attn.merge' op partial output #1 shape differs from partial #0 (5 vs 4)}}
  %r, %rl = attn.merge %o, %l, %o2, %l2 : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
  return %r, %rl : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
}

// -----

func.func @merge_lse(%o: tensor<1x2x4x8xf32>, %l: tensor<1x2x3xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4xf32>) {
  // expected-error @+1 {{'attn.merge' op partial lse #0 must be the output shape without Dv (3 vs 4)}}
  %r, %rl = attn.merge %o, %l : tensor<1x2x4x8xf32>, tensor<1x2x3xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
  return %r, %rl : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
}

// -----

func.func @fm_weights(%x: tensor<1x2x4x8xf32>) -> tensor<1x2x4x16xf32> {
  // expected-error @+1 {{'attn.feature_map' op random_features requires a weight operand W [D, F]}}
  %f = attn.feature_map random_features %x : tensor<1x2x4x8xf32> -> tensor<1x2x4x16xf32>
  return %f : tensor<1x2x4x16xf32>
}

// -----

func.func @fm_extra(%x: tensor<1x2x4x8xf32>, %w: tensor<8x16xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.feature_map' op only random_features takes a weight operand}}
  %f = attn.feature_map relu %x, %w : tensor<1x2x4x8xf32>, tensor<8x16xf32> -> tensor<1x2x4x8xf32>
  return %f : tensor<1x2x4x8xf32>
}

// -----

func.func @fm_rows(%x: tensor<1x2x4x8xf32>, %w: tensor<4x16xf32>) -> tensor<1x2x4x16xf32> {
  // expected-error @+1 {{'attn.feature_map' op weights rows must equal the input dimension D (4 vs 8)}}
  %f = attn.feature_map random_features %x, %w : tensor<1x2x4x8xf32>, tensor<4x16xf32> -> tensor<1x2x4x16xf32>
  return %f : tensor<1x2x4x16xf32>
}

// -----

func.func @fm_taylor(%x: tensor<1x2x4x3xf32>) -> tensor<1x2x4x9xf32> {
  // expected-error @+1 {{'attn.feature_map' op result #0 has shape [1, 2, 4, 9] but [1, 2, 4, 13] is expected}}
  %f = attn.feature_map taylor2 %x : tensor<1x2x4x3xf32> -> tensor<1x2x4x9xf32>
  return %f : tensor<1x2x4x9xf32>
}

// -----

func.func @la_state_causal(%q: tensor<1x2x4x8xf32>, %s: tensor<1x2x8x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op state requires causal}}
  %o, %s1 = attn.linear_aggregate %q, %q, %q state(%s : tensor<1x2x8x8xf32>) : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x8x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_state_normalize(%q: tensor<1x2x4x8xf32>, %s: tensor<1x2x8x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op state cannot be combined with normalize}}
  %o, %s1 = attn.linear_aggregate %q, %q, %q state(%s : tensor<1x2x8x8xf32>) {causal, normalize} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x8x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_state_rank(%q: tensor<1x2x4x8xf32>, %s: tensor<2x8x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op state must have rank 4, got 3}}
  %o, %s1 = attn.linear_aggregate %q, %q, %q state(%s : tensor<2x8x8xf32>) {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<2x8x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_state_batch(%q: tensor<1x2x4x8xf32>, %s: tensor<3x2x8x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op state batch size differs from the query's (3 vs 1)}}
  %o, %s1 = attn.linear_aggregate %q, %q, %q state(%s : tensor<3x2x8x8xf32>) {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<3x2x8x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_state_heads(%q: tensor<1x2x4x8xf32>, %s: tensor<1x1x8x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op state needs one [F, Dv] matrix per query head (1 vs 2)}}
  %o, %s1 = attn.linear_aggregate %q, %q, %q state(%s : tensor<1x1x8x8xf32>) {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x1x8x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_state_rows(%q: tensor<1x2x4x8xf32>, %s: tensor<1x2x7x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op state rows differ from the feature dimension F (7 vs 8)}}
  %o, %s1 = attn.linear_aggregate %q, %q, %q state(%s : tensor<1x2x7x8xf32>) {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x7x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_state_cols(%q: tensor<1x2x4x8xf32>, %s: tensor<1x2x8x5xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op state columns differ from the value dimension Dv (5 vs 8)}}
  %o, %s1 = attn.linear_aggregate %q, %q, %q state(%s : tensor<1x2x8x5xf32>) {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x8x5xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_state_result(%q: tensor<1x2x4x8xf32>, %s: tensor<1x2x8x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op state needs a second result, the final state}}
  %o = attn.linear_aggregate %q, %q, %q state(%s : tensor<1x2x8x8xf32>) {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_final_state(%q: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op a final state result needs a state operand}}
  %o, %s1 = attn.linear_aggregate %q, %q, %q {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x8x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_state_result_shape(%q: tensor<1x2x4x8xf32>, %s: tensor<1x2x8x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op result #1 has shape [1, 2, 8, 4] but [1, 2, 8, 8] is expected}}
  %o, %s1 = attn.linear_aggregate %q, %q, %q state(%s : tensor<1x2x8x8xf32>) {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_decay(%q: tensor<1x2x4x8xf32>, %l: tensor<2xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op decay requires causal}}
  %o = attn.linear_aggregate %q, %q, %q decay(%l) : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<2xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_decay_len(%q: tensor<1x2x4x8xf32>, %l: tensor<4xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op decay needs one value per query head (4 vs 2)}}
  %o = attn.linear_aggregate %q, %q, %q decay(%l) {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<4xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_eps(%q: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op eps must be non-negative}}
  %o = attn.linear_aggregate %q, %q, %q {normalize, eps = -1.0 : f32} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_feat(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x6xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op query and key feature dimensions differ (8 vs 6)}}
  %o = attn.linear_aggregate %q, %k, %q : tensor<1x2x4x8xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @sb_block(%q: tensor<1x2x8x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op block_q must be positive, got 0}}
  %b = attn.select_blocks %q, %q {block_q = 0, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_topk(%q: tensor<1x2x8x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op top_k must be positive, got 0}}
  %b = attn.select_blocks %q, %q {block_q = 4, block_kv = 4, top_k = 0} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_pool(%q: tensor<1x2x8x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op pool must be "mean" or "max", got "min"}}
  %b = attn.select_blocks %q, %q {block_q = 4, block_kv = 4, top_k = 1, pool = "min"} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_reps(%q: tensor<1x2x8x4xf32>, %r: tensor<1x2x3x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op reps need one row per key block (3 vs 2)}}
  %b = attn.select_blocks %q, %q reps(%r) {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x3x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_qreps(%q: tensor<1x2x8x4xf32>, %p: tensor<1x2x2x5xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op qreps dimension differs from the key representatives' (5 vs 4)}}
  %b = attn.select_blocks %q, %q qreps(%p) {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x2x5xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_result(%q: tensor<1x2x9x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op result #0 has shape [1, 2, 2, 2] but [1, 2, 3, 3] is expected}}
  %b = attn.select_blocks %q, %q {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x9x4xf32>, tensor<1x2x9x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @topk_k(%s: tensor<1x2x4x4xf32>) -> tensor<1x2x4x0xi32> {
  // expected-error @+1 {{'attn.select_topk' op top_k must be positive, got 0}}
  %i = attn.select_topk %s {top_k = 0} : tensor<1x2x4x4xf32> -> tensor<1x2x4x0xi32>
  return %i : tensor<1x2x4x0xi32>
}

// -----

func.func @topk_result(%s: tensor<1x2x4x4xf32>) -> tensor<1x2x4x3xi32> {
  // expected-error @+1 {{'attn.select_topk' op result #0 has shape [1, 2, 4, 3] but [1, 2, 4, 2] is expected}}
  %i = attn.select_topk %s {top_k = 2} : tensor<1x2x4x4xf32> -> tensor<1x2x4x3xi32>
  return %i : tensor<1x2x4x3xi32>
}

// -----

func.func @cluster_dim(%x: tensor<1x2x4x8xf32>, %c: tensor<2x3x4xf32>) -> tensor<1x2x4xi32> {
  // expected-error @+1 {{'attn.cluster' op centroid and input dimensions differ (4 vs 8)}}
  %i = attn.cluster %x, %c : tensor<1x2x4x8xf32>, tensor<2x3x4xf32> -> tensor<1x2x4xi32>
  return %i : tensor<1x2x4xi32>
}

// -----

func.func @cluster_heads(%x: tensor<1x2x4x8xf32>, %c: tensor<3x3x8xf32>) -> tensor<1x2x4xi32> {
  // expected-error @+1 {{'attn.cluster' op centroids head count must be 1 or 2, got 3}}
  %i = attn.cluster %x, %c : tensor<1x2x4x8xf32>, tensor<3x3x8xf32> -> tensor<1x2x4xi32>
  return %i : tensor<1x2x4xi32>
}

// -----

func.func @lsh_rows(%x: tensor<1x2x4x8xf32>, %p: tensor<4x3xf32>) -> tensor<1x2x4xi32> {
  // expected-error @+1 {{'attn.lsh' op planes rows must equal the input dimension D (4 vs 8)}}
  %i = attn.lsh %x, %p : tensor<1x2x4x8xf32>, tensor<4x3xf32> -> tensor<1x2x4xi32>
  return %i : tensor<1x2x4xi32>
}

// -----

func.func @lsh_planes(%x: tensor<1x2x4x8xf32>, %p: tensor<8x32xf32>) -> tensor<1x2x4xi32> {
  // expected-error @+1 {{'attn.lsh' op lsh needs 1 to 31 planes, got 32}}
  %i = attn.lsh %x, %p : tensor<1x2x4x8xf32>, tensor<8x32xf32> -> tensor<1x2x4xi32>
  return %i : tensor<1x2x4xi32>
}

// -----

// expected-error @+1 {{#attn.window left needs at least one value}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.window<left = [], right = 0>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.window right must be non-negative, got -2}}
func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.window<left = 1, right = [0, -2]>] : tensor<1x1x4x4xf32> return %m : tensor<1x1x4x4xf32> }

// -----

// expected-error @+1 {{#attn.block_mask block_q must be positive, got 0}}
func.func @f(%s: tensor<1x1x4x4xf32>, %bm: tensor<1x1x2x2xi1>) -> tensor<1x1x4x4xf32> { %m = attn.mask %s [#attn.block_mask<block_q = 0, block_kv = 2>] (%bm) : tensor<1x1x4x4xf32>, tensor<1x1x2x2xi1> return %m : tensor<1x1x4x4xf32> }

// -----

func.func @score_key_rank(%q: tensor<1x8x4x16xf32>, %k: tensor<2x4x16xf32>) -> tensor<1x8x4x4xf32> {
  // expected-error @+1 {{'attn.score' op key must have rank 4, got 3}}
  %s = attn.score %q, %k : tensor<1x8x4x16xf32>, tensor<2x4x16xf32> -> tensor<1x8x4x4xf32>
  return %s : tensor<1x8x4x4xf32>
}

// -----

func.func @mask_predicate_blocks(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op predicate region must have one block}}
  %m = attn.mask %s [] : tensor<1x1x4x4xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %t = arith.constant true
    attn.yield %t : i1
  ^bb1:
    %f = arith.constant false
    attn.yield %f : i1
  }
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_predicate_terminator(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op predicate region must end in attn.yield}}
  %m = attn.mask %s [] : tensor<1x1x4x4xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    llvm.unreachable
  }
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @score_mod_terminator(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.score_mod' op score_mod region must end in attn.yield}}
  %t = attn.score_mod %s : tensor<1x1x4x4xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    llvm.unreachable
  }
  return %t : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_scores_rank(%s: tensor<1x4x4xf32>) -> tensor<1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op scores must have rank 4, got 3}}
  %m = attn.mask %s [#attn.causal] : tensor<1x4x4xf32>
  return %m : tensor<1x4x4xf32>
}

// -----

func.func @mask_window_right_heads(%s: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.window right list needs one entry per query head (1 vs 2)}}
  %m = attn.mask %s [#attn.window<left = 1, right = [0]>] : tensor<1x2x4x4xf32>
  return %m : tensor<1x2x4x4xf32>
}

// -----

func.func @mask_bm_batch(%s: tensor<2x1x4x4xf32>, %bm: tensor<3x1x2x2xi1>) -> tensor<2x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.block_mask batch size must be 1 or 2, got 3}}
  %m = attn.mask %s [#attn.block_mask<block_q = 2, block_kv = 2>] (%bm) : tensor<2x1x4x4xf32>, tensor<3x1x2x2xi1>
  return %m : tensor<2x1x4x4xf32>
}

// -----

func.func @mask_seg_key_type(%s: tensor<1x1x4x4xf32>, %a: tensor<1x4xi32>, %b: tensor<1x4xi64>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.segments key ids must be a tensor of i32}}
  %m = attn.mask %s [#attn.segments] (%a, %b) : tensor<1x1x4x4xf32>, tensor<1x4xi32>, tensor<1x4xi64>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_seg_qbatch(%s: tensor<1x1x4x4xf32>, %a: tensor<2x4xi32>, %b: tensor<1x4xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.segments query ids batch size (2 vs 1)}}
  %m = attn.mask %s [#attn.segments] (%a, %b) : tensor<1x1x4x4xf32>, tensor<2x4xi32>, tensor<1x4xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_seg_kbatch(%s: tensor<1x1x4x4xf32>, %a: tensor<1x4xi32>, %b: tensor<2x4xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.segments key ids batch size (2 vs 1)}}
  %m = attn.mask %s [#attn.segments] (%a, %b) : tensor<1x1x4x4xf32>, tensor<1x4xi32>, tensor<2x4xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_seg_qheads(%s: tensor<1x2x4x4xf32>, %a: tensor<1x3x4xi32>, %b: tensor<1x2x4xi32>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.segments query ids head count must be 1 or 2, got 3}}
  %m = attn.mask %s [#attn.segments] (%a, %b) : tensor<1x2x4x4xf32>, tensor<1x3x4xi32>, tensor<1x2x4xi32>
  return %m : tensor<1x2x4x4xf32>
}

// -----

func.func @mask_seg_kheads(%s: tensor<1x2x4x4xf32>, %a: tensor<1x2x4xi32>, %b: tensor<1x3x4xi32>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.segments key ids head count must be 1 or 2, got 3}}
  %m = attn.mask %s [#attn.segments] (%a, %b) : tensor<1x2x4x4xf32>, tensor<1x2x4xi32>, tensor<1x3x4xi32>
  return %m : tensor<1x2x4x4xf32>
}

// -----

func.func @mask_seg_qlen(%s: tensor<1x1x4x4xf32>, %a: tensor<1x5xi32>, %b: tensor<1x4xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.segments query ids length != Sq (5 vs 4)}}
  %m = attn.mask %s [#attn.segments] (%a, %b) : tensor<1x1x4x4xf32>, tensor<1x5xi32>, tensor<1x4xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_csr_rp_type(%s: tensor<1x1x4x4xf32>, %rp: tensor<5xi64>, %c: tensor<6xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.csr row pointers must be a tensor of i32}}
  %m = attn.mask %s [#attn.csr] (%rp, %c) : tensor<1x1x4x4xf32>, tensor<5xi64>, tensor<6xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_csr_col_type(%s: tensor<1x1x4x4xf32>, %rp: tensor<5xi32>, %c: tensor<6xi64>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.csr column indices must be a tensor of i32}}
  %m = attn.mask %s [#attn.csr] (%rp, %c) : tensor<1x1x4x4xf32>, tensor<5xi32>, tensor<6xi64>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_csr_rp_rank(%s: tensor<1x1x4x4xf32>, %rp: tensor<1x5xi32>, %c: tensor<6xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.csr row pointers must have rank 1, got 2}}
  %m = attn.mask %s [#attn.csr] (%rp, %c) : tensor<1x1x4x4xf32>, tensor<1x5xi32>, tensor<6xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_csr_col_rank(%s: tensor<1x1x4x4xf32>, %rp: tensor<5xi32>, %c: tensor<1x6xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.csr column indices must have rank 1, got 2}}
  %m = attn.mask %s [#attn.csr] (%rp, %c) : tensor<1x1x4x4xf32>, tensor<5xi32>, tensor<1x6xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_indices_type(%s: tensor<1x1x4x4xf32>, %idx: tensor<1x1x4x2xi64>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.indices operand must be a tensor of i32}}
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x1x4x4xf32>, tensor<1x1x4x2xi64>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_indices_rank(%s: tensor<1x1x4x4xf32>, %idx: tensor<4x2xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.indices operand must have rank 4, got 2}}
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x1x4x4xf32>, tensor<4x2xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_indices_batch(%s: tensor<1x1x4x4xf32>, %idx: tensor<2x1x4x2xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.indices batch size (2 vs 1)}}
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x1x4x4xf32>, tensor<2x1x4x2xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_indices_rows(%s: tensor<1x1x4x4xf32>, %idx: tensor<1x1x3x2xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.indices rows != Sq (3 vs 4)}}
  %m = attn.mask %s [#attn.indices] (%idx) : tensor<1x1x4x4xf32>, tensor<1x1x3x2xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_rows_type(%s: tensor<1x1x4x4xf32>, %r: tensor<1x1x4xi32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.rows operand must be a tensor of i1}}
  %m = attn.mask %s [#attn.rows] (%r) : tensor<1x1x4x4xf32>, tensor<1x1x4xi32>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_rows_rank(%s: tensor<1x1x4x4xf32>, %r: tensor<1x4xi1>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.rows operand must have rank 3, got 2}}
  %m = attn.mask %s [#attn.rows] (%r) : tensor<1x1x4x4xf32>, tensor<1x4xi1>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_rows_batch(%s: tensor<1x1x4x4xf32>, %r: tensor<2x1x4xi1>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.rows batch size (2 vs 1)}}
  %m = attn.mask %s [#attn.rows] (%r) : tensor<1x1x4x4xf32>, tensor<2x1x4xi1>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_rows_heads(%s: tensor<1x2x4x4xf32>, %r: tensor<1x1x4xi1>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.rows head count (1 vs 2)}}
  %m = attn.mask %s [#attn.rows] (%r) : tensor<1x2x4x4xf32>, tensor<1x1x4xi1>
  return %m : tensor<1x2x4x4xf32>
}

// -----

func.func @mask_dense_type(%s: tensor<1x1x4x4xf32>, %d: tensor<1x1x4x4xi8>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.dense operand must be a tensor of i1}}
  %m = attn.mask %s [#attn.dense] (%d) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xi8>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_dense_rank(%s: tensor<1x1x4x4xf32>, %d: tensor<4x4xi1>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.dense operand must have rank 4, got 2}}
  %m = attn.mask %s [#attn.dense] (%d) : tensor<1x1x4x4xf32>, tensor<4x4xi1>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @mask_dense_batch(%s: tensor<2x1x4x4xf32>, %d: tensor<3x1x4x4xi1>) -> tensor<2x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.dense batch size must be 1 or 2, got 3}}
  %m = attn.mask %s [#attn.dense] (%d) : tensor<2x1x4x4xf32>, tensor<3x1x4x4xi1>
  return %m : tensor<2x1x4x4xf32>
}

// -----

func.func @mask_dense_heads(%s: tensor<1x2x4x4xf32>, %d: tensor<1x3x4x4xi1>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.dense head count must be 1 or 2, got 3}}
  %m = attn.mask %s [#attn.dense] (%d) : tensor<1x2x4x4xf32>, tensor<1x3x4x4xi1>
  return %m : tensor<1x2x4x4xf32>
}

// -----

func.func @mask_dense_rows(%s: tensor<1x1x4x4xf32>, %d: tensor<1x1x3x4xi1>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.mask' op #attn.dense rows != Sq (3 vs 4)}}
  %m = attn.mask %s [#attn.dense] (%d) : tensor<1x1x4x4xf32>, tensor<1x1x3x4xi1>
  return %m : tensor<1x1x4x4xf32>
}

// -----

func.func @agg_scores_rank(%s: tensor<2x4x4xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.aggregate' op scores must have rank 4, got 3}}
  %o = attn.aggregate softmax %s, %v : tensor<2x4x4xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @agg_value_rank(%s: tensor<1x2x4x4xf32>, %v: tensor<2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.aggregate' op value must have rank 4, got 3}}
  %o = attn.aggregate softmax %s, %v : tensor<1x2x4x4xf32>, tensor<2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @agg_dynamic_dv(%s: tensor<1x2x4x4xf32>, %v: tensor<1x2x4x?xf32>) -> tensor<1x2x4x?xf32> {
  // expected-error @+1 {{'attn.aggregate' op value head dimension Dv must be static}}
  %o = attn.aggregate softmax %s, %v : tensor<1x2x4x4xf32>, tensor<1x2x4x?xf32> -> tensor<1x2x4x?xf32>
  return %o : tensor<1x2x4x?xf32>
}

// -----

func.func @agg_sinks_rank(%s: tensor<1x2x4x4xf32>, %v: tensor<1x2x4x8xf32>, %sk: tensor<1x2xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.aggregate' op sinks must have rank 1, got 2}}
  %o = attn.aggregate softmax %s, %v sinks(%sk) : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>, tensor<1x2xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @merge_out0_rank(%o: tensor<2x4x8xf32>, %l: tensor<1x2x4xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4xf32>) {
  // expected-error @+1 {{'attn.merge' op partial output #0 must have rank 4, got 3}}
  %r, %rl = attn.merge %o, %l : tensor<2x4x8xf32>, tensor<1x2x4xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
  return %r, %rl : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
}

// -----

func.func @merge_out1_rank(%o: tensor<1x2x4x8xf32>, %l: tensor<1x2x4xf32>, %o2: tensor<2x4x8xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4xf32>) {
  // expected-error @+1 {{'attn.merge' op partial output #1 must have rank 4, got 3}}
  %r, %rl = attn.merge %o, %l, %o2, %l : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>, tensor<2x4x8xf32>, tensor<1x2x4xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
  return %r, %rl : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
}

// -----

func.func @merge_out_type(%o: tensor<1x2x4x8xf16>, %l: tensor<1x2x4xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4xf32>) {
  // expected-error @+1 {{'attn.merge' op partial output #0 must be a tensor of the result's element type}}
  %r, %rl = attn.merge %o, %l : tensor<1x2x4x8xf16>, tensor<1x2x4xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
  return %r, %rl : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
}

// -----

func.func @merge_lse_type(%o: tensor<1x2x4x8xf32>, %l: tensor<1x2x4xf16>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4xf32>) {
  // expected-error @+1 {{'attn.merge' op partial lse #0 must be a tensor of f32}}
  %r, %rl = attn.merge %o, %l : tensor<1x2x4x8xf32>, tensor<1x2x4xf16> -> tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
  return %r, %rl : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
}

// -----

func.func @merge_lse_rank(%o: tensor<1x2x4x8xf32>, %l: tensor<2x4xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4xf32>) {
  // expected-error @+1 {{'attn.merge' op partial lse #0 must have rank 3, got 2}}
  %r, %rl = attn.merge %o, %l : tensor<1x2x4x8xf32>, tensor<2x4xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
  return %r, %rl : tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
}

// -----

func.func @fm_rank0(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{'attn.feature_map' op input must have rank >= 1}}
  %f = attn.feature_map relu %x : tensor<f32> -> tensor<f32>
  return %f : tensor<f32>
}

// -----

func.func @fm_dynamic_d(%x: tensor<1x2x4x?xf32>) -> tensor<1x2x4x?xf32> {
  // expected-error @+1 {{'attn.feature_map' op feature dimension of the input must be static}}
  %f = attn.feature_map relu %x : tensor<1x2x4x?xf32> -> tensor<1x2x4x?xf32>
  return %f : tensor<1x2x4x?xf32>
}

// -----

func.func @fm_weights_rank(%x: tensor<1x2x4x8xf32>, %w: tensor<8xf32>) -> tensor<1x2x4x16xf32> {
  // expected-error @+1 {{'attn.feature_map' op weights must have rank 2, got 1}}
  %f = attn.feature_map random_features %x, %w : tensor<1x2x4x8xf32>, tensor<8xf32> -> tensor<1x2x4x16xf32>
  return %f : tensor<1x2x4x16xf32>
}

// -----

func.func @fm_dynamic_f(%x: tensor<1x2x4x8xf32>, %w: tensor<8x?xf32>) -> tensor<1x2x4x?xf32> {
  // expected-error @+1 {{'attn.feature_map' op feature count F of the weights must be static}}
  %f = attn.feature_map random_features %x, %w : tensor<1x2x4x8xf32>, tensor<8x?xf32> -> tensor<1x2x4x?xf32>
  return %f : tensor<1x2x4x?xf32>
}

// -----

func.func @la_q_rank(%q: tensor<2x4x8xf32>, %k: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op query features must have rank 4, got 3}}
  %o = attn.linear_aggregate %q, %k, %k : tensor<2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_k_rank(%q: tensor<1x2x4x8xf32>, %k: tensor<2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op key features must have rank 4, got 3}}
  %o = attn.linear_aggregate %q, %k, %q : tensor<1x2x4x8xf32>, tensor<2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_v_rank(%q: tensor<1x2x4x8xf32>, %v: tensor<2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op value must have rank 4, got 3}}
  %o = attn.linear_aggregate %q, %q, %v : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_qk_batch(%q: tensor<1x2x4x8xf32>, %k: tensor<2x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op query and key batch sizes differ (1 vs 2)}}
  %o = attn.linear_aggregate %q, %k, %k : tensor<1x2x4x8xf32>, tensor<2x2x4x8xf32>, tensor<2x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_kv_batch(%q: tensor<1x2x4x8xf32>, %v: tensor<2x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op key and value batch sizes differ (1 vs 2)}}
  %o = attn.linear_aggregate %q, %q, %v : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<2x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_kv_heads(%q: tensor<1x2x4x8xf32>, %v: tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op key and value head counts differ (2 vs 1)}}
  %o = attn.linear_aggregate %q, %q, %v : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x1x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_kv_len(%q: tensor<1x2x4x8xf32>, %v: tensor<1x2x5x8xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op key and value lengths differ (4 vs 5)}}
  %o = attn.linear_aggregate %q, %q, %v : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x5x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @la_gqa(%q: tensor<1x4x4x8xf32>, %k: tensor<1x3x4x8xf32>) -> tensor<1x4x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op key heads (3) must divide query heads (4)}}
  %o = attn.linear_aggregate %q, %k, %k : tensor<1x4x4x8xf32>, tensor<1x3x4x8xf32>, tensor<1x3x4x8xf32> -> tensor<1x4x4x8xf32>
  return %o : tensor<1x4x4x8xf32>
}

// -----

func.func @la_dynamic_dv(%q: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x?xf32>) -> tensor<1x2x4x?xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op value head dimension Dv must be static}}
  %o = attn.linear_aggregate %q, %q, %v : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x?xf32> -> tensor<1x2x4x?xf32>
  return %o : tensor<1x2x4x?xf32>
}

// -----

func.func @la_decay_rank(%q: tensor<1x2x4x8xf32>, %l: tensor<1x2xf32>) -> tensor<1x2x4x8xf32> {
  // expected-error @+1 {{'attn.linear_aggregate' op decay must have rank 1, got 2}}
  %o = attn.linear_aggregate %q, %q, %q decay(%l) {causal} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

func.func @sb_block_kv(%q: tensor<1x2x8x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op block_kv must be positive, got 0}}
  %b = attn.select_blocks %q, %q {block_q = 4, block_kv = 0, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_q_rank(%q: tensor<2x8x4xf32>, %k: tensor<1x2x8x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op query must have rank 4, got 3}}
  %b = attn.select_blocks %q, %k {block_q = 4, block_kv = 4, top_k = 1} : tensor<2x8x4xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_k_rank(%q: tensor<1x2x8x4xf32>, %k: tensor<2x8x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op key must have rank 4, got 3}}
  %b = attn.select_blocks %q, %k {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<2x8x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_batch(%q: tensor<1x2x8x4xf32>, %k: tensor<2x2x8x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op query and key batch sizes differ (1 vs 2)}}
  %b = attn.select_blocks %q, %k {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_gqa(%q: tensor<1x4x8x4xf32>, %k: tensor<1x3x8x4xf32>) -> tensor<1x4x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op key heads (3) must divide query heads (4)}}
  %b = attn.select_blocks %q, %k {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x4x8x4xf32>, tensor<1x3x8x4xf32> -> tensor<1x4x2x2xi1>
  return %b : tensor<1x4x2x2xi1>
}

// -----

func.func @sb_reps_rank(%q: tensor<1x2x8x4xf32>, %r: tensor<2x2x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op reps must have rank 4, got 3}}
  %b = attn.select_blocks %q, %q reps(%r) {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<2x2x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_reps_batch(%q: tensor<1x2x8x4xf32>, %r: tensor<2x2x2x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op reps batch size differs from the query's (2 vs 1)}}
  %b = attn.select_blocks %q, %q reps(%r) {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<2x2x2x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_reps_heads(%q: tensor<1x4x8x4xf32>, %r: tensor<1x3x2x4xf32>) -> tensor<1x4x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op reps heads (3) must divide query heads (4)}}
  %b = attn.select_blocks %q, %q reps(%r) {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x4x8x4xf32>, tensor<1x4x8x4xf32>, tensor<1x3x2x4xf32> -> tensor<1x4x2x2xi1>
  return %b : tensor<1x4x2x2xi1>
}

// -----

func.func @sb_qreps_rank(%q: tensor<1x2x8x4xf32>, %p: tensor<2x2x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op qreps must have rank 4, got 3}}
  %b = attn.select_blocks %q, %q qreps(%p) {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<2x2x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_qreps_batch(%q: tensor<1x2x8x4xf32>, %p: tensor<2x2x2x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op qreps batch size differs from the query's (2 vs 1)}}
  %b = attn.select_blocks %q, %q qreps(%p) {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<2x2x2x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_qreps_heads(%q: tensor<1x2x8x4xf32>, %p: tensor<1x1x2x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op qreps need one head per query head (1 vs 2)}}
  %b = attn.select_blocks %q, %q qreps(%p) {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x2x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_qreps_rows(%q: tensor<1x2x8x4xf32>, %p: tensor<1x2x3x4xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op qreps need one row per query block (3 vs 2)}}
  %b = attn.select_blocks %q, %q qreps(%p) {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x3x4xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @sb_query_dim(%q: tensor<1x2x8x4xf32>, %r: tensor<1x2x2x6xf32>) -> tensor<1x2x2x2xi1> {
  // expected-error @+1 {{'attn.select_blocks' op query dimension differs from the key representatives' (4 vs 6)}}
  %b = attn.select_blocks %q, %q reps(%r) {block_q = 4, block_kv = 4, top_k = 1} : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x2x6xf32> -> tensor<1x2x2x2xi1>
  return %b : tensor<1x2x2x2xi1>
}

// -----

func.func @topk_rank(%s: tensor<2x4x4xf32>) -> tensor<1x2x4x2xi32> {
  // expected-error @+1 {{'attn.select_topk' op scores must have rank 4, got 3}}
  %i = attn.select_topk %s {top_k = 2} : tensor<2x4x4xf32> -> tensor<1x2x4x2xi32>
  return %i : tensor<1x2x4x2xi32>
}

// -----

func.func @cluster_input_rank(%x: tensor<2x4x8xf32>, %c: tensor<2x3x8xf32>) -> tensor<1x2x4xi32> {
  // expected-error @+1 {{'attn.cluster' op input must have rank 4, got 3}}
  %i = attn.cluster %x, %c : tensor<2x4x8xf32>, tensor<2x3x8xf32> -> tensor<1x2x4xi32>
  return %i : tensor<1x2x4xi32>
}

// -----

func.func @cluster_centroids_rank(%x: tensor<1x2x4x8xf32>, %c: tensor<3x8xf32>) -> tensor<1x2x4xi32> {
  // expected-error @+1 {{'attn.cluster' op centroids must have rank 3, got 2}}
  %i = attn.cluster %x, %c : tensor<1x2x4x8xf32>, tensor<3x8xf32> -> tensor<1x2x4xi32>
  return %i : tensor<1x2x4xi32>
}

// -----

func.func @lsh_input_rank(%x: tensor<2x4x8xf32>, %p: tensor<8x3xf32>) -> tensor<1x2x4xi32> {
  // expected-error @+1 {{'attn.lsh' op input must have rank 4, got 3}}
  %i = attn.lsh %x, %p : tensor<2x4x8xf32>, tensor<8x3xf32> -> tensor<1x2x4xi32>
  return %i : tensor<1x2x4xi32>
}

// -----

func.func @lsh_planes_rank(%x: tensor<1x2x4x8xf32>, %p: tensor<8xf32>) -> tensor<1x2x4xi32> {
  // expected-error @+1 {{'attn.lsh' op planes must have rank 2, got 1}}
  %i = attn.lsh %x, %p : tensor<1x2x4x8xf32>, tensor<8xf32> -> tensor<1x2x4xi32>
  return %i : tensor<1x2x4xi32>
}

// -----

func.func @normalize_rank(%s: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'attn.normalize' op scores must have rank 4, got 2}}
  %p = attn.normalize softmax %s : tensor<4x4xf32> -> tensor<4x4xf32>
  return %p : tensor<4x4xf32>
}

// -----

func.func @score_mod_rank(%s: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'attn.score_mod' op scores must have rank 4, got 2}}
  %t = attn.score_mod %s : tensor<4x4xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    attn.yield %x : f32
  }
  return %t : tensor<4x4xf32>
}

// -----

func.func @block_count_overflow(%s: tensor<1x1x4x4xf32>, %bm: tensor<1x1x1x1xi1>, %bm2: tensor<1x1x2x1xi1>) -> tensor<1x1x4x4xf32> {
  // Huge blocks are valid: one block covers everything, and nothing overflows.
  %m = attn.mask %s [#attn.block_mask<block_q = 9223372036854775807, block_kv = 9223372036854775807>] (%bm) : tensor<1x1x4x4xf32>, tensor<1x1x1x1xi1>
  // expected-error @+1 {{'attn.mask' op #attn.block_mask query blocks must be ceil(Sq/block_q) (2 vs 1)}}
  %n = attn.mask %m [#attn.block_mask<block_q = 9223372036854775807, block_kv = 4>] (%bm2) : tensor<1x1x4x4xf32>, tensor<1x1x2x1xi1>
  return %n : tensor<1x1x4x4xf32>
}

// -----

func.func @taylor2_too_wide(%x: tensor<1x1x1x2147483648xf32>) -> tensor<1x1x1x?xf32> {
  // expected-error @+1 {{'attn.feature_map' op taylor2 needs D <= 2^30, got 2147483648}}
  %f = attn.feature_map taylor2 %x : tensor<1x1x1x2147483648xf32> -> tensor<1x1x1x?xf32>
  return %f : tensor<1x1x1x?xf32>
}

// -----

func.func @attention_gqa(%q: tensor<1x3x4x8xf32>, %k: tensor<1x2x4x8xf32>) -> tensor<1x3x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op key heads (2) must divide query heads (3)}}
  %o = attn.attention softmax %q, %k, %k [] : tensor<1x3x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x3x4x8xf32>
  return %o : tensor<1x3x4x8xf32>
}

// -----

func.func @attention_mask_operands(%q: tensor<1x1x4x8xf32>, %r: tensor<1x1x4xi1>) -> tensor<1x1x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op mask patterns consume 0 operand(s), but 1 given}}
  %o = attn.attention softmax %q, %q, %q [#attn.causal] (%r : tensor<1x1x4xi1>) : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// -----

func.func @attention_sinks_kind(%q: tensor<1x1x4x8xf32>, %sk: tensor<1xf32>) -> tensor<1x1x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op sinks require softmax aggregation}}
  %o = attn.attention none %q, %q, %q [] sinks(%sk : tensor<1xf32>) : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// -----

func.func @attention_lse_kind(%q: tensor<1x1x4x8xf32>) -> (tensor<1x1x4x8xf32>, tensor<1x1x4xf32>) {
  // expected-error @+1 {{'attn.attention' op an lse result requires softmax aggregation}}
  %o, %l = attn.attention sigmoid %q, %q, %q [] : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf32>, tensor<1x1x4xf32>
  return %o, %l : tensor<1x1x4x8xf32>, tensor<1x1x4xf32>
}

// -----

func.func @attention_out_shape(%q: tensor<1x1x4x8xf32>) -> tensor<1x1x5x8xf32> {
  // expected-error @+1 {{'attn.attention' op result #0 has shape [1, 1, 5, 8] but [1, 1, 4, 8] is expected}}
  %o = attn.attention softmax %q, %q, %q [] : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x5x8xf32>
  return %o : tensor<1x1x5x8xf32>
}

// -----

func.func @attention_score_mod_args(%q: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op score_mod region must take arguments (f32, index, index, index, index)}}
  %o = attn.attention softmax %q, %q, %q [] : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf32>
    score_mod {
    ^bb0(%x: f32):
      attn.yield %x : f32
    }
  return %o : tensor<1x1x4x8xf32>
}

// -----

func.func @attention_predicate_yield(%q: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op predicate region must yield 'i1', got 'index'}}
  %o = attn.attention softmax %q, %q, %q [] : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf32>
    mask {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      attn.yield %i : index
    }
  return %o : tensor<1x1x4x8xf32>
}

// -----

// expected-error @+2 {{softmax needs the forward's lse operand}}
func.func @f(%q: tensor<1x1x4x4xf32>, %o: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %q, %q, %o, %o [] : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// expected-error @+2 {{grad_lse needs an lse operand}}
func.func @f(%q: tensor<1x1x4x4xf32>, %o: tensor<1x1x4x4xf32>, %l: tensor<1x1x4xf32>) -> tensor<1x1x4x4xf32> {
  %dq, %dk, %dv = attn.attention_grad sigmoid %q, %q, %q, %o, %o [] grad_lse(%l : tensor<1x1x4xf32>) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// expected-error @+2 {{output shape differs from the forward's}}
func.func @f(%q: tensor<1x1x4x4xf32>, %o: tensor<1x1x5x4xf32>) -> tensor<1x1x4x4xf32> {
  %dq, %dk, %dv = attn.attention_grad none %q, %q, %q, %o, %o [] : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x5x4xf32>, tensor<1x1x5x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// expected-error @+2 {{grad output type must be the output type}}
func.func @f(%q: tensor<1x1x4x4xf32>, %o: tensor<1x1x4x4xf32>, %do: tensor<1x1x4x4xf16>) -> tensor<1x1x4x4xf32> {
  %dq, %dk, %dv = attn.attention_grad none %q, %q, %q, %o, %do [] : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf16> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// expected-error @+2 {{grad_lse type must be the lse type}}
func.func @f(%q: tensor<1x1x4x4xf32>, %o: tensor<1x1x4x4xf32>, %l: tensor<1x1x4xf32>, %dl: tensor<1x1x?xf32>) -> tensor<1x1x4x4xf32> {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %q, %q, %o, %o [] lse(%l : tensor<1x1x4xf32>) grad_lse(%dl : tensor<1x1x?xf32>) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// expected-error @+2 {{lse must be the output shape without Dv}}
func.func @f(%q: tensor<1x1x4x4xf32>, %o: tensor<1x1x4x4xf32>, %l: tensor<1x1x5xf32>) -> tensor<1x1x4x4xf32> {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %q, %q, %o, %o [] lse(%l : tensor<1x1x5xf32>) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// expected-error @+2 {{a sinks gradient result is required exactly when sinks are given}}
func.func @f(%q: tensor<1x1x4x4xf32>, %o: tensor<1x1x4x4xf32>, %l: tensor<1x1x4xf32>, %s: tensor<1xf32>) -> tensor<1x1x4x4xf32> {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %q, %q, %o, %o [] lse(%l : tensor<1x1x4xf32>) sinks(%s : tensor<1xf32>) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// expected-error @+2 {{expects one gradient result per captured tensor}}
func.func @f(%q: tensor<1x1x4x4xf32>, %o: tensor<1x1x4x4xf32>, %c: tensor<4xf32>) -> tensor<1x1x4x4xf32> {
  %dq, %dk, %dv = attn.attention_grad none %q, %q, %q, %o, %o [] captures(%c : tensor<4xf32>) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// expected-error @+2 {{query gradient type must be the query type}}
func.func @f(%q: tensor<1x1x4x4xf32>, %o: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf16> {
  %dq, %dk, %dv = attn.attention_grad none %q, %q, %q, %o, %o [] : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf16>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf16>
}

// -----

// expected-error @+2 {{decay requires causal}}
func.func @f(%q: tensor<1x1x4x4xf32>, %l: tensor<1xf32>) -> tensor<1x1x4x4xf32> {
  %dq, %dk, %dv, %dl = attn.linear_aggregate_grad %q, %q, %q, %q, %q decay(%l) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// expected-error @+2 {{a decay gradient result is required exactly when decay is given}}
func.func @f(%q: tensor<1x1x4x4xf32>, %l: tensor<1xf32>) -> tensor<1x1x4x4xf32> {
  %dq, %dk, %dv = attn.linear_aggregate_grad %q, %q, %q, %q, %q decay(%l) {causal} : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// expected-error @+2 {{each gradient must have the type of what it differentiates}}
func.func @f(%q: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf16> {
  %dq, %dk, %dv = attn.linear_aggregate_grad %q, %q, %q, %q, %q : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf16>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf16>
}

// -----

// entmax (row A9): alpha is required, finite and > 1, and only entmax takes it.
func.func @f(%s: tensor<1x1x4x4xf32>, %v: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.aggregate' op entmax needs an alpha attribute (alpha > 1)}}
  %o = attn.aggregate entmax %s, %v : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.normalize' op entmax needs a finite alpha > 1, got 1.000000e+00}}
  %p = attn.normalize entmax %s {alpha = 1.0 : f32} : tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %p : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%s: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.normalize' op entmax needs a finite alpha > 1, got 5.000000e-01}}
  %p = attn.normalize entmax %s {alpha = 0.5 : f32} : tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %p : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%s: tensor<1x1x4x4xf32>, %v: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.aggregate' op alpha applies only to entmax}}
  %o = attn.aggregate softmax %s, %v {alpha = 1.5 : f32} : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%s: tensor<1x1x4x4xf32>, %v: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.aggregate' op an lse result requires softmax aggregation}}
  %o, %l = attn.aggregate entmax %s, %v {alpha = 1.5 : f32} : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%s: tensor<1x1x4x4xf32>, %v: tensor<1x1x4x4xf32>, %sk: tensor<1xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.aggregate' op sinks require softmax aggregation}}
  %o = attn.aggregate entmax %s, %v sinks(%sk) {alpha = 1.5 : f32} : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

// The fused op takes entmax with the same rules as attn.aggregate.
func.func @f(%q: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention' op entmax needs an alpha attribute (alpha > 1)}}
  %o = attn.attention entmax %q, %q, %q [] : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%q: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention' op alpha applies only to entmax}}
  %o = attn.attention sigmoid %q, %q, %q [] {alpha = 2.0 : f32} : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%q: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention' op an lse result requires softmax aggregation}}
  %o, %l = attn.attention entmax %q, %q, %q [] {alpha = 1.5 : f32} : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%q: tensor<1x1x4x4xf32>, %sk: tensor<1xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention' op sinks require softmax aggregation}}
  %o = attn.attention entmax %q, %q, %q [] sinks(%sk : tensor<1xf32>) {alpha = 1.5 : f32} : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%q: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention_grad' op has no entmax form: attn-grad differentiates entmax through attn.aggregate}}
  %dq, %dk, %dv = attn.attention_grad entmax %q, %q, %q, %q, %q [] : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

// positions (attn-ring): two index values, softmax only, position patterns,
// block masks and #attn.segments only.
func.func @f(%q: tensor<1x1x4x4xf32>, %p: index) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention' op expects two positions (query, key), got 1}}
  %o = attn.attention softmax %q, %q, %q [#attn.causal] positions(%p) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%q: tensor<1x1x4x4xf32>, %p: index) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention' op takes positions with softmax only, got sigmoid}}
  %o = attn.attention sigmoid %q, %q, %q [#attn.causal] positions(%p, %p) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%q: tensor<1x1x4x4xf32>, %r: tensor<1x1x4xi1>, %p: index) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention' op takes positions with position patterns, #attn.block_mask and #attn.segments only, got #attn.rows}}
  %o = attn.attention softmax %q, %q, %q [#attn.rows] (%r : tensor<1x1x4xi1>) positions(%p, %p) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

// attn.attention_grad takes positions as attn.attention does, without sinks.
func.func @f(%q: tensor<1x1x4x4xf32>, %l: tensor<1x1x4xf32>, %p: index) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention_grad' op expects two positions (query, key), got 1}}
  %dq, %dk, %dv = attn.attention_grad softmax %q, %q, %q, %q, %q [#attn.causal] lse(%l : tensor<1x1x4xf32>) positions(%p) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%q: tensor<1x1x4x4xf32>, %p: index) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention_grad' op takes positions with softmax only, got sigmoid}}
  %dq, %dk, %dv = attn.attention_grad sigmoid %q, %q, %q, %q, %q [#attn.causal] positions(%p, %p) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%q: tensor<1x1x4x4xf32>, %l: tensor<1x1x4xf32>, %r: tensor<1x1x4xi1>, %p: index) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention_grad' op takes positions with position patterns, #attn.block_mask and #attn.segments only, got #attn.rows}}
  %dq, %dk, %dv = attn.attention_grad softmax %q, %q, %q, %q, %q [#attn.rows] (%r : tensor<1x1x4xi1>) lse(%l : tensor<1x1x4xf32>) positions(%p, %p) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %dq : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%q: tensor<1x1x4x4xf32>, %l: tensor<1x1x4xf32>, %s: tensor<1xf32>, %p: index) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{'attn.attention_grad' op takes no sinks with positions: the sinks' gradient is per row, not per block of keys}}
  %dq, %dk, %dv, %ds = attn.attention_grad softmax %q, %q, %q, %q, %q [#attn.causal] lse(%l : tensor<1x1x4xf32>) sinks(%s : tensor<1xf32>) positions(%p, %p) : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> sinks(tensor<1xf32>)
  return %dq : tensor<1x1x4x4xf32>
}
