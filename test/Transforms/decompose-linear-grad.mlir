// RUN: attn-opt %s --attn-decompose --split-input-file | FileCheck %s

// The naive backward of linear attention (GQA 4/2, causal decay, normalize,
// f16 V): the [B, Hq, Sq, Skv] scores a and weights w, the rows' denominators,
// dO . O and r = 1/(den + eps), dA = (r dO) V^T + c, then dq = (w dA) K,
// dk and dv as transposed products over the query heads split as
// (kv head, group member), and d(lambda) as a reduction over (b, i, j) of
// (p - j) lambda^(p - j - 1) a dA (per row, then over b and i).
// CHECK-DAG: #[[$ALL:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$ROW:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[$SPLIT_S:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4, d5, d2)>
// CHECK-DAG: #[[$SPLIT_Y:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4, d5, d3)>
// CHECK-DAG: #[[$HEAD:.*]] = affine_map<(d0, d1, d2, d3) -> (d1)>
// CHECK-DAG: #[[$BY_HEAD:.*]] = affine_map<(d0, d1, d2) -> (d1, d0, d2)>
// CHECK-DAG: #[[$FIRST:.*]] = affine_map<(d0, d1, d2) -> (d0)>
// CHECK-LABEL: func.func @grad
// CHECK: %[[A:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x4x6x8xf32>)
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<4xf32>) outs(%{{.*}} : tensor<1x4x6x8xf32>)
// CHECK: math.powf
// CHECK: %[[SCORES:.*]] = linalg.generic {{.*}} ins(%[[W]], %[[A]] :
// CHECK: %[[DEN:.*]] = linalg.generic {indexing_maps = [#[[$ALL]], #[[$ROW]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[SCORES]]
// CHECK: %[[DOT_O:.*]] = linalg.generic {{.*}} ins(%arg4, %arg3 : tensor<1x4x6x5xf16>, tensor<1x4x6x5xf16>)
// CHECK: %[[R:.*]] = linalg.generic {{.*}} ins(%[[DEN]] :
// CHECK: arith.divf
// CHECK: arith.select
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[R]], %[[DOT_O]] :
// CHECK: arith.negf
// CHECK: %[[DNUM:.*]] = linalg.generic {{.*}} ins(%arg4, %[[R]] :
// CHECK: %[[DA0:.*]] = linalg.generic {{.*}} ins(%[[DNUM]], %arg2 : tensor<1x4x6x5xf32>, tensor<1x2x8x5xf16>)
// CHECK: %[[DA:.*]] = linalg.generic {{.*}} ins(%[[DA0]], %[[C]] :
// CHECK: %[[DS:.*]] = linalg.generic {{.*}} ins(%[[W]], %[[DA]] :
// CHECK: %[[DQ:.*]] = linalg.generic {{.*}} ins(%[[DS]], %arg1 : {{.*}}) outs(%{{.*}} : tensor<1x4x6x3xf32>)
// CHECK: %[[DS2:.*]] = tensor.expand_shape %[[DS]] {{\[}}[0], [1, 2], [3], [4]] output_shape [1, 2, 2, 6, 8]
// CHECK: %[[Q2:.*]] = tensor.expand_shape %arg0
// CHECK: %[[DK:.*]] = linalg.generic {indexing_maps = [#[[$SPLIT_S]], #[[$SPLIT_Y]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[DS2]], %[[Q2]] : {{.*}}) outs(%{{.*}} : tensor<1x2x8x3xf32>)
// CHECK: %[[S2:.*]] = tensor.expand_shape %[[SCORES]]
// CHECK: %[[G2:.*]] = tensor.expand_shape %[[DNUM]]
// CHECK: %[[DV32:.*]] = linalg.generic {{.*}} ins(%[[S2]], %[[G2]] : {{.*}}) outs(%{{.*}} : tensor<1x2x8x5xf32>)
// CHECK: %[[DL_ROWS:.*]] = linalg.generic {indexing_maps = [#[[$ALL]], #[[$ALL]], #[[$HEAD]], #[[$ROW]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[A]], %[[DA]], %arg5 :
// CHECK: math.powf
// CHECK: %[[DL:.*]] = linalg.generic {indexing_maps = [#[[$BY_HEAD]], #[[$FIRST]]], iterator_types = ["parallel", "reduction", "reduction"]} ins(%[[DL_ROWS]] :
// CHECK: %[[DV:.*]] = linalg.generic {{.*}} ins(%[[DV32]] : tensor<1x2x8x5xf32>) outs(%{{.*}} : tensor<1x2x8x5xf16>)
// CHECK: arith.truncf
// CHECK: return %[[DQ]], %[[DK]], %[[DV]], %[[DL]]
// CHECK-NOT: attn.
func.func @grad(%q: tensor<1x4x6x3xf32>, %k: tensor<1x2x8x3xf32>, %v: tensor<1x2x8x5xf16>, %o: tensor<1x4x6x5xf16>, %do: tensor<1x4x6x5xf16>, %l: tensor<4xf32>) -> (tensor<1x4x6x3xf32>, tensor<1x2x8x3xf32>, tensor<1x2x8x5xf16>, tensor<4xf32>) {
  %dq, %dk, %dv, %dl = attn.linear_aggregate_grad %q, %k, %v, %o, %do decay(%l) {causal, normalize} : tensor<1x4x6x3xf32>, tensor<1x2x8x3xf32>, tensor<1x2x8x5xf16>, tensor<1x4x6x5xf16>, tensor<1x4x6x5xf16>, tensor<4xf32> -> tensor<1x4x6x3xf32>, tensor<1x2x8x3xf32>, tensor<1x2x8x5xf16>, tensor<4xf32>
  return %dq, %dk, %dv, %dl : tensor<1x4x6x3xf32>, tensor<1x2x8x3xf32>, tensor<1x2x8x5xf16>, tensor<4xf32>
}

// -----

// Non-causal without normalize: no weights, no denominator; dA = dO V^T
// feeds the products directly.
// CHECK-LABEL: func.func @plain
// CHECK-NOT: math.powf
// CHECK-NOT: arith.divf
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1 :
// CHECK: %[[DNUM:.*]] = linalg.generic {{.*}} ins(%arg4 :
// CHECK: %[[DA:.*]] = linalg.generic {{.*}} ins(%[[DNUM]], %arg2 :
// CHECK: linalg.generic {{.*}} ins(%[[DA]], %arg1 :
// CHECK: tensor.expand_shape %[[DA]]
// CHECK: tensor.expand_shape %[[A]]
// CHECK-NOT: math.powf
// CHECK-NOT: arith.divf
// CHECK-NOT: attn.
func.func @plain(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>, %o: tensor<1x2x?x4xf32>, %do: tensor<1x2x?x4xf32>) -> (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) {
  %dq, %dk, %dv = attn.linear_aggregate_grad %q, %k, %v, %o, %do : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32> -> tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>
  return %dq, %dk, %dv : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>
}
