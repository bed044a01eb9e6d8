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
#include <vector>

namespace mlir::attn {

using Shape = SmallVector<int64_t, 4>;
/// Returns the shape of `value`; ShapedType::kDynamic marks an unknown size.
using ShapeFn = llvm::function_ref<Shape(Value)>;

/// Records the size checks that can only be made at run time, for code that
/// must make them there (attn-compile's entry points). Sizes known only at
/// run time are passed through the shape rules as *tags*: negative
/// placeholders that no real or dynamic size can equal. A rule that meets a
/// tag records a check instead of evaluating it; arithmetic on sizes
/// (ShapeChecker::ceilDiv, ShapeChecker::plus) derives new tags.
class SizeRecorder {
public:
  enum class Rule { Equal, EqualOrOne, Divides, AtLeastOne };
  /// `a` and `b` are tags or known sizes; `what` as ShapeChecker words it.
  struct Check {
    Rule rule;
    int64_t a, b;
    std::string what;
    /// Where: the context set when it was recorded.
    std::string context;
  };
  /// What a tag stands for: dimension `b` of argument `a`, ceil(a / b) or
  /// a + b (`a` a tag, `b` a constant for the derived kinds).
  struct Size {
    enum class Kind { ArgumentDim, CeilDiv, Plus } kind;
    int64_t a, b;
  };

  static bool isTag(int64_t v) { return v <= kFirstTag && v > kLastTag; }
  /// The tag of dimension `dim` of argument `argument`.
  int64_t argumentDim(unsigned argument, unsigned dim);
  /// The tag of a size derived from the tag `of`.
  int64_t derive(Size::Kind kind, int64_t of, int64_t constant);
  const Size &size(int64_t tag) const { return sizes[kFirstTag - tag]; }

  void record(Rule rule, int64_t a, int64_t b, const Twine &what);
  ArrayRef<Check> checks() const { return recorded; }
  /// Names the op whose rules record the next checks.
  void setContext(std::string where) { context = std::move(where); }

private:
  static constexpr int64_t kFirstTag = -(int64_t(1) << 40);
  static constexpr int64_t kLastTag = kFirstTag - (int64_t(1) << 30);
  int64_t tagOf(Size size);
  std::vector<Size> sizes;
  std::vector<Check> recorded;
  std::string context;
};

/// Accumulates the first shape error; every check is a no-op once one failed.
/// Sizes equal to ShapedType::kDynamic are unknown and pass every check.
/// With a SizeRecorder, checks on its tags are recorded, not evaluated.
class ShapeChecker {
public:
  ShapeChecker(ShapeFn shapeOf, std::string &error,
               SizeRecorder *recorder = nullptr)
      : shapeOf(shapeOf), error(error), recorder(recorder) {}

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

  /// ceil(size / block) for a positive `block`, as ceilDivSize.
  int64_t ceilDiv(int64_t size, int64_t block);
  /// size + `constant`; dynamic stays dynamic.
  int64_t plus(int64_t size, int64_t constant);
  /// Whether `d` is a size known now (neither dynamic nor a tag).
  bool isKnown(int64_t d) const;

  ShapeFn shapeOf;

private:
  /// Records the check when `a` or `b` is a tag; returns whether it did.
  bool recorded(SizeRecorder::Rule rule, int64_t a, int64_t b,
                const Twine &what);

  std::string &error;
  SizeRecorder *recorder;
  bool failed = false;
};

/// ceil(size / block) for a positive `block`; dynamic stays dynamic.
int64_t ceilDivSize(int64_t size, int64_t block);

/// Checks the operand shapes of attn op `op` and computes the shapes of its
/// results (sizes that cannot be known stay dynamic). On failure returns false
/// and sets `error` to a one-line description.
/// With `recorder`, checks on its tags are recorded instead.
bool checkAttnOpShapes(Operation *op, ShapeFn shapeOf,
                       SmallVectorImpl<Shape> &resultShapes, std::string &error,
                       SizeRecorder *recorder = nullptr);

/// The bytes of a tensor of `shape` with `elementBytes`-byte elements, over
/// its static sizes (dynamic ones count as 1); nullopt when that overflows
/// int64.
std::optional<int64_t> checkedByteSize(ArrayRef<int64_t> shape,
                                       int64_t elementBytes);

/// Formats a shape as `[1, 8, ?, 64]`.
std::string formatShape(ArrayRef<int64_t> shape);

} // namespace mlir::attn

#endif // ATTN_IR_ATTNSHAPES_H
