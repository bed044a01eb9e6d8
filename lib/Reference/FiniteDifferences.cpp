//===- FiniteDifferences.cpp - checks reference gradients -----------------===//
//
// The interpreter never rounds a float to its storage type, so both the
// perturbed evaluations and the gradient are plain f64. The difference
// <c, F(x+h) - F(x-h)> is summed element by element, so outputs that the
// perturbation does not reach contribute exactly 0 instead of their rounding
// noise.
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/FiniteDifferences.h"
#include "attn/Reference/Gradient.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

using namespace mlir;
using namespace mlir::attn::reference;

namespace {

/// Relative step: h = kStep * max(1, |x|).
constexpr double kStep = 1e-6;
/// Agreement of a one-sided difference that marks a kink or jump.
constexpr double kOneSidedTolerance = 1e-3;
/// How much better than the central difference the matching one-sided
/// difference must be at a kink.
constexpr double kKinkRatio = 0.1;
constexpr double kInf = std::numeric_limits<double>::infinity();
/// Floor of the gradient scale an error is measured against.
constexpr double kScaleFloor = 1e-6;

/// <c, a - b> over the float results; false when an output changes to or
/// from a non-finite value (a jump).
bool projectedDifference(ArrayRef<unsigned> withCotangent,
                         ArrayRef<Tensor> cotangents, ArrayRef<Tensor> a,
                         ArrayRef<Tensor> b, double &sum) {
  sum = 0;
  for (auto [k, r] : llvm::enumerate(withCotangent)) {
    const std::vector<double> &x = a[r].data, &y = b[r].data;
    for (size_t e = 0; e < x.size(); ++e) {
      if (x[e] == y[e])
        continue; // unchanged, also -inf lse rows
      double d = x[e] - y[e];
      if (!std::isfinite(d))
        return false;
      sum += cotangents[k].data[e] * d;
    }
  }
  return true;
}

/// One sample: the central difference at args[a].data[e] and whether the
/// point is non-differentiable (one one-sided difference matches `g` while
/// the central one does not).
struct Sample {
  double numeric = 0, error = 0;
  bool kink = false;
};

bool drawSample(func::FuncOp func, ArrayRef<Tensor> args,
                ArrayRef<Tensor> cotangents, ArrayRef<Tensor> base, unsigned a,
                int64_t e, double g, double scale, Sample &sample,
                std::string &error) {
  SmallVector<unsigned> withCotangent = cotangentResults(func);
  double x = args[a].data[e], h = kStep * std::max(1.0, std::fabs(x));
  SmallVector<Tensor> perturbed(args.begin(), args.end());
  SmallVector<Tensor> plus, minus;
  perturbed[a].data[e] = x + h;
  if (!evaluate(func, perturbed, plus, error))
    return false;
  perturbed[a].data[e] = x - h;
  if (!evaluate(func, perturbed, minus, error))
    return false;
  // The steps actually taken, after rounding x ± h.
  double hPlus = (x + h) - x, hMinus = x - (x - h);
  double up, down;
  bool upFinite =
      projectedDifference(withCotangent, cotangents, plus, base, up);
  bool downFinite =
      projectedDifference(withCotangent, cotangents, base, minus, down);
  auto relative = [&](double v) { return std::fabs(v - g) / scale; };
  if (upFinite && downFinite) {
    sample.numeric = (up + down) / (hPlus + hMinus);
    sample.error = relative(sample.numeric);
    if (sample.error <= kFiniteDifferenceTolerance)
      return true;
  }
  // At a kink or jump, one side matches the gradient (to its O(h) error)
  // far better than the central difference does; at a smooth point both
  // sides are off by about as much as the centre, so a wrong gradient is
  // never taken for a kink.
  double oneSided = std::min(upFinite ? relative(up / hPlus) : kInf,
                             downFinite ? relative(down / hMinus) : kInf);
  bool central = upFinite && downFinite;
  sample.kink = oneSided <= kOneSidedTolerance &&
                (!central || oneSided <= kKinkRatio * sample.error);
  if (!central) {
    sample.numeric = upFinite ? up / hPlus : down / hMinus;
    sample.error = relative(sample.numeric);
  }
  return true;
}

} // namespace

bool mlir::attn::reference::checkFiniteDifferences(
    func::FuncOp func, ArrayRef<Tensor> args, ArrayRef<Tensor> cotangents,
    unsigned samples, uint64_t seed, FiniteDifferenceReport &report,
    std::string &error) {
  report = FiniteDifferenceReport();
  SmallVector<Tensor> grads, base;
  if (!evaluateGradient(func, args, cotangents, grads, error) ||
      !evaluate(func, args, base, error))
    return false;
  SmallVector<unsigned> gradArgs = gradientArguments(func);
  // Arguments with elements to perturb, with their gradient's scale.
  SmallVector<unsigned> candidates;
  SmallVector<double> scales;
  for (auto [k, a] : llvm::enumerate(gradArgs)) {
    if (args[a].numElements() == 0)
      continue;
    double scale = kScaleFloor;
    for (double g : grads[k].data)
      if (std::isfinite(g))
        scale = std::max(scale, std::fabs(g));
    candidates.push_back(k);
    scales.push_back(scale);
  }
  std::mt19937_64 rng(seed);
  for (unsigned draws = 0; !candidates.empty() && report.compared < samples &&
                           draws < 4 * samples + 16;
       ++draws) {
    unsigned c =
        std::uniform_int_distribution<unsigned>(0, candidates.size() - 1)(rng);
    unsigned k = candidates[c], a = gradArgs[k];
    int64_t e = std::uniform_int_distribution<int64_t>(
        0, args[a].numElements() - 1)(rng);
    double g = grads[k].data[e];
    Sample sample;
    if (!drawSample(func, args, cotangents, base, a, e, g, scales[c], sample,
                    error))
      return false;
    if (sample.kink) {
      ++report.skipped;
      continue;
    }
    ++report.compared;
    // A NaN error, once seen, stays the maximum.
    if (!std::isnan(report.maxError) && !(sample.error <= report.maxError)) {
      report.maxError = sample.error;
      report.argument = a;
      report.element = e;
      report.analytic = g;
      report.numeric = sample.numeric;
    }
  }
  return true;
}
