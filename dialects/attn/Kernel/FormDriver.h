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

/// The largest values of the form passes' size options (0 always means
/// "chosen by the cost model"): tiles are unrolled into vector registers, so
/// larger ones only blow up compile time and stack.
constexpr int64_t kMaxTileOption = 1024;    // tile-q, tile-kv
constexpr int64_t kMaxKvSplitsOption = 256; // kv-splits
constexpr int64_t kMaxChunkOption = 4096;   // linear-chunk, scan-chunk

/// Why the value of form option `name` (tile-q, tile-kv, kv-splits,
/// vector-width, linear-chunk, scan-chunk or chunk) is out of range, as
/// "option NAME must be ..., got VALUE"; empty when it is fine.
std::string formOptionError(StringRef name, int64_t value);

/// The first formOptionError of `options` ({name, value} pairs) as an error
/// on `op`.
LogicalResult
verifyFormOptions(Operation *op,
                  ArrayRef<std::pair<StringRef, int64_t>> options);

/// Applies `patterns` greedily under `root`, then the polynomial
/// approximations of math ops to the math ops that were not there before
/// (math ops the program itself contains are left as they are).
LogicalResult applyFormPatterns(Operation *root, RewritePatternSet &&patterns);

} // namespace mlir::attn

#endif // ATTN_KERNEL_FORMDRIVER_H
