//===- TestTileConfig.cpp - print the tiled form's cost model choices -----===//

#include "attn/Conversion/AttnToLoops/TileConfig.h"
#include "attn/Conversion/Passes.h"

#include "llvm/Support/raw_ostream.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNTESTTILECONFIG
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct AttnTestTileConfigPass
    : attn::impl::AttnTestTileConfigBase<AttnTestTileConfigPass> {
  using AttnTestTileConfigBase::AttnTestTileConfigBase;
  void runOnOperation() override {
    FailureOr<TileOptions> options =
        getTileOptions(getOperation(), tileQ, tileKV, vectorWidth, kvSplits,
                       targetCpu, targetFeatures);
    if (failed(options))
      return signalPassFailure();
    getOperation()->walk([&](AttentionOp op) {
      llvm::raw_ostream &os = llvm::outs();
      os << "tile-config " << op.getLoc() << ": ";
      std::optional<TileProblem> problem = TileProblem::of(op);
      if (!problem) {
        os << "dynamic heads\n";
        return;
      }
      FailureOr<TileConfig> c = chooseTileConfig(*problem, *options);
      if (failed(c)) {
        os << "invalid options\n";
        return;
      }
      os << "vector-width=" << c->vectorWidth << " key-tile=" << c->keyTile
         << " query-tile=" << c->queryTile
         << " layout=" << (c->rowsInLanes ? "lanes" : "rows")
         << " dot-width=" << c->dotWidth << " out-width=" << c->outWidth
         << " qk-block=" << c->rowVectorBlock << "x" << c->keyBlock
         << " pv-rows=" << c->rowsPerPVBlock << " kv-splits=" << c->kvSplits
         << "\n";
    });
  }
};
} // namespace
