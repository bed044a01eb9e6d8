// The recurrent form of attn.linear_aggregate (an addition to the contract):
// `state(%s : type)` and the final state as a second result. It parses,
// prints and re-parses unchanged, in the pretty and the generic form.
//
// RUN: attn-opt %s > %t.pretty
// RUN: attn-opt %t.pretty > %t.pretty2
// RUN: diff %t.pretty %t.pretty2
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt > %t.from_generic
// RUN: diff %t.pretty %t.from_generic
// RUN: FileCheck %s < %t.pretty

// CHECK-LABEL: func.func @decode_step
// CHECK: %{{.*}}, %{{.*}} = attn.linear_aggregate %{{.*}}, %{{.*}}, %{{.*}} decay(%{{.*}}) state(%{{.*}} : tensor<1x8x64x64xf32>) {causal} : tensor<1x8x1x64xf32>, tensor<1x8x1x64xf32>, tensor<1x8x1x64xf32>, tensor<8xf32> -> tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>
// CHECK: %{{.*}}, %{{.*}} = attn.linear_aggregate %{{.*}}, %{{.*}}, %{{.*}} state(%{{.*}} : tensor<?x8x64x32xf32>) {causal} : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x32xf32> -> tensor<?x8x?x32xf32>, tensor<?x8x64x32xf32>
func.func @decode_step(%q: tensor<1x8x1x64xf32>, %k: tensor<1x8x1x64xf32>, %v: tensor<1x8x1x64xf32>,
                       %lambda: tensor<8xf32>, %s0: tensor<1x8x64x64xf32>,
                       %qd: tensor<?x8x?x64xf32>, %kd: tensor<?x2x?x64xf32>, %vd: tensor<?x2x?x32xf32>,
                       %sd: tensor<?x8x64x32xf32>)
    -> (tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>, tensor<?x8x?x32xf32>, tensor<?x8x64x32xf32>) {
  %o, %s1 = attn.linear_aggregate %q, %k, %v decay(%lambda) state(%s0 : tensor<1x8x64x64xf32>) {causal} : tensor<1x8x1x64xf32>, tensor<1x8x1x64xf32>, tensor<1x8x1x64xf32>, tensor<8xf32> -> tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>
  %od, %sd1 = attn.linear_aggregate %qd, %kd, %vd state(%sd : tensor<?x8x64x32xf32>) {causal} : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x32xf32> -> tensor<?x8x?x32xf32>, tensor<?x8x64x32xf32>
  return %o, %s1, %od, %sd1 : tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>, tensor<?x8x?x32xf32>, tensor<?x8x64x32xf32>
}
