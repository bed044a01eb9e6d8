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
#include "llvm/ADT/Twine.h"
#include <optional>
#include <string>

namespace mlir::attn {

using Shape = SmallVector<int64_t, 4>;
/// Returns the shape of `value`; ShapedType::kDynamic marks an unknown size.
using ShapeFn = llvm::function_ref<Shape(Value)>;

/// Accumulates the first shape error; every check is a no-op once one failed.
/// Sizes equal to ShapedType::kDynamic are unknown and pass every check.
class ShapeChecker {
public:
  ShapeChecker(ShapeFn shapeOf, std::string &error)
      : shapeOf(shapeOf), error(error) {}

  bool ok() const { return !failed; }

  /// Records `msg` if it is the first error; returns false.
  bool fail(const Twine &msg);

  /// Shape of `v` after checking its rank (all dynamic on failure).
  Shape ranked(Value v, unsigned rank, StringRef name);

  /// Checks that `v` is a tensor whose element type satisfies `pred`.
  void elementType(Value v, llvm::function_ref<bool(Type)> pred, StringRef name,
                   StringRef expected);

  /// a == b unless one is unknown.
  void equal(int64_t a, int64_t b, const Twine &what);

  /// a == b or a == 1 (broadcast).
  void equalOrOne(int64_t a, int64_t b, const Twine &what);

  /// `kvHeads` divides `qHeads`.
  void divides(int64_t kvHeads, int64_t qHeads, StringRef what);

  void isStatic(int64_t d, StringRef what);

  void positive(int64_t v, StringRef what);

  /// A size that must be at least 1 (a head or feature dimension): checked
  /// unless unknown.
  void atLeastOne(int64_t d, StringRef what);

  ShapeFn shapeOf;

private:
  std::string &error;
  bool failed = false;
};

/// ceil(size / block) for a positive `block`; dynamic stays dynamic.
int64_t ceilDivSize(int64_t size, int64_t block);

/// Checks the operand shapes of attn op `op` and computes the shapes of its
/// results (sizes that cannot be known stay dynamic). On failure returns false
/// and sets `error` to a one-line description.
bool checkAttnOpShapes(Operation *op, ShapeFn shapeOf,
                       SmallVectorImpl<Shape> &resultShapes,
                       std::string &error);

/// The bytes of a tensor of `shape` with `elementBytes`-byte elements, over
/// its static sizes (dynamic ones count as 1); nullopt when that overflows
/// int64.
std::optional<int64_t> checkedByteSize(ArrayRef<int64_t> shape,
                                       int64_t elementBytes);

/// Formats a shape as `[1, 8, ?, 64]`.
std::string formatShape(ArrayRef<int64_t> shape);

} // namespace mlir::attn

#endif // ATTN_IR_ATTNSHAPES_H
