// The reference's reverse-mode gradients of the score / mask / aggregation
// family agree with central finite differences of the forward interpreter
// (attn-run exits 1 when max_fd_err exceeds the documented 1e-6, which fails
// the RUN line). Every sample lands on a differentiable point here
// (fd_skipped=0). Shapes: GQA Hq = 4 / Hkv = 2, Sq != Skv, D != Dv, sizes that
// are no multiples of anything.
//
// RUN: attn-run %s --entry=softmax_lse --pipeline=reference --grad --random-args --seed=1 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=sinks_masked_rows --pipeline=reference --grad --random-args --seed=2 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=masked_rows --pipeline=reference --grad --random-args --seed=3 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=sigmoid_window --pipeline=reference --grad --random-args --seed=4 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=none_chunk --pipeline=reference --grad --random-args --seed=5 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=normalize --pipeline=reference --grad --random-args --seed=6 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=merge --pipeline=reference --grad --random-args --seed=7 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=reused --pipeline=reference --grad --random-args --seed=8 --fd-check=16 | FileCheck %s
// CHECK: max_fd_err={{[0-9.]+e[-+][0-9]+}} fd_samples=16 fd_skipped=0

// Softmax with an lse result (both take a cotangent), explicit scale,
// aligned causal with Sq = 11 < Skv = 13.
func.func @softmax_lse(%q: tensor<1x4x11x5xf32>, %k: tensor<1x2x13x5xf32>,
                       %v: tensor<1x2x13x6xf32>)
    -> (tensor<1x4x11x6xf32>, tensor<1x4x11xf32>) {
  %s = attn.score %q, %k {scale = 0.7 : f32} : tensor<1x4x11x5xf32>, tensor<1x2x13x5xf32> -> tensor<1x4x11x13xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x4x11x13xf32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<1x4x11x13xf32>, tensor<1x2x13x6xf32> -> tensor<1x4x11x6xf32>, tensor<1x4x11xf32>
  return %o, %l : tensor<1x4x11x6xf32>, tensor<1x4x11xf32>
}

