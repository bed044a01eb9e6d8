//===- Fuse.cpp - fusion of attention graphs ------------------------------===//

#include "attn/Transforms/Fuse.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNFUSE
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

/// Whether every user of `op` is a later stage of some attention chain, so
/// that fusing each chain on its own (recomputing the shared stages) leaves
/// no use that needs the dense intermediate.
static bool onlyFeedsChains(Operation *op) {
  return llvm::all_of(op->getUsers(), [](Operation *user) {
    return isa<ScoreModOp, MaskOp, AggregateOp>(user);
  });
}

FailureOr<AttentionOp> mlir::attn::fuseAttentionChain(RewriterBase &rewriter,
                                                      AggregateOp aggregate) {
  Value scores = aggregate.getScores();
  auto mask = scores.getDefiningOp<MaskOp>();
  if (mask) {
    if (!onlyFeedsChains(mask))
      return failure();
    scores = mask.getScores();
  }
  auto scoreMod = scores.getDefiningOp<ScoreModOp>();
  if (scoreMod) {
    if (!onlyFeedsChains(scoreMod))
      return failure();
    scores = scoreMod.getScores();
  }
  auto score = scores.getDefiningOp<ScoreOp>();
  if (!score || !onlyFeedsChains(score))
    return failure();

  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(aggregate);
  ArrayAttr patterns =
      mask ? mask.getPatternsAttr() : rewriter.getArrayAttr({});
  ValueRange maskOperands =
      mask ? ValueRange(mask.getMaskOperands()) : ValueRange();
  auto attention = AttentionOp::create(
      rewriter, aggregate.getLoc(), aggregate->getResultTypes(),
      aggregate.getKindAttr(), score.getQuery(), score.getKey(),
      aggregate.getValue(), patterns, maskOperands, aggregate.getSinks(),
      /*positions=*/ValueRange(), score.getScaleAttr(),
      aggregate.getAlphaAttr());
  // Stages shared with other chains stay for them: copy their regions.
  if (scoreMod)
    rewriter.cloneRegionBefore(scoreMod.getBody(), attention.getScoreMod(),
                               attention.getScoreMod().end());
  if (mask && !mask.getPredicate().empty())
    rewriter.cloneRegionBefore(mask.getPredicate(), attention.getPredicate(),
                               attention.getPredicate().end());
  rewriter.replaceOp(aggregate, attention->getResults());
  for (Operation *stage :
       {mask.getOperation(), scoreMod.getOperation(), score.getOperation()})
    if (stage && stage->use_empty())
      rewriter.eraseOp(stage);
  return attention;
}

FailureOr<AggregateOp> mlir::attn::unfuseAttention(RewriterBase &rewriter,
                                                   AttentionOp attention) {
  // Positions have no graph form.
  if (!attention.getPositions().empty())
    return rewriter.notifyMatchFailure(attention, "positioned attention");
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(attention);
  Location loc = attention.getLoc();
  auto qType = cast<RankedTensorType>(attention.getQuery().getType());
  auto kType = cast<RankedTensorType>(attention.getKey().getType());
  auto scoresType =
      RankedTensorType::get({qType.getDimSize(0), qType.getDimSize(1),
                             qType.getDimSize(2), kType.getDimSize(2)},
                            rewriter.getF32Type());
  Value scores =
      ScoreOp::create(rewriter, loc, scoresType, attention.getQuery(),
                      attention.getKey(), attention.getScaleAttr());
  if (!attention.getScoreMod().empty()) {
    auto mod = ScoreModOp::create(rewriter, loc, scoresType, scores);
    rewriter.inlineRegionBefore(attention.getScoreMod(), mod.getBody(),
                                mod.getBody().end());
    scores = mod;
  }
  if (!attention.getPatterns().empty() || !attention.getPredicate().empty()) {
    auto mask = MaskOp::create(rewriter, loc, scoresType, scores,
                               attention.getPatternsAttr(),
                               attention.getMaskOperands());
    if (!attention.getPredicate().empty())
      rewriter.inlineRegionBefore(attention.getPredicate(), mask.getPredicate(),
                                  mask.getPredicate().end());
    scores = mask;
  }
  auto aggregate =
      AggregateOp::create(rewriter, loc, attention->getResultTypes(),
                          attention.getKindAttr(), scores, attention.getValue(),
                          attention.getSinks(), attention.getAlphaAttr());
  rewriter.replaceOp(attention, aggregate->getResults());
  return aggregate;
}

namespace {
struct FuseAttentionChain : OpRewritePattern<AggregateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AggregateOp op,
                                PatternRewriter &rewriter) const override {
    return fuseAttentionChain(rewriter, op);
  }
};

struct AttnFusePass : attn::impl::AttnFuseBase<AttnFusePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFusePatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::attn::populateFusePatterns(RewritePatternSet &patterns) {
  patterns.add<FuseAttentionChain>(patterns.getContext());
}
