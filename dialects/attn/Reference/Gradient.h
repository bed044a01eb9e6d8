//===- Gradient.h - reverse-mode gradients of the reference -----*- C++ -*-===//
//
// The reference interpreter's own gradients: a forward evaluation in f64
// that records every value, then a reverse sweep with an adjoint rule per
// op, in f64 (docs/testing.md, "Reference gradients"). It shares no code with
// attn-grad, so it is an independent oracle for @F_grad.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_REFERENCE_GRADIENT_H
#define ATTN_REFERENCE_GRADIENT_H

#include "attn/Reference/Interpreter.h"

namespace mlir::attn::reference {

/// Whether a value of type `type` (or of its element type) is a float.
bool isFloatType(Type type);

/// The results of `func` that take a cotangent: its floating-point results
/// (lse included), in order.
SmallVector<unsigned> cotangentResults(func::FuncOp func);

/// The arguments of `func` that get a gradient: its floating-point tensor
/// arguments, in order.
SmallVector<unsigned> gradientArguments(func::FuncOp func);

/// The gradient of `func` at `args`: `cotangents` holds one tensor per
/// cotangentResults() entry, with that result's (runtime) shape; `grads`
/// receives one tensor per gradientArguments() entry, with the argument's
/// shape and element type, computed in f64 (sum over results of
/// cotangent . d result / d argument). A cotangent entry of an lse that is
/// -inf contributes nothing; gradients that depend on no kept score are
/// exactly 0. On failure (invalid input, or an op without a gradient rule on
/// the path from the arguments to the results) returns false with a
/// one-line `error` naming the op. `ignoreStaticSizes`: as
/// evaluateIgnoringStaticSizes (a program written for one shard, evaluated
/// on the whole sequence).
bool evaluateGradient(func::FuncOp func, ArrayRef<Tensor> args,
                      ArrayRef<Tensor> cotangents,
                      SmallVectorImpl<Tensor> &grads, std::string &error,
                      bool ignoreStaticSizes = false);

} // namespace mlir::attn::reference

#endif // ATTN_REFERENCE_GRADIENT_H
