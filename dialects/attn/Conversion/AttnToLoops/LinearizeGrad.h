//===- LinearizeGrad.h - chunked backward of linear attention ---*- C++ -*-===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_LINEARIZEGRAD_H
#define ATTN_CONVERSION_ATTNTOLOOPS_LINEARIZEGRAD_H

#include "attn/Conversion/AttnToLoops/Linearize.h"
#include "attn/IR/AttnOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Lowers `op` to its O(S) form: a parallel loop over (batch, query head)
/// with a forward sweep over the key chunks (dq, the normalize factors and
/// dλ) and a reverse sweep (dk, dv), each carrying [F, Dv] states re-based
/// per chunk as the forward form does, then fixed-order sums over the query
/// heads of a GQA group and over the batch for dλ. `options` as for the
/// forward (chunk length, vector width). Fails when a head count or a
/// feature or value size is dynamic.
FailureOr<SmallVector<Value>>
linearizeAggregateGrad(RewriterBase &rewriter, LinearAggregateGradOp op,
                       const LinearizeOptions &options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_LINEARIZEGRAD_H
