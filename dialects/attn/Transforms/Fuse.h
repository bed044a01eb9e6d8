//===- Fuse.h - fusion of attention graphs ----------------------*- C++ -*-===//
#ifndef ATTN_TRANSFORMS_FUSE_H
#define ATTN_TRANSFORMS_FUSE_H

#include "attn/IR/AttnOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Fuses the chain score → [score_mod] → [mask] → aggregate that ends in
/// `aggregate` into one attn.attention op; stages shared with other chains
/// are left to them (and recomputed by each). Fails when the chain does not
/// start at an attn.score or an intermediate result has a use outside
/// attention chains.
FailureOr<AttentionOp> fuseAttentionChain(RewriterBase &rewriter,
                                          AggregateOp aggregate);

/// Rewrites an attn.attention op back into the equivalent graph ops.
FailureOr<AggregateOp> unfuseAttention(RewriterBase &rewriter,
                                       AttentionOp attention);

/// Patterns applying fuseAttentionChain.
void populateFusePatterns(RewritePatternSet &patterns);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_FUSE_H
