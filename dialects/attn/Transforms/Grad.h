//===- Grad.h - attn-grad: reverse-mode differentiation ---------*- C++ -*-===//
#ifndef ATTN_TRANSFORMS_GRAD_H
#define ATTN_TRANSFORMS_GRAD_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::attn {

/// Adds the public function `<name>_grad` next to `func` (docs/gradients.md):
/// F's arguments, then one cotangent per floating-point result; one gradient
/// per floating-point tensor argument. Fused softmax attentions get an
/// attn.attention_grad, linear aggregations an attn.linear_aggregate_grad.
/// Fails with an error naming the first op on a differentiated path that has
/// no derivative rule.
FailureOr<func::FuncOp> buildGradientFunction(func::FuncOp func);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_GRAD_H
