//===- Tile.h - tiled online-softmax form of attn.attention -----*- C++ -*-===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_TILE_H
#define ATTN_CONVERSION_ATTNTOLOOPS_TILE_H

#include "attn/IR/AttnOps.h"
#include "attn/Kernel/CpuTarget.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Tile sizes and vector width; 0 lets tileAttention choose: the host's
/// vector width (16 f32 lanes with AVX-512, else 8), 64 keys per tile, and
/// 64 query rows per tile, or the (static) query length rounded up to 4 when
/// it is shorter (decoding).
struct TileOptions {
  int64_t tileQ = 0;
  int64_t tileKV = 0;
  int64_t vectorWidth = 0;
  /// Parts the key axis is split into, computed in parallel and merged by
  /// log-sum-exp (0: cost model — split decoding with few (batch, head)
  /// pairs so that every thread has work).
  int64_t kvSplits = 0;
  /// Block-sparse form (attn-sparsify): block_mask, segments and rows
  /// patterns are compacted at run time into per-query-tile lists of the key
  /// tiles to visit, instead of being evaluated on every tile.
  bool sparse = false;
  /// The CPU the code is for: its vector width where vectorWidth is 0.
  CpuTarget target;
  /// entmax recomputes each query tile's scores on every pass instead of
  /// keeping them in a scratch (the cost model's choice for long rows).
  bool entmaxRecompute = false;
};

/// Lowers `op` to a parallel loop nest over (batch, head, query tile) with an
/// online-softmax loop over the key tiles the mask analysis keeps, on
/// buffers (bufferization.to_buffer / to_tensor at the boundary). Fails when
/// a head count or head dimension is dynamic.
FailureOr<SmallVector<Value>> tileAttention(RewriterBase &rewriter,
                                            AttentionOp op,
                                            const TileOptions &options);

/// What a forward recomputed for its gradient leaves instead of its output:
/// per row, Δ_i = rowsum(dO_i ∘ O_i) - dlse_i (0 where lse_i = -inf) and
/// lse_i, in f32 buffers [B, Hq, >= Sq]. O itself is never stored.
struct GradientRows {
  /// dO [B, Hq, Sq, Dv] and the lse cotangent [B, Hq, Sq] (or null): read.
  Value gradOutput, gradLse;
  /// Written.
  Value delta, lse;
};

/// Whether tileAttention can lower `op` with `options` (static head counts
/// and head dimensions, valid tile options).
bool canTileAttention(AttentionOp op, const TileOptions &options);

/// tileAttention of a softmax `op` whose output is only needed for its
/// gradient: the rows are finished into `rows`, and the op's results are
/// left to the caller to erase. Fails where canTileAttention does.
LogicalResult tileAttentionForGradient(RewriterBase &rewriter, AttentionOp op,
                                       const TileOptions &options,
                                       const GradientRows &rows);

/// TileOptions from the options of a tiled-form pass, with the target CPU
/// they name; an error on `op` for an unknown CPU or malformed features.
FailureOr<TileOptions> getTileOptions(Operation *op, int64_t tileQ,
                                      int64_t tileKV, int64_t vectorWidth,
                                      int64_t kvSplits, StringRef targetCpu,
                                      StringRef targetFeatures);

void populateTilePatterns(RewritePatternSet &patterns,
                          const TileOptions &options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_TILE_H
