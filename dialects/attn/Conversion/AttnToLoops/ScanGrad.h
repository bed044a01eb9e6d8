//===- ScanGrad.h - backward of prefix attention, scan form -----*- C++ -*-===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_SCANGRAD_H
#define ATTN_CONVERSION_ATTNTOLOOPS_SCANGRAD_H

#include "attn/Conversion/AttnToLoops/Scan.h"
#include "attn/IR/AttnOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Lowers the backward of a prefix attention (isPrefixAttention: broadcast
/// query, causal mask) to O(S) work per (batch, head): the scores once per
/// key, a reverse sweep over the keys per (batch, K/V head) carrying suffix
/// sums over the rows (dK, dV; the query heads of a GQA group in order), and a
/// forward sweep per (batch, query head) carrying the prefix sums of
/// p k v^T and p k (dQ), both re-based so that no exponent is positive.
/// `options`: the vector width. Fails when a head count or head dimension is
/// dynamic, or the op has a score_mod region (its adjoint is the tiled
/// backward's).
FailureOr<SmallVector<Value>> scanAttentionGrad(RewriterBase &rewriter,
                                                AttentionGradOp op,
                                                const ScanOptions &options);

/// The pattern that replaces a prefix attention_grad by scanAttentionGrad
/// (static query lengths up to 8 are left to the tiled backward).
void populateScanGradPatterns(RewritePatternSet &patterns,
                              const ScanOptions &options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_SCANGRAD_H
