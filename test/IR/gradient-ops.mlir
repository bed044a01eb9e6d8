// The gradient ops attn.attention_grad and attn.linear_aggregate_grad: pretty
// and generic forms round-trip.
// RUN: attn-opt %s > %t.pretty
// RUN: attn-opt %t.pretty > %t.pretty2
// RUN: diff %t.pretty %t.pretty2
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt > %t.generic
// RUN: diff %t.pretty %t.generic
// RUN: FileCheck %s --input-file=%t.pretty
// CHECK-LABEL: func.func @f
// CHECK: attn.attention_grad softmax {{.*}} [#attn.causal] lse({{.*}}) grad_lse({{.*}}) sinks({{.*}}) captures({{.*}}) {scale = 1.250000e-01 : f32}
// CHECK-SAME: -> {{.*}} sinks(tensor<8xf32>) captures(tensor<8x128x128xf32>) score_mod
// CHECK: tensor.extract
// CHECK-LABEL: func.func @g
// CHECK: attn.linear_aggregate_grad {{.*}} decay({{.*}}) {causal}

func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>, %o: tensor<1x8x128x64xf32>, %do: tensor<1x8x128x64xf32>, %lse: tensor<1x8x128xf32>, %sk: tensor<8xf32>, %bias: tensor<8x128x128xf32>) -> (tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>, tensor<8xf32>, tensor<8x128x128xf32>) {
  %dq, %dk, %dv, %ds, %db = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal] lse(%lse : tensor<1x8x128xf32>) grad_lse(%lse : tensor<1x8x128xf32>) sinks(%sk : tensor<8xf32>) captures(%bias : tensor<8x128x128xf32>) {scale = 0.125 : f32}
      : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>
      -> tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> sinks(tensor<8xf32>) captures(tensor<8x128x128xf32>)
    score_mod {
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %e = tensor.extract %bias[%h, %i, %j] : tensor<8x128x128xf32>
      %y = arith.addf %x, %e : f32
      attn.yield %y : f32
    }
  return %dq, %dk, %dv, %ds, %db : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>, tensor<8xf32>, tensor<8x128x128xf32>
}
func.func @g(%q: tensor<1x8x128x64xf32>, %v: tensor<1x8x128x64xf32>, %l: tensor<8xf32>) -> (tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<8xf32>) {
  %dq, %dk, %dv, %dl = attn.linear_aggregate_grad %q, %q, %v, %v, %v decay(%l) {causal} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<8xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<8xf32>
  return %dq, %dk, %dv, %dl : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<8xf32>
}
