//===- Select.h - one-pass lowering of attn.select_topk ---------*- C++ -*-===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_SELECT_H
#define ATTN_CONVERSION_ATTNTOLOOPS_SELECT_H

#include "attn/Conversion/AttnToLoops/Tile.h"

namespace mlir::attn {

/// Lowers attn.select_topk to one pass per score row keeping the row's best
/// top_k in a sorted stack buffer; scores produced by an attn.score used
/// only here are computed in that pass (the score tensor is never built).
FailureOr<Value> lowerSelectTopk(RewriterBase &rewriter, SelectTopkOp op,
                                 const TileOptions &options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_SELECT_H
