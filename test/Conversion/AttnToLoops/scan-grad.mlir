// The scan form of the backward (attn-scan on attn.attention_grad): with a
// broadcast query and a causal mask, O(S) work per head and no [Sq, Skv]
// buffer -- the scores [B, Hq, Skv] and Δ [B, Hq, Sq] in parallel; per
// (batch, K/V head) the reverse sweeps over the keys of the GQA group's
// query heads in order, carrying the suffix sums (L, W, U) over the rows and
// adding to dK and dV; per (batch, query head) the forward sweep carrying
// (m, Kh) and Mh [Dv, D], writing dQ; d(sink) per head. A score_mod, a
// window, distinct query rows and a short static query are left to the
// tiled backward.
// RUN: attn-opt %s --split-input-file --attn-scan="vector-width=16" --canonicalize --cse | FileCheck %s --implicit-check-not=512x512

// CHECK-LABEL: func.func @aaren_grad
// CHECK-NOT: attn.attention_grad
// CHECK: %[[ROW:.*]] = linalg.broadcast ins(%{{.*}} : tensor<1x4x32xf32>) outs(%{{.*}} : tensor<1x4x1x32xf32>) dimensions = [2]
// CHECK: %[[Q:.*]] = bufferization.to_buffer %[[ROW]]
// CHECK: %[[SCORES:.*]] = memref.alloc() : memref<1x4x512xf32>
// CHECK: %[[DELTA:.*]] = memref.alloc() : memref<1x4x512xf32>
// CHECK: %[[MH:.*]] = memref.alloc() : memref<1x4x16x32xf32>
// CHECK: %[[DQ:.*]] = memref.alloc() : memref<1x4x512x32xf32>
// CHECK: %[[DK:.*]] = memref.alloc() : memref<1x2x512x32xf32>
// CHECK: %[[DV:.*]] = memref.alloc() : memref<1x2x512x16xf32>
// CHECK: %[[DSINK:.*]] = memref.alloc() : memref<4xf32>
// The scores and Δ = dO.O - dlse (0 where lse = -inf).
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c4, %c512)
// CHECK: vector.reduction <add>
// CHECK: memref.store %{{.*}}, %[[SCORES]]
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c4, %c512)
// CHECK: arith.subf
// CHECK: arith.cmpf one
// CHECK: memref.store %{{.*}}, %[[DELTA]]
// dK and dV per (batch, K/V head): the two query heads in order, each a
// reverse sweep over the keys (j = 511 - t) adding row j's suffix state.
// CHECK: scf.parallel (%[[HK:.*]]) = (%c0) to (%c2)
// CHECK: scf.for %[[G:.*]] = %c0 to %c2 step %c1
// CHECK: scf.for %[[T:.*]] = %c0 to %c512 step %c1 iter_args({{.*}}) -> (f32, f32, vector<16xf32>)
// CHECK: arith.subi %c511, %[[T]]
// CHECK: scf.if %{{.*}} -> (f32, f32, vector<16xf32>)
// CHECK: arith.minimumf
// CHECK: memref.load %[[SCORES]]
// CHECK: vector.store %{{.*}}, %[[DV]]
// CHECK: vector.store %{{.*}}, %[[DK]]
// dQ per (batch, query head): Mh rescaled when the max rises, then
// Mh += p v k^T, and row j's dQ = scale e^{m - lse} (Mh dO - Δ Kh).
// CHECK: scf.parallel (%[[H:.*]]) = (%c0) to (%c4)
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, vector<16xf32>, vector<16xf32>)
// CHECK: arith.cmpf ogt
// CHECK: scf.if
// CHECK: vector.store %{{.*}}, %[[MH]]
// CHECK: scf.for
// CHECK: vector.store %{{.*}}, %[[MH]]
// CHECK: scf.if
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>)
// CHECK: vector.load %[[MH]]
// CHECK: memref.load %[[DELTA]]
// CHECK: vector.store %{{.*}}, %[[DQ]]
// d(sink) = -Σ e^{sink - lse} Δ per head.
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c4)
// CHECK: memref.load %[[DELTA]]
// CHECK: arith.negf
// CHECK: memref.store %{{.*}}, %[[DSINK]]
// CHECK: return
func.func @aaren_grad(%q: tensor<1x4x32xf32>, %k: tensor<1x2x512x32xf32>,
                      %v: tensor<1x2x512x16xf32>, %o: tensor<1x4x512x16xf32>,
                      %lse: tensor<1x4x512xf32>, %do: tensor<1x4x512x16xf32>,
                      %dlse: tensor<1x4x512xf32>, %sk: tensor<4xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32>, tensor<1x2x512x16xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<1x4x512x32xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x4x32xf32>)
          outs(%e : tensor<1x4x512x32xf32>) dimensions = [2]
  %dq, %dk, %dv, %dsk = attn.attention_grad softmax %qb, %k, %v, %o, %do [#attn.causal]
      lse(%lse : tensor<1x4x512xf32>) grad_lse(%dlse : tensor<1x4x512xf32>) sinks(%sk : tensor<4xf32>)
      : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32>, tensor<1x2x512x16xf32>,
        tensor<1x4x512x16xf32>, tensor<1x4x512x16xf32>
      -> tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32>, tensor<1x2x512x16xf32> sinks(tensor<4xf32>)
  return %dq, %dk, %dv, %dsk : tensor<1x4x512x32xf32>, tensor<1x2x512x32xf32>, tensor<1x2x512x16xf32>, tensor<4xf32>
}

