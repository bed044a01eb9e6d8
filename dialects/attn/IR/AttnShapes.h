//===- AttnShapes.h - shape rules of attn ops -------------------*- C++ -*-===//
//
// The shape rules of every attn op, written once over a "shape of this value"
// callback. Op verifiers call them with the static types (dynamic sizes are
// skipped); attn-run calls them with the concrete sizes of the arguments it
// was given, so inconsistent dynamic sizes are caught before any code runs.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_IR_ATTNSHAPES_H
#define ATTN_IR_ATTNSHAPES_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"
#include <string>

namespace mlir::attn {

using Shape = SmallVector<int64_t, 4>;
/// Returns the shape of `value`; ShapedType::kDynamic marks an unknown size.
using ShapeFn = llvm::function_ref<Shape(Value)>;

/// Checks the operand shapes of attn op `op` and computes the shapes of its
/// results (sizes that cannot be known stay dynamic). On failure returns false
/// and sets `error` to a one-line description.
bool checkAttnOpShapes(Operation *op, ShapeFn shapeOf,
                       SmallVectorImpl<Shape> &resultShapes,
                       std::string &error);

/// Formats a shape as `[1, 8, ?, 64]`.
std::string formatShape(ArrayRef<int64_t> shape);

} // namespace mlir::attn

#endif // ATTN_IR_ATTNSHAPES_H
