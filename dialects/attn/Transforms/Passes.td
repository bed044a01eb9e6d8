//===- Passes.td - attn passes -----------------------------*- tablegen -*-===//
#ifndef ATTN_TRANSFORMS_PASSES_TD
#define ATTN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnDecompose : Pass<"attn-decompose"> {
  let summary = "Naive reference lowering of every attn op to linalg/tensor/arith";
  let description = [{
    Rewrites each attn op into upstream linalg.generic/tensor/arith/math/scf
    ops on tensors, materialising the full score matrix. This is the slow
    baseline every other form is measured against; it supports every op,
    every mask pattern and dynamic B/Sq/Skv.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // ATTN_TRANSFORMS_PASSES_TD
