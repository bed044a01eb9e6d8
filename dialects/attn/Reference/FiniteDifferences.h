//===- FiniteDifferences.h - checks reference gradients ---------*- C++ -*-===//
//
// Compares the reverse-mode gradient of the reference (Gradient.h) with
// central finite differences of the forward interpreter, both in f64
// (docs/testing.md, "Reference gradients").
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_REFERENCE_FINITEDIFFERENCES_H
#define ATTN_REFERENCE_FINITEDIFFERENCES_H

#include "attn/Reference/Interpreter.h"

namespace mlir::attn::reference {

/// The largest error a correct gradient shows: central differences in f64
/// with a relative step of 1e-6 are accurate to about 1e-9 of the gradient's
/// scale on these programs; a wrong rule is off by far more.
constexpr double kFiniteDifferenceTolerance = 1e-6;

/// The outcome of checkFiniteDifferences.
struct FiniteDifferenceReport {
  /// max over the compared samples of |fd - g| / max(‖g_a‖∞, 1e-6), with g
  /// the reverse-mode entry, fd its central difference and ‖g_a‖∞ the
  /// largest gradient entry of the same argument.
  double maxError = 0;
  /// Samples compared, and samples found at a non-differentiable point (a
  /// kink or a jump inside [x - h, x + h]) and replaced by another draw.
  unsigned compared = 0, skipped = 0;
  /// The worst sample: argument number (of the function), flat element,
  /// reverse-mode and finite-difference values.
  unsigned argument = 0;
  int64_t element = 0;
  double analytic = 0, numeric = 0;
};

/// Draws `samples` (argument, element) pairs among the float tensor
/// arguments of `func` (argument uniformly, then element uniformly; seeded by
/// `seed`, so deterministic), perturbs each by ±h with h = 1e-6 max(1, |x|),
/// and compares (<c, F(x+h)> - <c, F(x-h)>) / 2h, c the cotangents, with the
/// reverse-mode gradient. A sample whose central difference disagrees while
/// one one-sided difference agrees (to 1e-3, and ten times better than the
/// central one) sits at a kink or jump (relu, max, a selection that flips):
/// it is skipped and another is drawn, up to 4 * samples + 16 draws. Returns
/// false with `error` when the function cannot be evaluated or differentiated.
bool checkFiniteDifferences(func::FuncOp func, ArrayRef<Tensor> args,
                            ArrayRef<Tensor> cotangents, unsigned samples,
                            uint64_t seed, FiniteDifferenceReport &report,
                            std::string &error);

} // namespace mlir::attn::reference

#endif // ATTN_REFERENCE_FINITEDIFFERENCES_H
