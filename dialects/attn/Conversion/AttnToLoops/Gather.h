//===- Gather.h - gather form of attn.attention -----------------*- C++ -*-===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_GATHER_H
#define ATTN_CONVERSION_ATTNTOLOOPS_GATHER_H

#include "attn/Conversion/AttnToLoops/Tile.h"
#include "attn/Kernel/MaskPredicate.h"

namespace mlir::attn {

/// Lowers `op`, whose mask has a csr or indices pattern, to the gather form:
/// a parallel loop over (batch, head, query) whose inner loop visits exactly
/// the row's listed keys with an online softmax; the other patterns and the
/// predicate are evaluated per visited key. Nothing of size Sq x Skv exists.
FailureOr<SmallVector<Value>> gatherAttention(RewriterBase &rewriter,
                                              AttentionOp op,
                                              const TileOptions &options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_GATHER_H
