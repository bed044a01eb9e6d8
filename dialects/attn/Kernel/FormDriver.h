//===- FormDriver.h - applying a form's rewrite patterns --------*- C++ -*-===//
//
// What every form pass (attn-tile, attn-sparsify, attn-linearize, attn-scan)
// does around its patterns: resolve the target CPU from its options, and
// give the math ops the form created -- and only those -- polynomial
// approximations (vector exp/log instead of per-lane libm calls).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_KERNEL_FORMDRIVER_H
#define ATTN_KERNEL_FORMDRIVER_H

#include "attn/Kernel/CpuTarget.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// getCpuTarget(cpu, features), or an error on `op` naming the bad option.
FailureOr<CpuTarget> getCpuTargetOrEmitError(Operation *op, StringRef cpu,
                                             StringRef features);

/// Applies `patterns` greedily under `root`, then the polynomial
/// approximations of math ops to the math ops that were not there before
/// (math ops the program itself contains are left as they are).
LogicalResult applyFormPatterns(Operation *root, RewritePatternSet &&patterns);

} // namespace mlir::attn

#endif // ATTN_KERNEL_FORMDRIVER_H
