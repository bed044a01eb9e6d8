//===- Sparsify.h - the sparse forms (attn-sparsify) ------------*- C++ -*-===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_SPARSIFY_H
#define ATTN_CONVERSION_ATTNTOLOOPS_SPARSIFY_H

#include "attn/Conversion/AttnToLoops/Tile.h"

namespace mlir::attn {

/// The sparse forms (attn-sparsify): the gather form for masks with a csr or
/// indices pattern, else tileAttention with `sparse` set for masks with a
/// block_mask, segments or rows pattern; and lowerSelectTopk.
void populateSparsifyPatterns(RewritePatternSet &patterns, TileOptions options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_SPARSIFY_H
