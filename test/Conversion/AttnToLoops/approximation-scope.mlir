// The form passes give polynomial approximations (vector exp/log instead of
// per-lane libm calls) to the math ops they create, and leave the program's
// own math ops alone.
// RUN: attn-opt %s --attn-tile="vector-width=8" | FileCheck %s
// RUN: attn-opt %s --attn-scan="vector-width=8" --attn-linearize="vector-width=8" --attn-sparsify="vector-width=8" | FileCheck %s --check-prefix=UNTOUCHED

// CHECK-LABEL: func.func @own_math
// CHECK-SAME: (%{{.*}}: tensor<1x2x64x32xf32>, %{{.*}}: tensor<1x2x64x32xf32>, %{{.*}}: tensor<1x2x64x32xf32>, %[[X:.*]]: f32)
// CHECK: scf.parallel
// CHECK-NOT: math.exp
// CHECK: math.exp %[[X]] : f32
// CHECK-NOT: math.exp
// CHECK: return
// UNTOUCHED-LABEL: func.func @own_math
// UNTOUCHED: attn.attention
// UNTOUCHED: math.exp %{{.*}} : f32
func.func @own_math(%q: tensor<1x2x64x32xf32>, %k: tensor<1x2x64x32xf32>,
                    %v: tensor<1x2x64x32xf32>, %x: f32) -> (tensor<1x2x64x32xf32>, f32) {
  %o = attn.attention softmax %q, %k, %v [#attn.causal]
         : tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32> -> tensor<1x2x64x32xf32>
  %e = math.exp %x : f32
  return %o, %e : tensor<1x2x64x32xf32>, f32
}