// Sinks with Sq = 9 > Skv = 6 under causal: rows 0-2 see no key, and their
// lse is the sink logit (d lse / d sink = 1 there).
func.func @sinks_masked_rows(%q: tensor<2x4x9x4xf32>, %k: tensor<2x2x6x4xf32>,
                             %v: tensor<2x2x6x3xf32>, %sinks: tensor<4xf32>)
    -> (tensor<2x4x9x3xf32>, tensor<2x4x9xf32>) {
  %s = attn.score %q, %k : tensor<2x4x9x4xf32>, tensor<2x2x6x4xf32> -> tensor<2x4x9x6xf32>
  %m = attn.mask %s [#attn.causal] : tensor<2x4x9x6xf32>
  %o, %l = attn.aggregate softmax %m, %v sinks(%sinks) : tensor<2x4x9x6xf32>, tensor<2x2x6x3xf32>, tensor<4xf32> -> tensor<2x4x9x3xf32>, tensor<2x4x9xf32>
  return %o, %l : tensor<2x4x9x3xf32>, tensor<2x4x9xf32>
}

// Without sinks, rows 0-2 are fully masked: output 0 and lse -inf, and
// their cotangents contribute nothing (gradient-masked-rows.test uses it
// too).
func.func @masked_rows(%q: tensor<2x4x9x4xf32>, %k: tensor<2x2x6x4xf32>,
                       %v: tensor<2x2x6x3xf32>)
    -> (tensor<2x4x9x3xf32>, tensor<2x4x9xf32>) {
  %s = attn.score %q, %k : tensor<2x4x9x4xf32>, tensor<2x2x6x4xf32> -> tensor<2x4x9x6xf32>
  %m = attn.mask %s [#attn.causal] : tensor<2x4x9x6xf32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<2x4x9x6xf32>, tensor<2x2x6x3xf32> -> tensor<2x4x9x3xf32>, tensor<2x4x9xf32>
  return %o, %l : tensor<2x4x9x3xf32>, tensor<2x4x9xf32>
}

// Sigmoid weights under a sliding window intersected with a predicate.
func.func @sigmoid_window(%q: tensor<1x4x10x6xf32>, %k: tensor<1x2x12x6xf32>,
                          %v: tensor<1x2x12x5xf32>) -> tensor<1x4x10x5xf32> {
  %s = attn.score %q, %k : tensor<1x4x10x6xf32>, tensor<1x2x12x6xf32> -> tensor<1x4x10x12xf32>
  %m = attn.mask %s [#attn.window<left = 3, right = 1>] : tensor<1x4x10x12xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %ij = arith.addi %i, %j : index
    %c3 = arith.constant 3 : index
    %r = arith.remui %ij, %c3 : index
    %c0 = arith.constant 0 : index
    %keep = arith.cmpi ne, %r, %c0 : index
    attn.yield %keep : i1
  }
  %o = attn.aggregate sigmoid %m, %v : tensor<1x4x10x12xf32>, tensor<1x2x12x5xf32> -> tensor<1x4x10x5xf32>
  return %o : tensor<1x4x10x5xf32>
}

// Raw scores as weights (masked = 0) within chunks, MQA (Hkv = 1).
func.func @none_chunk(%q: tensor<1x3x8x4xf32>, %k: tensor<1x1x8x4xf32>,
                      %v: tensor<1x1x8x7xf32>) -> tensor<1x3x8x7xf32> {
  %s = attn.score %q, %k : tensor<1x3x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x3x8x8xf32>
  %m = attn.mask %s [#attn.chunk<size = 3>] : tensor<1x3x8x8xf32>
  %o = attn.aggregate none %m, %v : tensor<1x3x8x8xf32>, tensor<1x1x8x7xf32> -> tensor<1x3x8x7xf32>
  return %o : tensor<1x3x8x7xf32>
}

// The distribution itself, of every kind, on one masked score tensor (used
// three times: the adjoints accumulate).
func.func @normalize(%q: tensor<1x2x7x4xf32>, %k: tensor<1x2x9x4xf32>)
    -> (tensor<1x2x7x9xf32>, tensor<1x2x7x9xf32>, tensor<1x2x7x9xf32>) {
  %s = attn.score %q, %k : tensor<1x2x7x4xf32>, tensor<1x2x9x4xf32> -> tensor<1x2x7x9xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x7x9xf32>
  %p = attn.normalize softmax %m : tensor<1x2x7x9xf32> -> tensor<1x2x7x9xf32>
  %g = attn.normalize sigmoid %m : tensor<1x2x7x9xf32> -> tensor<1x2x7x9xf32>
  %n = attn.normalize none %m : tensor<1x2x7x9xf32> -> tensor<1x2x7x9xf32>
  return %p, %g, %n : tensor<1x2x7x9xf32>, tensor<1x2x7x9xf32>, tensor<1x2x7x9xf32>
}

// Two partials over disjoint keys (j < 4 and j >= 4, causal) merged by lse;
// the early rows' second partial is empty (lse -inf) and contributes nothing.
func.func @merge(%q: tensor<1x2x6x4xf32>, %k: tensor<1x2x9x4xf32>,
                 %v: tensor<1x2x9x3xf32>)
    -> (tensor<1x2x6x3xf32>, tensor<1x2x6xf32>) {
  %s = attn.score %q, %k : tensor<1x2x6x4xf32>, tensor<1x2x9x4xf32> -> tensor<1x2x6x9xf32>
  %c = attn.mask %s [#attn.causal] : tensor<1x2x6x9xf32>
  %m1 = attn.mask %c [] : tensor<1x2x6x9xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c4 = arith.constant 4 : index
    %keep = arith.cmpi ult, %j, %c4 : index
    attn.yield %keep : i1
  }
  %m2 = attn.mask %c [] : tensor<1x2x6x9xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c4 = arith.constant 4 : index
    %keep = arith.cmpi uge, %j, %c4 : index
    attn.yield %keep : i1
  }
  %o1, %l1 = attn.aggregate softmax %m1, %v : tensor<1x2x6x9xf32>, tensor<1x2x9x3xf32> -> tensor<1x2x6x3xf32>, tensor<1x2x6xf32>
  %o2, %l2 = attn.aggregate softmax %m2, %v : tensor<1x2x6x9xf32>, tensor<1x2x9x3xf32> -> tensor<1x2x6x3xf32>, tensor<1x2x6xf32>
  %o, %l = attn.merge %o1, %l1, %o2, %l2 : tensor<1x2x6x3xf32>, tensor<1x2x6xf32>, tensor<1x2x6x3xf32>, tensor<1x2x6xf32> -> tensor<1x2x6x3xf32>, tensor<1x2x6xf32>
  return %o, %l : tensor<1x2x6x3xf32>, tensor<1x2x6xf32>
}

// Self-attention on one tensor (Q = K = V) whose output is also returned
// twice: every use adds to the same adjoint.
func.func @reused(%x: tensor<1x2x7x4xf32>)
    -> (tensor<1x2x7x4xf32>, tensor<1x2x7x4xf32>, tensor<1x2x7x4xf32>) {
  %s = attn.score %x, %x : tensor<1x2x7x4xf32>, tensor<1x2x7x4xf32> -> tensor<1x2x7x7xf32>
  %o = attn.aggregate softmax %s, %x : tensor<1x2x7x7xf32>, tensor<1x2x7x4xf32> -> tensor<1x2x7x4xf32>
  return %o, %o, %x : tensor<1x2x7x4xf32>, tensor<1x2x7x4xf32>, tensor<1x2x7x4xf32>
}
