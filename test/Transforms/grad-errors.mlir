// Every error of attn-grad names the op or function at fault.
// RUN: attn-opt %s --attn-grad --split-input-file -verify-diagnostics
// RUN: not attn-opt %s --attn-grad="functions=missing" --split-input-file 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: attn-grad: no function named 'missing'

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'math.atan' op has no derivative rule}}
  %y = math.atan %x : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @f(%s: tensor<1x1x4x4xf32>, %v: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  %t = attn.score_mod %s : tensor<1x1x4x4xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    // expected-error @+1 {{'math.atan' op has no derivative rule (attn-grad supports arith and math ops in regions)}}
    %y = math.atan %x : f32
    attn.yield %y : f32
  }
  %o = attn.aggregate none %t, %v : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}

// -----

func.func @f(%x: tensor<4x4xf32>) -> tensor<4xf32> {
  %c = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<4xf32>
  %f = linalg.fill ins(%c : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  // expected-error @+1 {{'linalg.generic' op has no derivative rule: a reduction that is not a sum, maximum or minimum of its accumulator}}
  %p = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x4xf32>) outs(%f : tensor<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.mulf %acc, %a : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  return %p : tensor<4xf32>
}

// -----

// expected-error @+1 {{attn-grad: a function named 'f_grad' already exists}}
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
func.func private @f_grad(%x: tensor<4xf32>) -> tensor<4xf32>

// -----

func.func @f(%q: tensor<1x1x4x4xf32>, %s0: tensor<1x1x4x4xf32>) -> (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) {
  // expected-error @+1 {{'attn.linear_aggregate' op has no derivative rule when it carries a state}}
  %o, %s1 = attn.linear_aggregate %q, %q, %q state(%s0 : tensor<1x1x4x4xf32>) {causal} : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %o, %s1 : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
}

