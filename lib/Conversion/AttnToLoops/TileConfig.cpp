//===- TileConfig.cpp - the tiled form's cost model -----------------------===//

#include "attn/Conversion/AttnToLoops/TileConfig.h"
#include "attn/Kernel/KernelBuilder.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::attn;

std::optional<TileProblem> TileProblem::of(AttentionOp op) {
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return std::nullopt;
  auto qTy = cast<RankedTensorType>(op.getQuery().getType());
  auto kTy = cast<RankedTensorType>(op.getKey().getType());
  return TileProblem{
      qTy.getDimSize(0), dims->hq,
      dims->hkv,         qTy.getDimSize(2),
      dims->d,           dims->dv,
      kTy.getDimSize(2), op.getKind() == AggregationKind::entmax};
}

FailureOr<TileConfig> mlir::attn::chooseTileConfig(const TileProblem &p,
                                                   const TileOptions &options) {
  if (options.vectorWidth < 0 || options.tileQ < 0 || options.tileKV < 0)
    return failure();
  TileConfig c;
  const int64_t vw = resolveVectorWidth(options.vectorWidth, options.target);
  c.vectorWidth = vw;
  const bool staticQueries = !ShapedType::isDynamic(p.queries);
  // 64 keys per tile (4 AVX-512 vectors: 16 accumulators with 4 rows), and
  // no more query rows per tile than there are queries.
  const int64_t tileKV = options.tileKV ? options.tileKV : 64;
  int64_t tileQ = options.tileQ ? options.tileQ : 64;
  if (!options.tileQ && staticQueries)
    tileQ = std::clamp<int64_t>((p.queries + 3) / 4 * 4, 4, 64);
  // Whole rows: the scratch of Br x Skv f32 scores per query tile in flight
  // stays within kScratchBytes when Skv is known (2 MiB: 16 rows at 32k).
  constexpr int64_t kScratchBytes = 2 << 20;
  if (p.wholeRows && !options.tileQ && !ShapedType::isDynamic(p.keys))
    tileQ = std::clamp<int64_t>(
        kScratchBytes / (4 * std::max<int64_t>(p.keys, 1)), 1, tileQ);
  c.keyTile = (tileKV + vw - 1) / vw * vw;
  c.outWidth = largestDividingWidth(p.valueDim, vw);
  c.dotWidth = largestDividingWidth(p.headDim, vw);

  // A handful of queries (decode): dot products straight from the K rows.
  // Register blocking of those rows: rows x key vectors accumulators, at
  // most 16 so the loop-carried FMA chains hide their latency.
  const int64_t rowsQK = std::clamp<int64_t>(16 / (c.keyTile / vw), 1, 4);
  c.rowsInLanes = p.wholeRows || !(staticQueries && p.queries <= 2 * rowsQK);
  c.queryTile =
      c.rowsInLanes ? (tileQ + vw - 1) / vw * vw : (tileQ + 3) / 4 * 4;

  // Register blocking of S^T: at most half the vector registers (32 with
  // AVX-512, 16 with AVX2) as accumulators.
  const int64_t accBudget = vw >= 16 ? 16 : 8;
  c.rowVectorBlock = 1;
  for (int64_t rb = 4; rb > 1 && c.rowsInLanes; --rb)
    if (c.numRowVectors() % rb == 0 && rb <= accBudget) {
      c.rowVectorBlock = rb;
      break;
    }
  c.keyBlock = std::clamp<int64_t>(accBudget / c.rowVectorBlock, 1, 4);
  // With a handful of rows, blocking rows would mostly compute padding. The
  // blocks walk the tile's rows without a remainder, so they must divide the
  // query tile (5 output vectors would give 3 rows: past a 64-row tile).
  c.rowsPerPVBlock =
      c.rowsInLanes
          ? std::clamp<int64_t>(16 / c.numOutVectors(p.valueDim), 1, 4)
          : 1;
  while (c.queryTile % c.rowsPerPVBlock != 0)
    --c.rowsPerPVBlock;

  // Decoding with few (batch, head) pairs: split the keys so that the
  // parallel loop has ~32 iterations.
  c.kvSplits = p.wholeRows ? 1 : options.kvSplits;
  if (!c.kvSplits) {
    c.kvSplits = 1;
    if (!c.rowsInLanes && !ShapedType::isDynamic(p.batch)) {
      int64_t work = p.batch * p.queryHeads *
                     ((p.queries + c.queryTile - 1) / c.queryTile);
      c.kvSplits = std::clamp<int64_t>(32 / std::max<int64_t>(work, 1), 1, 16);
    }
  }
  return c;
}
