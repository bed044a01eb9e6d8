//===- FormDriver.cpp - applying a form's rewrite patterns ----------------===//

#include "attn/Kernel/FormDriver.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace mlir::attn;

FailureOr<CpuTarget> mlir::attn::getCpuTargetOrEmitError(Operation *op,
                                                         StringRef cpu,
                                                         StringRef features) {
  FailureOr<CpuTarget> target = getCpuTarget(cpu, features);
  if (failed(target))
    return op->emitError()
           << "unknown target CPU '" << cpu
           << "' or malformed target features '" << features
           << "' (features are +name or -name, comma-separated)";
  return target;
}

std::string mlir::attn::formOptionError(StringRef name, int64_t value) {
  if (name == "vector-width") {
    if (value == 0 || value == 4 || value == 8 || value == 16)
      return "";
    return "option vector-width must be 0, 4, 8 or 16, got " +
           std::to_string(value);
  }
  int64_t max = name == "kv-splits"         ? kMaxKvSplitsOption
                : name.starts_with("tile-") ? kMaxTileOption
                                            : kMaxChunkOption;
  if (value >= 0 && value <= max)
    return "";
  return ("option " + name + " must be between 0 and " + Twine(max) + ", got " +
          Twine(value))
      .str();
}

LogicalResult
mlir::attn::verifyFormOptions(Operation *op,
                              ArrayRef<std::pair<StringRef, int64_t>> options) {
  for (auto [name, value] : options)
    if (std::string error = formOptionError(name, value); !error.empty())
      return op->emitError(error);
  return success();
}

LogicalResult mlir::attn::applyFormPatterns(Operation *root,
                                            RewritePatternSet &&patterns) {
  auto isMath = [](Operation *op) {
    return isa<math::MathDialect>(op->getDialect());
  };
  llvm::DenseSet<Operation *> before;
  root->walk([&](Operation *op) {
    if (isMath(op))
      before.insert(op);
  });
  if (failed(applyPatternsGreedily(root, std::move(patterns))))
    return failure();
  SmallVector<Operation *> created;
  root->walk([&](Operation *op) {
    if (isMath(op) && !before.contains(op))
      created.push_back(op);
  });
  if (created.empty())
    return success();
  RewritePatternSet approximations(root->getContext());
  populateMathPolynomialApproximationPatterns(approximations);
  GreedyRewriteConfig config;
  config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
  return applyOpPatternsGreedily(created, std::move(approximations), config);
}
