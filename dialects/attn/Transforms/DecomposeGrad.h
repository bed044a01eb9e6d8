//===- DecomposeGrad.h - naive lowering of the gradient ops -----*- C++ -*-===//
#ifndef ATTN_TRANSFORMS_DECOMPOSEGRAD_H
#define ATTN_TRANSFORMS_DECOMPOSEGRAD_H

#include "attn/IR/AttnOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Rewrites an attn.attention_grad into the unfused forward graph ops
/// (attn.score, score_mod, mask) and the graph-level derivative rules on the
/// materialised score matrix. Returns dQ, dK, dV, [dsinks], dcaptures.
FailureOr<SmallVector<Value>> decomposeAttentionGrad(RewriterBase &rewriter,
                                                     AttentionGradOp op);

/// The naive-form patterns of the gradient ops (part of attn-decompose).
void populateDecomposeGradPatterns(RewritePatternSet &patterns);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_DECOMPOSEGRAD_H
