//===- Sparsify.cpp - the sparse forms (attn-sparsify) --------------------===//
//
// Masks whose keep-set is known only at run time: csr/indices masks take the
// gather form (Gather.cpp); block_mask, segments and rows masks take the
// tiled form with run-time key-tile lists (Tile.cpp, KeyTileLists.cpp);
// attn.select_topk becomes one pass per score row (Select.cpp).
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToLoops/Sparsify.h"
#include "attn/Conversion/AttnToLoops/Gather.h"
#include "attn/Conversion/AttnToLoops/KeyTileLists.h"
#include "attn/Conversion/AttnToLoops/Select.h"
#include "attn/Conversion/Passes.h"
#include "attn/Kernel/FormDriver.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNSPARSIFY
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct SparsifyAttention : OpRewritePattern<AttentionOp> {
  SparsifyAttention(MLIRContext *ctx, TileOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasTileLevelPatterns(op) && !hasKeyListPattern(op))
      return rewriter.notifyMatchFailure(op, "no sparse mask");
    FailureOr<SmallVector<Value>> results =
        hasKeyListPattern(op) ? gatherAttention(rewriter, op, options)
                              : tileAttention(rewriter, op, options);
    if (failed(results))
      return failure();
    rewriter.replaceOp(op, *results);
    return success();
  }
  TileOptions options;
};

struct LowerSelectTopk : OpRewritePattern<SelectTopkOp> {
  LowerSelectTopk(MLIRContext *ctx, TileOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(SelectTopkOp op,
                                PatternRewriter &rewriter) const override {
    Operation *score = op.getScores().getDefiningOp<ScoreOp>();
    FailureOr<Value> indices = lowerSelectTopk(rewriter, op, options);
    if (failed(indices))
      return failure();
    rewriter.replaceOp(op, *indices);
    // Fused scores have no other use.
    if (score && score->use_empty())
      rewriter.eraseOp(score);
    return success();
  }
  TileOptions options;
};

struct AttnSparsifyPass : attn::impl::AttnSparsifyBase<AttnSparsifyPass> {
  using AttnSparsifyBase::AttnSparsifyBase;
  void runOnOperation() override {
    FailureOr<TileOptions> options =
        getTileOptions(getOperation(), tileQ, tileKV, vectorWidth, kvSplits,
                       targetCpu, targetFeatures);
    if (failed(options))
      return signalPassFailure();
    options->entmaxRecompute = entmaxRecompute;
    RewritePatternSet patterns(&getContext());
    populateSparsifyPatterns(patterns, *options);
    if (failed(applyFormPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::attn::populateSparsifyPatterns(RewritePatternSet &patterns,
                                          TileOptions options) {
  options.sparse = true;
  patterns.add<SparsifyAttention, LowerSelectTopk>(patterns.getContext(),
                                                   options);
}
