// Gradients through the upstream ops a graph may contain: linalg named ops,
// linalg.generic with reductions (the payload is taped point by point; a
// reduction replays its partial results), linalg.map / broadcast / reduce,
// elementwise arith/math on tensors, tensor slices and reshapes,
// tensor.generate reading an argument, func.call and scf.if; checked against
// finite differences.
//
// RUN: attn-run %s --entry=manual_softmax --pipeline=reference --grad --random-args --seed=1 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=tensor_ops --pipeline=reference --grad --random-args --seed=2 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=named_ops --pipeline=reference --grad --random-args --seed=3 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=reductions --pipeline=reference --grad --random-args --seed=5 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=call_if --pipeline=reference --grad --random-args --seed=4 --fd-check=16 | FileCheck %s
// CHECK: max_fd_err={{[0-9.]+e[-+][0-9]+}} fd_samples=16 fd_skipped=0

#qk = affine_map<(i, j, d) -> (i, d)>
#kk = affine_map<(i, j, d) -> (j, d)>
#ss = affine_map<(i, j, d) -> (i, j)>
#id2 = affine_map<(i, j) -> (i, j)>
#row2 = affine_map<(i, j) -> (i)>

// softmax(Q Kᵀ) V written with linalg on collapsed [S, D] matrices: a
// contraction as linalg.generic, a row max (maximumf reduction) and a row
// sum, exp of the shifted scores, linalg.matmul for P V.
func.func @manual_softmax(%q: tensor<1x1x6x4xf32>, %k: tensor<1x1x7x4xf32>,
                          %v: tensor<1x1x7x3xf32>) -> tensor<1x1x6x3xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %q2 = tensor.collapse_shape %q [[0, 1, 2], [3]] : tensor<1x1x6x4xf32> into tensor<6x4xf32>
  %k2 = tensor.collapse_shape %k [[0, 1, 2], [3]] : tensor<1x1x7x4xf32> into tensor<7x4xf32>
  %v2 = tensor.collapse_shape %v [[0, 1, 2], [3]] : tensor<1x1x7x3xf32> into tensor<7x3xf32>
  %e67 = tensor.empty() : tensor<6x7xf32>
  %z67 = linalg.fill ins(%zero : f32) outs(%e67 : tensor<6x7xf32>) -> tensor<6x7xf32>
  %s = linalg.generic {indexing_maps = [#qk, #kk, #ss], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%q2, %k2 : tensor<6x4xf32>, tensor<7x4xf32>) outs(%z67 : tensor<6x7xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %p = arith.mulf %a, %b : f32
      %r = arith.addf %acc, %p : f32
      linalg.yield %r : f32
  } -> tensor<6x7xf32>
  %e6 = tensor.empty() : tensor<6xf32>
  %m0 = linalg.fill ins(%ninf : f32) outs(%e6 : tensor<6xf32>) -> tensor<6xf32>
  %mx = linalg.generic {indexing_maps = [#id2, #row2], iterator_types = ["parallel", "reduction"]}
      ins(%s : tensor<6x7xf32>) outs(%m0 : tensor<6xf32>) {
    ^bb0(%x: f32, %acc: f32):
      %r = arith.maximumf %acc, %x : f32
      linalg.yield %r : f32
  } -> tensor<6xf32>
  %p = linalg.generic {indexing_maps = [#id2, #row2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%s, %mx : tensor<6x7xf32>, tensor<6xf32>) outs(%e67 : tensor<6x7xf32>) {
    ^bb0(%x: f32, %m: f32, %o: f32):
      %d = arith.subf %x, %m : f32
      %e = math.exp %d : f32
      linalg.yield %e : f32
  } -> tensor<6x7xf32>
  %z6 = linalg.fill ins(%zero : f32) outs(%e6 : tensor<6xf32>) -> tensor<6xf32>
  %l = linalg.generic {indexing_maps = [#id2, #row2], iterator_types = ["parallel", "reduction"]}
      ins(%p : tensor<6x7xf32>) outs(%z6 : tensor<6xf32>) {
    ^bb0(%x: f32, %acc: f32):
      %r = arith.addf %acc, %x : f32
      linalg.yield %r : f32
  } -> tensor<6xf32>
  %w = linalg.generic {indexing_maps = [#id2, #row2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%p, %l : tensor<6x7xf32>, tensor<6xf32>) outs(%e67 : tensor<6x7xf32>) {
    ^bb0(%x: f32, %n: f32, %o: f32):
      %r = arith.divf %x, %n : f32
      linalg.yield %r : f32
  } -> tensor<6x7xf32>
  %e63 = tensor.empty() : tensor<6x3xf32>
  %z63 = linalg.fill ins(%zero : f32) outs(%e63 : tensor<6x3xf32>) -> tensor<6x3xf32>
  %o2 = linalg.matmul ins(%w, %v2 : tensor<6x7xf32>, tensor<7x3xf32>) outs(%z63 : tensor<6x3xf32>) -> tensor<6x3xf32>
  %o = tensor.expand_shape %o2 [[0, 1, 2], [3]] output_shape [1, 1, 6, 3] : tensor<6x3xf32> into tensor<1x1x6x3xf32>
  return %o : tensor<1x1x6x3xf32>
}

// Slices, inserts, a generate body reading an argument, elementwise ops on
// whole tensors (with a broadcast scalar), from_elements, splat, insert and
// cast.
func.func @tensor_ops(%a: tensor<4x6xf32>, %b: tensor<3x2xf32>, %c: tensor<5xf32>)
    -> (tensor<4x6xf32>, tensor<2x3xf32>, tensor<2xf32>) {
  %two = arith.constant 2.0 : f32
  %s = tensor.extract_slice %a[1, 2] [2, 3] [1, 1] : tensor<4x6xf32> to tensor<2x3xf32>
  %bt = tensor.generate {
  ^bb0(%i: index, %j: index):
    %x = tensor.extract %b[%j, %i] : tensor<3x2xf32>
    %y = math.sin %x : f32
    tensor.yield %y : f32
  } : tensor<2x3xf32>
  %m = arith.mulf %s, %bt : tensor<2x3xf32>
  %e = math.exp %m : tensor<2x3xf32>
  %t = tensor.empty() : tensor<2x3xf32>
  %sc = linalg.fill ins(%two : f32) outs(%t : tensor<2x3xf32>) -> tensor<2x3xf32>
  %d = arith.divf %e, %sc : tensor<2x3xf32>
  %r = tensor.insert_slice %d into %a[0, 1] [2, 3] [1, 1] : tensor<2x3xf32> into tensor<4x6xf32>
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %x0 = tensor.extract %c[%c0] : tensor<5xf32>
  %x3 = tensor.extract %c[%c3] : tensor<5xf32>
  %p = arith.mulf %x0, %x3 : f32
  %f0 = tensor.from_elements %p, %x3 : tensor<2xf32>
  %sp = tensor.splat %x0 : tensor<2xf32>
  %f1 = arith.addf %f0, %sp : tensor<2xf32>
  %c1 = arith.constant 1 : index
  %f = tensor.insert %x3 into %f1[%c1] : tensor<2xf32>
  %g = tensor.cast %f : tensor<2xf32> to tensor<?xf32>
  %h = tensor.cast %g : tensor<?xf32> to tensor<2xf32>
  return %r, %m, %h : tensor<4x6xf32>, tensor<2x3xf32>, tensor<2xf32>
}

// linalg.broadcast, linalg.reduce, linalg.add, linalg.map.
func.func @named_ops(%x: tensor<3x4xf32>, %y: tensor<4xf32>) -> (tensor<3xf32>, tensor<3x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %e34 = tensor.empty() : tensor<3x4xf32>
  %yb = linalg.broadcast ins(%y : tensor<4xf32>) outs(%e34 : tensor<3x4xf32>) dimensions = [0]
  %s = linalg.add ins(%x, %yb : tensor<3x4xf32>, tensor<3x4xf32>) outs(%e34 : tensor<3x4xf32>) -> tensor<3x4xf32>
  %t = linalg.map { math.tanh } ins(%s : tensor<3x4xf32>) outs(%e34 : tensor<3x4xf32>)
  %e3 = tensor.empty() : tensor<3xf32>
  %z3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<3xf32>) -> tensor<3xf32>
  %r = linalg.reduce ins(%t : tensor<3x4xf32>) outs(%z3 : tensor<3xf32>) dimensions = [1]
    (%in: f32, %acc: f32) {
      %p = arith.mulf %in, %in : f32
      %a = arith.addf %acc, %p : f32
      linalg.yield %a : f32
    }
  return %r, %t : tensor<3xf32>, tensor<3x4xf32>
}

// Reductions whose payload reads its partial result: a product, a running
// max, an online log-sum-exp (the replayed partials matter here).
func.func @reductions(%x: tensor<3x5xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) {
  %one = arith.constant 1.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %e3 = tensor.empty() : tensor<3xf32>
  %ones = linalg.fill ins(%one : f32) outs(%e3 : tensor<3xf32>) -> tensor<3xf32>
  %ninfs = linalg.fill ins(%ninf : f32) outs(%e3 : tensor<3xf32>) -> tensor<3xf32>
  %prod = linalg.generic {indexing_maps = [#id2, #row2], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<3x5xf32>) outs(%ones : tensor<3xf32>) {
    ^bb0(%a: f32, %acc: f32):
      %a1 = arith.addf %a, %one : f32
      %r = arith.mulf %acc, %a1 : f32
      linalg.yield %r : f32
  } -> tensor<3xf32>
  %max = linalg.generic {indexing_maps = [#id2, #row2], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<3x5xf32>) outs(%ninfs : tensor<3xf32>) {
    ^bb0(%a: f32, %acc: f32):
      %r = arith.maximumf %acc, %a : f32
      linalg.yield %r : f32
  } -> tensor<3xf32>
  %lse = linalg.generic {indexing_maps = [#id2, #row2], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<3x5xf32>) outs(%ninfs : tensor<3xf32>) {
    ^bb0(%a: f32, %acc: f32):
      %m = arith.maximumf %acc, %a : f32
      %d1 = arith.subf %acc, %m : f32
      %d2 = arith.subf %a, %m : f32
      %e1 = math.exp %d1 : f32
      %e2 = math.exp %d2 : f32
      %s = arith.addf %e1, %e2 : f32
      %l = math.log %s : f32
      %r = arith.addf %m, %l : f32
      linalg.yield %r : f32
  } -> tensor<3xf32>
  return %prod, %max, %lse : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
}

func.func private @attend(%q: tensor<1x2x5x4xf32>, %k: tensor<1x2x6x4xf32>,
                          %v: tensor<1x2x6x3xf32>) -> tensor<1x2x5x3xf32> {
  %s = attn.score %q, %k : tensor<1x2x5x4xf32>, tensor<1x2x6x4xf32> -> tensor<1x2x5x6xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x5x6xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x5x6xf32>, tensor<1x2x6x3xf32> -> tensor<1x2x5x3xf32>
  return %o : tensor<1x2x5x3xf32>
}

// A call (its body recorded anew) and an scf.if whose taken branch is
// differentiated.
func.func @call_if(%q: tensor<1x2x5x4xf32>, %k: tensor<1x2x6x4xf32>,
                   %v: tensor<1x2x6x3xf32>) -> tensor<1x2x5x3xf32> {
  %o = func.call @attend(%q, %k, %v) : (tensor<1x2x5x4xf32>, tensor<1x2x6x4xf32>, tensor<1x2x6x3xf32>) -> tensor<1x2x5x3xf32>
  %true = arith.constant true
  %r = scf.if %true -> tensor<1x2x5x3xf32> {
    %t = math.tanh %o : tensor<1x2x5x3xf32>
    scf.yield %t : tensor<1x2x5x3xf32>
  } else {
    scf.yield %o : tensor<1x2x5x3xf32>
  }
  return %r : tensor<1x2x5x3xf32>
}
