//===- Decompose.h - naive lowering of attn ops -----------------*- C++ -*-===//
#ifndef ATTN_TRANSFORMS_DECOMPOSE_H
#define ATTN_TRANSFORMS_DECOMPOSE_H

#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Patterns that rewrite every attn op into linalg.generic/tensor/arith/math/
/// scf ops on tensors (the naive form: the full score matrix is built).
void populateDecomposePatterns(RewritePatternSet &patterns);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_DECOMPOSE_H
