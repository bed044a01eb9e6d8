//===- Tile.h - tiled online-softmax form of attn.attention -----*- C++ -*-===//
#ifndef ATTN_TRANSFORMS_TILE_H
#define ATTN_TRANSFORMS_TILE_H

#include "attn/IR/AttnOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

struct TileOptions {
  int64_t tileQ = 64;       // query rows per tile
  int64_t tileKV = 64;      // keys per tile (rounded up to the vector width)
  int64_t vectorWidth = 16; // f32 lanes
};

/// Lowers `op` to a parallel loop nest over (batch, head, query tile) with an
/// online-softmax loop over the key tiles the mask analysis keeps, on
/// buffers (bufferization.to_buffer / to_tensor at the boundary). Fails when
/// a head count or head dimension is dynamic.
FailureOr<SmallVector<Value>> tileAttention(RewriterBase &rewriter,
                                            AttentionOp op,
                                            const TileOptions &options);

void populateTilePatterns(RewritePatternSet &patterns,
                          const TileOptions &options);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_TILE_H