// -----

// sigmoid in bf16 with more rows than keys: no lse, Δ or rescaling (plain
// suffix and prefix sums); dK and dV are summed in f32 and narrowed at the
// end; the first 40 rows see no key and get dQ = 0.
// CHECK-LABEL: func.func @sigmoid_bf16
// CHECK-NOT: attn.attention_grad
// CHECK: %[[SCORES:.*]] = memref.alloc() : memref<2x2x60xf32>
// CHECK: %[[DQ:.*]] = memref.alloc() : memref<2x2x100x16xbf16>
// CHECK: %[[DK:.*]] = memref.alloc() : memref<2x2x60x16xbf16>
// CHECK: %[[DV:.*]] = memref.alloc() : memref<2x2x60x8xbf16>
// CHECK: %[[DKACC:.*]] = memref.alloc() : memref<2x2x60x16xf32>
// CHECK: %[[DVACC:.*]] = memref.alloc() : memref<2x2x60x8xf32>
// CHECK: scf.parallel
// CHECK-NOT: arith.minimumf
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>)
// CHECK: vector.store %{{.*}}, %[[DVACC]]
// CHECK: vector.store %{{.*}}, %[[DKACC]]
// CHECK: scf.parallel
// CHECK-NOT: arith.cmpf ogt
// CHECK: vector.store %{{.*}}, %[[DQ]]
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%c2, %c2, %c40)
// CHECK: memref.store %{{.*}}, %[[DQ]]
// CHECK: scf.parallel
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %{{.*}}, %[[DK]]
// CHECK: scf.parallel
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %{{.*}}, %[[DV]]
// CHECK: return
func.func @sigmoid_bf16(%q: tensor<2x2x16xbf16>, %k: tensor<2x2x60x16xbf16>,
                        %v: tensor<2x2x60x8xbf16>, %o: tensor<2x2x100x8xbf16>,
                        %do: tensor<2x2x100x8xbf16>)
    -> (tensor<2x2x100x16xbf16>, tensor<2x2x60x16xbf16>, tensor<2x2x60x8xbf16>) {
  %e = tensor.empty() : tensor<2x2x100x16xbf16>
  %qb = linalg.broadcast ins(%q : tensor<2x2x16xbf16>)
          outs(%e : tensor<2x2x100x16xbf16>) dimensions = [2]
  %dq, %dk, %dv = attn.attention_grad sigmoid %qb, %k, %v, %o, %do [#attn.causal]
      : tensor<2x2x100x16xbf16>, tensor<2x2x60x16xbf16>, tensor<2x2x60x8xbf16>,
        tensor<2x2x100x8xbf16>, tensor<2x2x100x8xbf16>
      -> tensor<2x2x100x16xbf16>, tensor<2x2x60x16xbf16>, tensor<2x2x60x8xbf16>
  return %dq, %dk, %dv : tensor<2x2x100x16xbf16>, tensor<2x2x60x16xbf16>, tensor<2x2x60x8xbf16>
}

// -----

// A score_mod (its adjoint is the tiled backward's), a window, distinct
// query rows and a short static query keep attn.attention_grad.
// CHECK-LABEL: func.func @score_mod
// CHECK: attn.attention_grad
func.func @score_mod(%q: tensor<1x2x16xf32>, %k: tensor<1x2x64x16xf32>,
                     %o: tensor<1x2x64x16xf32>, %lse: tensor<1x2x64xf32>,
                     %do: tensor<1x2x64x16xf32>)
    -> (tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>) {
  %e = tensor.empty() : tensor<1x2x64x16xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x2x16xf32>)
          outs(%e : tensor<1x2x64x16xf32>) dimensions = [2]
  %dq, %dk, %dv = attn.attention_grad softmax %qb, %k, %k, %o, %do [#attn.causal]
      lse(%lse : tensor<1x2x64xf32>)
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>,
        tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
      -> tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
      score_mod {
      ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 2.0 : f32
        %y = arith.divf %x, %c : f32
        %z = math.tanh %y : f32
        %w = arith.mulf %z, %c : f32
        attn.yield %w : f32
      }
  return %dq, %dk, %dv : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
}

// -----

// CHECK-LABEL: func.func @window
// CHECK: attn.attention_grad
func.func @window(%q: tensor<1x2x16xf32>, %k: tensor<1x2x64x16xf32>,
                  %o: tensor<1x2x64x16xf32>, %lse: tensor<1x2x64xf32>,
                  %do: tensor<1x2x64x16xf32>)
    -> (tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>) {
  %e = tensor.empty() : tensor<1x2x64x16xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x2x16xf32>)
          outs(%e : tensor<1x2x64x16xf32>) dimensions = [2]
  %dq, %dk, %dv = attn.attention_grad softmax %qb, %k, %k, %o, %do [#attn.window<left = 8, right = 0>]
      lse(%lse : tensor<1x2x64xf32>)
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>,
        tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
      -> tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
  return %dq, %dk, %dv : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
}

// -----

// CHECK-LABEL: func.func @distinct_rows
// CHECK: attn.attention_grad
func.func @distinct_rows(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                         %o: tensor<1x2x64x16xf32>, %lse: tensor<1x2x64xf32>,
                         %do: tensor<1x2x64x16xf32>)
    -> (tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %k, %o, %do [#attn.causal]
      lse(%lse : tensor<1x2x64xf32>)
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>,
        tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
      -> tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
  return %dq, %dk, %dv : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
}

// -----

// CHECK-LABEL: func.func @short_query
// CHECK: attn.attention_grad
func.func @short_query(%q: tensor<1x2x16xf32>, %k: tensor<1x2x64x16xf32>,
                       %o: tensor<1x2x4x16xf32>, %lse: tensor<1x2x4xf32>,
                       %do: tensor<1x2x4x16xf32>)
    -> (tensor<1x2x4x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>) {
  %e = tensor.empty() : tensor<1x2x4x16xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x2x16xf32>)
          outs(%e : tensor<1x2x4x16xf32>) dimensions = [2]
  %dq, %dk, %dv = attn.attention_grad softmax %qb, %k, %k, %o, %do [#attn.causal]
      lse(%lse : tensor<1x2x4xf32>)
      : tensor<1x2x4x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>,
        tensor<1x2x4x16xf32>, tensor<1x2x4x16xf32>
      -> tensor<1x2x4x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
  return %dq, %dk, %dv : tensor<1x2x4x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>
}
