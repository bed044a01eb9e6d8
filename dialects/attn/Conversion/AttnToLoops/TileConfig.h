//===- TileConfig.h - the tiled form's cost model ---------------*- C++ -*-===//
//
// The shape of the tiled kernel chosen for one attention: a plain function
// of the problem's static sizes, the pass options and the target CPU they
// name (never the machine that compiles), so it can be tested on its own
// (`attn-opt --attn-test-tile-config`).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_TILECONFIG_H
#define ATTN_CONVERSION_ATTNTOLOOPS_TILECONFIG_H

#include "attn/Conversion/AttnToLoops/Tile.h"

#include <optional>

namespace mlir::attn {

/// What the cost model reads of an attention: static sizes, or
/// ShapedType::kDynamic for the batch and query lengths.
struct TileProblem {
  int64_t batch, queryHeads, keyHeads, queries, headDim, valueDim;
  /// Skv (may be dynamic).
  int64_t keys = ShapedType::kDynamic;
  /// The aggregation needs each row's scores before any weight (entmax):
  /// rows in lanes, no key splits, a query tile sized to the scratch.
  bool wholeRows = false;

  /// The problem of `op`, or nullopt when a head count or head dimension is
  /// dynamic (the tiled form needs them static).
  static std::optional<TileProblem> of(AttentionOp op);
};

/// The tiled kernel's shape.
struct TileConfig {
  /// f32 lanes of the score and statistics vectors.
  int64_t vectorWidth;
  /// Keys per tile (Bc), a multiple of vectorWidth.
  int64_t keyTile;
  /// Query rows per tile (Br): a multiple of vectorWidth when the rows lie
  /// in vector lanes, else of 4.
  int64_t queryTile;
  /// Scores are kept transposed, S^T [Bc, Br], with the query rows of a tile
  /// in vector lanes (vertical statistics, K read in place). Otherwise
  /// (decoding: a handful of queries) each score is a dot product straight
  /// from the K rows.
  bool rowsInLanes;
  /// Lanes of the dot products over D (rows layout) and of the output
  /// vectors over Dv: the widest power of two up to vectorWidth dividing it.
  int64_t dotWidth, outWidth;
  /// Register blocking of S^T = K_tile Q^T: row vectors x keys per step.
  int64_t rowVectorBlock, keyBlock;
  /// Rows per register block of the P V accumulation.
  int64_t rowsPerPVBlock;
  /// Parts of the key axis computed in parallel and merged by lse.
  int64_t kvSplits;

  int64_t numRowVectors() const {
    return rowsInLanes ? queryTile / vectorWidth : 0;
  }
  int64_t numOutVectors(int64_t valueDim) const { return valueDim / outWidth; }
};

/// Chooses the kernel shape where `options` leave a choice: the target's
/// vector width, 64 keys per tile, 64 query rows per tile (or the static
/// query length rounded up, when shorter), register blocks that fit the
/// vector registers (32 with AVX-512, 16 with AVX2), and for decoding with
/// few (batch, head) pairs a split of the keys that gives every thread work.
/// Fails on negative options.
FailureOr<TileConfig> chooseTileConfig(const TileProblem &problem,
                                       const TileOptions &options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_TILECONFIG_H
