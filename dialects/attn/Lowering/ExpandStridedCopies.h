//===- ExpandStridedCopies.h - strided copies to linalg.copy ----*- C++ -*-===//
#ifndef ATTN_LOWERING_EXPANDSTRIDEDCOPIES_H
#define ATTN_LOWERING_EXPANDSTRIDEDCOPIES_H

#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// memref.copy between buffers with non-identity layouts -> linalg.copy, so
/// that no call of MLIR's memrefCopy runtime function remains.
void populateExpandStridedCopiesPatterns(RewritePatternSet &patterns);

} // namespace mlir::attn

#endif // ATTN_LOWERING_EXPANDSTRIDEDCOPIES_H
