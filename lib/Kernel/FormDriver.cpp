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
