// Gradients of the linear family: every feature-map kind (taylor2 and
// random_features, with the gradient of W, included) and linear_aggregate
// causal or not, normalized (eps) or not, with decay λ (a float argument, so
// it gets a gradient) and with an incoming state and the final state,
// checked against finite differences.
//
// RUN: attn-run %s --entry=elu_causal_normalize --pipeline=reference --grad --random-args --seed=1 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=relu_causal --pipeline=reference --grad --random-args --seed=2 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=exp_sigmoid_normalize --pipeline=reference --grad --random-args --seed=3 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=identity_gqa --pipeline=reference --grad --random-args --seed=4 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=taylor2 --pipeline=reference --grad --random-args --seed=5 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=random_features --pipeline=reference --grad --random-args --seed=6 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=decay --pipeline=reference --grad --random-args --seed=7 --fd-check=16 | FileCheck %s
// RUN: attn-run %s --entry=decay_state --pipeline=reference --grad --random-args --seed=8 --fd-check=16 | FileCheck %s
// CHECK: max_fd_err={{[0-9.]+e[-+][0-9]+}} fd_samples=16 fd_skipped=0

func.func @elu_causal_normalize(%q: tensor<1x2x9x4xf32>, %k: tensor<1x2x11x4xf32>,
                                %v: tensor<1x2x11x3xf32>) -> tensor<1x2x9x3xf32> {
  %fq = attn.feature_map elu_plus_one %q : tensor<1x2x9x4xf32> -> tensor<1x2x9x4xf32>
  %fk = attn.feature_map elu_plus_one %k : tensor<1x2x11x4xf32> -> tensor<1x2x11x4xf32>
  %o = attn.linear_aggregate %fq, %fk, %v {causal, normalize, eps = 1.0e-3 : f32}
      : tensor<1x2x9x4xf32>, tensor<1x2x11x4xf32>, tensor<1x2x11x3xf32> -> tensor<1x2x9x3xf32>
  return %o : tensor<1x2x9x3xf32>
}

// relu has a kink at 0, which random data never hits.
func.func @relu_causal(%q: tensor<2x2x8x5xf32>, %k: tensor<2x2x8x5xf32>,
                       %v: tensor<2x2x8x4xf32>) -> tensor<2x2x8x4xf32> {
  %fq = attn.feature_map relu %q : tensor<2x2x8x5xf32> -> tensor<2x2x8x5xf32>
  %fk = attn.feature_map relu %k : tensor<2x2x8x5xf32> -> tensor<2x2x8x5xf32>
  %o = attn.linear_aggregate %fq, %fk, %v {causal}
      : tensor<2x2x8x5xf32>, tensor<2x2x8x5xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>
  return %o : tensor<2x2x8x4xf32>
}

func.func @exp_sigmoid_normalize(%q: tensor<1x2x7x4xf32>, %k: tensor<1x2x10x4xf32>,
                                 %v: tensor<1x2x10x6xf32>) -> tensor<1x2x7x6xf32> {
  %fq = attn.feature_map exp %q : tensor<1x2x7x4xf32> -> tensor<1x2x7x4xf32>
  %fk = attn.feature_map sigmoid %k : tensor<1x2x10x4xf32> -> tensor<1x2x10x4xf32>
  %o = attn.linear_aggregate %fq, %fk, %v {normalize}
      : tensor<1x2x7x4xf32>, tensor<1x2x10x4xf32>, tensor<1x2x10x6xf32> -> tensor<1x2x7x6xf32>
  return %o : tensor<1x2x7x6xf32>
}

func.func @identity_gqa(%q: tensor<1x4x6x3xf32>, %k: tensor<1x2x8x3xf32>,
                        %v: tensor<1x2x8x5xf32>) -> tensor<1x4x6x5xf32> {
  %fq = attn.feature_map identity %q : tensor<1x4x6x3xf32> -> tensor<1x4x6x3xf32>
  %o = attn.linear_aggregate %fq, %k, %v
      : tensor<1x4x6x3xf32>, tensor<1x2x8x3xf32>, tensor<1x2x8x5xf32> -> tensor<1x4x6x5xf32>
  return %o : tensor<1x4x6x5xf32>
}

// F = 1 + D + D² = 13.
func.func @taylor2(%q: tensor<1x2x8x3xf32>, %k: tensor<1x2x8x3xf32>,
                   %v: tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32> {
  %fq = attn.feature_map taylor2 %q : tensor<1x2x8x3xf32> -> tensor<1x2x8x13xf32>
  %fk = attn.feature_map taylor2 %k : tensor<1x2x8x3xf32> -> tensor<1x2x8x13xf32>
  %o = attn.linear_aggregate %fq, %fk, %v {causal, normalize}
      : tensor<1x2x8x13xf32>, tensor<1x2x8x13xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x8x4xf32>
  return %o : tensor<1x2x8x4xf32>
}

// Positive random features with one W [D, F] for queries and keys.
func.func @random_features(%q: tensor<1x2x7x4xf32>, %k: tensor<1x2x9x4xf32>,
                           %v: tensor<1x2x9x3xf32>, %w: tensor<4x6xf32>)
    -> tensor<1x2x7x3xf32> {
  %fq = attn.feature_map random_features %q, %w : tensor<1x2x7x4xf32>, tensor<4x6xf32> -> tensor<1x2x7x6xf32>
  %fk = attn.feature_map random_features %k, %w : tensor<1x2x9x4xf32>, tensor<4x6xf32> -> tensor<1x2x9x6xf32>
  %o = attn.linear_aggregate %fq, %fk, %v {causal, normalize}
      : tensor<1x2x7x6xf32>, tensor<1x2x9x6xf32>, tensor<1x2x9x3xf32> -> tensor<1x2x7x3xf32>
  return %o : tensor<1x2x7x3xf32>
}

// Per-query-head decay λ (GQA), Sq = 7 < Skv = 10.
func.func @decay(%q: tensor<1x4x7x3xf32>, %k: tensor<1x2x10x3xf32>,
                 %v: tensor<1x2x10x4xf32>, %lambda: tensor<4xf32>)
    -> tensor<1x4x7x4xf32> {
  %o = attn.linear_aggregate %q, %k, %v decay(%lambda) {causal}
      : tensor<1x4x7x3xf32>, tensor<1x2x10x3xf32>, tensor<1x2x10x4xf32>, tensor<4xf32> -> tensor<1x4x7x4xf32>
  return %o : tensor<1x4x7x4xf32>
}

// A recurrent step: incoming state S0 and the final state as a second
// result (its own cotangent).
func.func @decay_state(%q: tensor<1x2x5x3xf32>, %k: tensor<1x2x5x3xf32>,
                       %v: tensor<1x2x5x4xf32>, %lambda: tensor<2xf32>,
                       %s0: tensor<1x2x3x4xf32>)
    -> (tensor<1x2x5x4xf32>, tensor<1x2x3x4xf32>) {
  %o, %s1 = attn.linear_aggregate %q, %k, %v decay(%lambda) state(%s0 : tensor<1x2x3x4xf32>) {causal}
      : tensor<1x2x5x3xf32>, tensor<1x2x5x3xf32>, tensor<1x2x5x4xf32>, tensor<2xf32> -> tensor<1x2x5x4xf32>, tensor<1x2x3x4xf32>
  return %o, %s1 : tensor<1x2x5x4xf32>, tensor<1x2x3x4xf32>
}
