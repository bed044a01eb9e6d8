// The fused op attn.attention: pretty and generic forms round-trip.
// RUN: attn-opt %s > %t.pretty
// RUN: attn-opt %t.pretty > %t.pretty2
// RUN: diff %t.pretty %t.pretty2
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt > %t.generic
// RUN: diff %t.pretty %t.generic
// RUN: FileCheck %s < %t.pretty

// CHECK-LABEL: func.func @full
// CHECK: %{{.*}}, %{{.*}} = attn.attention softmax %{{.*}}, %{{.*}}, %{{.*}} [#attn.causal, #attn.block_mask<block_q = 64, block_kv = 64>] (%{{.*}} : tensor<1x8x2x2xi1>) sinks(%{{.*}} : tensor<8xf32>) {scale = 1.250000e-01 : f32} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32> score_mod {
// CHECK: attn.yield %{{.*}} : f32
// CHECK: } mask {
// CHECK: attn.yield %{{.*}} : i1
func.func @full(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>,
                %bm: tensor<1x8x2x2xi1>, %sk: tensor<8xf32>) -> (tensor<1x8x128x64xf32>, tensor<1x8x128xf32>) {
  %o, %lse = attn.attention softmax %q, %k, %v [#attn.causal, #attn.block_mask<block_q = 64, block_kv = 64>]
               (%bm : tensor<1x8x2x2xi1>) sinks(%sk : tensor<8xf32>) {scale = 0.125 : f32}
               : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>
               -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
    score_mod {
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      attn.yield %x : f32
    }
    mask {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %t = arith.cmpi sle, %j, %i : index
      attn.yield %t : i1
    }
  return %o, %lse : tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
}

// CHECK-LABEL: func.func @minimal
// CHECK: attn.attention sigmoid %{{.*}}, %{{.*}}, %{{.*}} [] : tensor<?x4x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x8xbf16> -> tensor<?x4x?x8xbf16>
// CHECK-NOT: score_mod
// CHECK-NOT: mask {
func.func @minimal(%q: tensor<?x4x?x16xbf16>, %k: tensor<?x2x?x16xbf16>, %v: tensor<?x2x?x8xbf16>) -> tensor<?x4x?x8xbf16> {
  %o = attn.attention sigmoid %q, %k, %v [] : tensor<?x4x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x8xbf16> -> tensor<?x4x?x8xbf16>
  return %o : tensor<?x4x?x8xbf16>
}

// CHECK-LABEL: func.func @mask_only
// CHECK: attn.attention none %{{.*}} [] : {{.*}} mask {
func.func @mask_only(%q: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  %o = attn.attention none %q, %q, %q [] : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf32>
    mask {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %t = arith.cmpi uge, %i, %j : index
      attn.yield %t : i1
    }
  return %o : tensor<1x1x4x8xf32>
}
