//===- DecomposeGrad.cpp - naive lowering of the gradient ops -------------===//
//
// attn.attention_grad recomputes the unfused forward graph, then applies the
// graph-level derivative rules (GradRules) stage by stage in reverse: the
// slow, obviously-correct backward the fused forms are checked against.
//
//===----------------------------------------------------------------------===//
#include "attn/Transforms/DecomposeGrad.h"
#include "attn/Transforms/GradRules.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The forward stages of a fused attention, unfused: raw scores, after
/// score_mod, after the mask.
struct ForwardStages {
  Value raw, modified, masked;
};

ForwardStages recomputeForward(RewriterBase &rw, AttentionGradOp op) {
  Location loc = op.getLoc();
  auto qType = cast<RankedTensorType>(op.getQuery().getType());
  auto kType = cast<RankedTensorType>(op.getKey().getType());
  auto scoresType =
      RankedTensorType::get({qType.getDimSize(0), qType.getDimSize(1),
                             qType.getDimSize(2), kType.getDimSize(2)},
                            rw.getF32Type());
  ForwardStages st;
  st.raw = ScoreOp::create(rw, loc, scoresType, op.getQuery(), op.getKey(),
                           op.getScaleAttr());
  st.modified = st.raw;
  if (!op.getScoreMod().empty()) {
    auto mod = ScoreModOp::create(rw, loc, scoresType, st.raw);
    rw.cloneRegionBefore(op.getScoreMod(), mod.getBody(), mod.getBody().end());
    st.modified = mod;
  }
  st.masked = st.modified;
  if (!op.getPatterns().empty() || !op.getPredicate().empty()) {
    auto mask = MaskOp::create(rw, loc, scoresType, st.modified,
                               op.getPatternsAttr(), op.getMaskOperands());
    if (!op.getPredicate().empty())
      rw.cloneRegionBefore(op.getPredicate(), mask.getPredicate(),
                           mask.getPredicate().end());
    st.masked = mask;
  }
  return st;
}

struct DecomposeAttentionGrad : OpRewritePattern<AttentionGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Value>> grads = decomposeAttentionGrad(rewriter, op);
    if (failed(grads))
      return failure();
    rewriter.replaceOp(op, *grads);
    return success();
  }
};

} // namespace

FailureOr<SmallVector<Value>>
mlir::attn::decomposeAttentionGrad(RewriterBase &rw, AttentionGradOp op) {
  // Left for attn-decompose's check, which names the forms that lower it.
  if (!op.getPositions().empty())
    return rw.notifyMatchFailure(op, "positions: tiled CPU form only");
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  GenericBuilder g(rw, op.getLoc());
  ForwardStages st = recomputeForward(rw, op);
  FailureOr<AggregateGrads> agg = aggregateVJP(
      g, op.getKind(), st.masked, op.getValue(), op.getOutput(), op.getLse(),
      op.getSinks(), op.getGradOutput(), op.getGradLse());
  if (failed(agg))
    return rw.notifyMatchFailure(op, "dynamic head counts");
  Value dModified = st.masked == st.modified
                        ? agg->scores
                        : maskVJP(g, st.masked, agg->scores);
  Value dRaw = dModified;
  SmallVector<Value> dCaptures;
  if (!op.getScoreMod().empty()) {
    FailureOr<ScoreModGrads> mod =
        scoreModVJP(g, op.getScoreMod(), st.raw, dModified, op.getCaptures());
    if (failed(mod))
      return failure();
    dRaw = mod->scores;
    dCaptures = mod->captures;
  } else {
    for (Value c : op.getCaptures())
      dCaptures.push_back(castTo(
          rw, op.getLoc(),
          g.filled(
              tensor::getMixedSizes(rw, op.getLoc(), c),
              cast<ShapedType>(c.getType()).getElementType(),
              arith::ConstantOp::create(
                  rw, op.getLoc(),
                  rw.getFloatAttr(
                      cast<ShapedType>(c.getType()).getElementType(), 0.0))),
          c.getType()));
  }
  FailureOr<ScoreGrads> score =
      scoreVJP(g, op.getQuery(), op.getKey(), op.getEffectiveScale(), dRaw);
  if (failed(score))
    return rw.notifyMatchFailure(op, "dynamic head counts");
  SmallVector<Value> results = {score->query, score->key, agg->value};
  if (op.getSinks())
    results.push_back(
        castTo(rw, op.getLoc(), agg->sinks, op.getGradSinks().getType()));
  results.append(dCaptures);
  return results;
}

void mlir::attn::populateDecomposeGradPatterns(RewritePatternSet &patterns) {
  patterns.add<DecomposeAttentionGrad>(patterns.getContext());
}
