//===- GradRules.cpp - graph-level derivative rules -----------------------===//
//
// Each rule is the textbook vector-Jacobian product of one graph op, written
// with linalg.generic on f32 tensors; the score matrix is materialised, so
// these are the naive backward (the forms lower attn.attention_grad without
// it).
//
//===----------------------------------------------------------------------===//
#include "attn/Transforms/GradRules.h"
#include "attn/Transforms/RegionAdjoint.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

SmallVector<OpFoldResult> shapeOf(GenericBuilder &g, Value t) {
  SmallVector<OpFoldResult> shape;
  for (int64_t d = 0, e = cast<ShapedType>(t.getType()).getRank(); d < e; ++d)
    shape.push_back(g.size(t, d));
  return shape;
}

Value isNegInf(OpBuilder &b, Location loc, Value x) {
  Value ninf = arith::ConstantOp::create(
      b, loc,
      b.getFloatAttr(x.getType(), -std::numeric_limits<double>::infinity()));
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x, ninf);
}

/// An f32 tensor converted to `type` (element type and static shape).
Value convertTo(GenericBuilder &g, Value x, Type type) {
  Type elt = cast<ShapedType>(type).getElementType();
  if (elt != g.b.getF32Type())
    x = elementwise(g, {x}, elt, [&](OpBuilder &b, Location loc, ValueRange a) {
      return fromF32(b, loc, a[0], elt);
    });
  return castTo(g.b, g.loc, x, type);
}

/// [B, Hq, X, Y] viewed as [B, Hq / group, group, X, Y].
Value splitHeads(GenericBuilder &g, Value t, int64_t group) {
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<int64_t> shape = {type.getDimSize(0), type.getDimSize(1) / group,
                                group, type.getDimSize(2), type.getDimSize(3)};
  SmallVector<OpFoldResult> sizes = {g.size(t, 0), g.b.getIndexAttr(shape[1]),
                                     g.b.getIndexAttr(group), g.size(t, 2),
                                     g.size(t, 3)};
  SmallVector<ReassociationIndices> groups = {{0}, {1, 2}, {3}, {4}};
  return tensor::ExpandShapeOp::create(
      g.b, g.loc, RankedTensorType::get(shape, type.getElementType()), t,
      groups, sizes);
}

/// out[b, hk, j, e] = scale Σ_{r < group, i} w[b, hk·group + r, i, j] ·
/// x[b, hk·group + r, i, e]: the transposed product summed over the query
/// heads of each K/V head (dK and dV).
Value groupedTransposedProduct(GenericBuilder &g, Value w, Value x, Value like,
                               int64_t group, double scale) {
  w = splitHeads(g, w, group);
  x = splitHeads(g, x, group);
  AffineMap wMap = g.pick(6, {0, 1, 4, 5, 2});
  AffineMap xMap = g.pick(6, {0, 1, 4, 5, 3});
  Value init = g.filled(shapeOf(g, like), g.b.getF32Type(), g.f32(0.0));
  Value sum = g.generic({w, x}, {wMap, xMap}, init, g.pick(6, {0, 1, 2, 3}),
                        {kPar, kPar, kPar, kPar, kRed, kRed},
                        [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                          Value p = arith::MulFOp::create(
                              b, loc, toF32(b, loc, a[0]), toF32(b, loc, a[1]));
                          return arith::AddFOp::create(b, loc, a[2], p);
                        });
  if (scale != 1.0) {
    Value s = g.f32(scale);
    sum = elementwise(g, {sum}, g.b.getF32Type(),
                      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
                        return arith::MulFOp::create(b, loc, a[0], s);
                      });
  }
  return convertTo(g, sum, like.getType());
}

/// The row statistic Σ_e dO ∘ O − dlse (softmax's Δ).
Value softmaxDelta(GenericBuilder &g, Value output, Value gradOutput,
                   Value gradLse) {
  Type f32 = g.b.getF32Type();
  Value delta = g.generic(
      {gradOutput, output}, {g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2, 3})},
      g.filled(rowShape(g, output), f32, g.f32(0.0)), g.pick(4, {0, 1, 2}),
      {kPar, kPar, kPar, kRed},
      [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value p = arith::MulFOp::create(b, loc, toF32(b, loc, a[0]),
                                        toF32(b, loc, a[1]));
        return arith::AddFOp::create(b, loc, a[2], p);
      });
  if (!gradLse)
    return delta;
  return elementwise(g, {delta, gradLse}, f32,
                     [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                       return arith::SubFOp::create(b, loc, a[0], a[1]);
                     });
}

/// d(sink_h) = −Σ_{b,i} exp(sink_h − lse) Δ (rows with lse = −inf give 0).
Value sinksVJP(GenericBuilder &g, Value sinks, Value lse, Value delta) {
  AffineMap row = g.map(3, {g.d(1), g.d(0), g.d(2)});
  return g.generic(
      {sinks, lse, delta}, {g.pick(3, {0}), row, row},
      g.filled(shapeOf(g, sinks), g.b.getF32Type(), g.f32(0.0)), g.pick(3, {0}),
      {kPar, kRed, kRed},
      [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value w = math::ExpOp::create(
            b, loc, arith::SubFOp::create(b, loc, a[0], a[1]));
        Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
        w = arith::SelectOp::create(b, loc, isNegInf(b, loc, a[1]), zero, w);
        Value c = arith::MulFOp::create(b, loc, w, a[2]);
        return arith::SubFOp::create(b, loc, a[3], c);
      });
}

/// Weights of `kind` applied to masked scores (softmax from the saved lse).
Value aggregateWeights(GenericBuilder &g, AggregationKind kind, Value scores,
                       Value lse) {
  Type f32 = g.b.getF32Type();
  if (kind == AggregationKind::softmax)
    return g.generic(
        {scores, lse}, {g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2})},
        g.empty(shapeOf(g, scores), f32), g.pick(4, {0, 1, 2, 3}),
        {kPar, kPar, kPar, kPar},
        [](OpBuilder &b, Location loc, ValueRange a) -> Value {
          Value p = math::ExpOp::create(
              b, loc, arith::SubFOp::create(b, loc, a[0], a[1]));
          Value zero =
              arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
          return arith::SelectOp::create(b, loc, isNegInf(b, loc, a[1]), zero,
                                         p);
        });
  return elementwise(
      g, {scores}, f32, [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
        Value w = a[0];
        if (kind == AggregationKind::sigmoid) {
          Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0));
          Value e =
              math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, a[0]));
          w = arith::DivFOp::create(b, loc, one,
                                    arith::AddFOp::create(b, loc, one, e));
        }
        return arith::SelectOp::create(b, loc, isNegInf(b, loc, a[0]), zero, w);
      });
}

/// dS of α-entmax from its weights P and their cotangent dP: with
/// g = P^(2-α) on the support (0 elsewhere),
/// dS = g ∘ (dP − Σ_j g dP / Σ_j g); a fully masked row gets 0.
Value entmaxScoresVJP(GenericBuilder &g, Value weights, Value dWeights,
                      double alpha) {
  Type f32 = g.b.getF32Type();
  AffineMap all = g.pick(4, {0, 1, 2, 3}), row = g.pick(4, {0, 1, 2});
  Value curvature = elementwise(
      g, {weights}, f32,
      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
        Value support = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                              a[0], zero);
        Value power;
        if (alpha == 2.0)
          power = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0));
        else if (alpha == 1.5)
          power = math::SqrtOp::create(b, loc, a[0]);
        else
          power = math::PowFOp::create(
              b, loc, a[0],
              arith::ConstantOp::create(b, loc, b.getF32FloatAttr(2 - alpha)));
        return arith::SelectOp::create(b, loc, support, power, zero);
      });
  auto rowSum = [&](ValueRange xs) {
    SmallVector<AffineMap> maps(xs.size(), all);
    return g.generic(xs, maps, g.filled(rowShape(g, weights), f32, g.f32(0.0)),
                     row, {kPar, kPar, kPar, kRed},
                     [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
                       Value x = a[0];
                       if (a.size() == 3)
                         x = arith::MulFOp::create(b, loc, a[0], a[1]);
                       return arith::AddFOp::create(b, loc, a.back(), x);
                     });
  };
  Value num = rowSum({curvature, dWeights}), den = rowSum({curvature});
  return g.generic(
      {curvature, dWeights, num, den}, {all, all, row, row},
      g.empty(shapeOf(g, weights), f32), all, {kPar, kPar, kPar, kPar},
      [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value mean = safeDivide(b, loc, a[2], a[3]);
        return arith::MulFOp::create(b, loc, a[0],
                                     arith::SubFOp::create(b, loc, a[1], mean));
      });
}

/// dS from the weights' cotangent dP for a pointwise kind.
Value pointwiseScoresVJP(GenericBuilder &g, AggregationKind kind, Value scores,
                         Value weights, Value dWeights) {
  return elementwise(
      g, {scores, weights, dWeights}, g.b.getF32Type(),
      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
        Value d = a[2];
        if (kind == AggregationKind::sigmoid) {
          Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0));
          Value slope = arith::MulFOp::create(
              b, loc, a[1], arith::SubFOp::create(b, loc, one, a[1]));
          d = arith::MulFOp::create(b, loc, d, slope);
        }
        return arith::SelectOp::create(b, loc, isNegInf(b, loc, a[0]), zero, d);
      });
}

} // namespace

FailureOr<ScoreGrads> mlir::attn::scoreVJP(GenericBuilder &g, Value query,
                                           Value key, double scale,
                                           Value dScores) {
  FailureOr<int64_t> group = groupSize(query, 1, key, 1);
  if (failed(group))
    return failure();
  Value dq = weightedSum(g, dScores, key, *group);
  Value s = g.f32(scale);
  dq = elementwise(g, {dq}, g.b.getF32Type(),
                   [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
                     return arith::MulFOp::create(b, loc, a[0], s);
                   });
  Value dk = groupedTransposedProduct(g, dScores, query, key, *group, scale);
  return ScoreGrads{convertTo(g, dq, query.getType()), dk};
}

Value mlir::attn::maskVJP(GenericBuilder &g, Value masked, Value grad) {
  return elementwise(
      g, {masked, grad}, g.b.getF32Type(),
      [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
        return arith::SelectOp::create(b, loc, isNegInf(b, loc, a[0]), zero,
                                       a[1]);
      });
}

SmallVector<Value> mlir::attn::capturedFloatTensors(Region &region) {
  llvm::SetVector<Value> captured;
  region.walk([&](tensor::ExtractOp e) {
    Value t = e.getTensor();
    if (isa<FloatType>(e.getType()) && !region.isAncestor(t.getParentRegion()))
      captured.insert(t);
  });
  return captured.takeVector();
}

FailureOr<ScoreModGrads> mlir::attn::scoreModVJP(GenericBuilder &g,
                                                 Region &body, Value scores,
                                                 Value grad,
                                                 ValueRange captures) {
  if (failed(checkBlockDifferentiable(body.front())))
    return failure();
  Type f32 = g.b.getF32Type();
  SmallVector<Value> inits = {g.empty(shapeOf(g, scores), f32)};
  for (Value c : captures)
    inits.push_back(g.filled(shapeOf(g, c), f32, g.f32(0.0)));
  SmallVector<Value> lbs(4, g.index(0)), steps(4, g.index(1)), ubs;
  for (int64_t d = 0; d < 4; ++d)
    ubs.push_back(g.sizeValue(scores, d));
  bool ok = true;
  scf::LoopNest nest = scf::buildLoopNest(
      g.b, g.loc, lbs, ubs, steps, inits,
      [&](OpBuilder &b, Location loc, ValueRange ivs,
          ValueRange acc) -> scf::ValueVector {
        SmallVector<Value> carried(acc);
        Value s = tensor::ExtractOp::create(b, loc, scores, ivs);
        Value dy = tensor::ExtractOp::create(b, loc, grad, ivs);
        SmallVector<Value> args = {s};
        args.append(ivs.begin(), ivs.end());
        auto onExtract = [&](Value tensor, ValueRange at, Value adj) {
          auto it = llvm::find(captures, tensor);
          if (it == captures.end())
            return;
          Value &slot = carried[1 + (it - captures.begin())];
          Value cur = tensor::ExtractOp::create(b, loc, slot, at);
          Value sum = arith::AddFOp::create(b, loc, cur, toF32(b, loc, adj));
          slot = tensor::InsertOp::create(b, loc, sum, slot, at);
        };
        FailureOr<SmallVector<Value>> adj =
            emitBlockAdjoint(b, loc, body.front(), args, {dy}, onExtract);
        if (failed(adj)) {
          ok = false;
          return carried;
        }
        carried[0] =
            tensor::InsertOp::create(b, loc, (*adj)[1], carried[0], ivs);
        return carried;
      });
  if (!ok)
    return failure();
  ScoreModGrads grads{nest.results[0], {}};
  for (auto [c, d] : llvm::zip(captures, ArrayRef(nest.results).drop_front()))
    grads.captures.push_back(convertTo(g, d, c.getType()));
  return grads;
}

FailureOr<AggregateGrads>
mlir::attn::aggregateVJP(GenericBuilder &g, AggregationKind kind, Value scores,
                         Value value, Value output, Value lse, Value sinks,
                         Value gradOutput, Value gradLse, double alpha) {
  FailureOr<int64_t> group = groupSize(scores, 1, value, 1);
  if (failed(group) || (kind == AggregationKind::softmax && !lse))
    return failure();
  // entmax's weights are recomputed: the forward keeps no statistics.
  Value weights = kind == AggregationKind::entmax
                      ? entmaxWeights(g, scores, alpha)
                      : aggregateWeights(g, kind, scores, lse);
  Value dWeights = batchedDot(g, gradOutput, value, *group);
  AggregateGrads grads;
  grads.value =
      groupedTransposedProduct(g, weights, gradOutput, value, *group, 1.0);
  if (kind == AggregationKind::entmax) {
    grads.scores = entmaxScoresVJP(g, weights, dWeights, alpha);
    return grads;
  }
  if (kind != AggregationKind::softmax) {
    grads.scores = pointwiseScoresVJP(g, kind, scores, weights, dWeights);
    return grads;
  }
  Value delta = softmaxDelta(g, output, gradOutput, gradLse);
  grads.scores = g.generic(
      {weights, dWeights, delta},
      {g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2})},
      g.empty(shapeOf(g, scores), g.b.getF32Type()), g.pick(4, {0, 1, 2, 3}),
      {kPar, kPar, kPar, kPar},
      [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value d = arith::SubFOp::create(b, loc, a[1], a[2]);
        return arith::MulFOp::create(b, loc, a[0], d);
      });
  if (sinks)
    grads.sinks = sinksVJP(g, sinks, lse, delta);
  return grads;
}

Value mlir::attn::normalizeVJP(GenericBuilder &g, AggregationKind kind,
                               Value scores, Value weights, Value grad,
                               double alpha) {
  if (kind == AggregationKind::entmax)
    return entmaxScoresVJP(g, weights, grad, alpha);
  if (kind != AggregationKind::softmax)
    return pointwiseScoresVJP(g, kind, scores, weights, grad);
  // dS = P ∘ (dP − Σ_j P dP).
  Value dot = g.generic(
      {weights, grad}, {g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2, 3})},
      g.filled(rowShape(g, weights), g.b.getF32Type(), g.f32(0.0)),
      g.pick(4, {0, 1, 2}), {kPar, kPar, kPar, kRed},
      [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value p = arith::MulFOp::create(b, loc, a[0], a[1]);
        return arith::AddFOp::create(b, loc, a[2], p);
      });
  return g.generic(
      {weights, grad, dot},
      {g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2})},
      g.empty(shapeOf(g, weights), g.b.getF32Type()), g.pick(4, {0, 1, 2, 3}),
      {kPar, kPar, kPar, kPar},
      [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value d = arith::SubFOp::create(b, loc, a[1], a[2]);
        return arith::MulFOp::create(b, loc, a[0], d);
      });
}

SmallVector<Value> mlir::attn::mergeVJP(GenericBuilder &g, ValueRange partials,
                                        Value output, Value lse,
                                        Value gradOutput, Value gradLse) {
  Type f32 = g.b.getF32Type();
  AffineMap full = g.pick(4, {0, 1, 2, 3}), row = g.pick(4, {0, 1, 2});
  SmallVector<Value> grads;
  for (unsigned p = 0; p + 1 < partials.size(); p += 2) {
    Value o = partials[p], l = partials[p + 1];
    // w = exp(l_p − L), 0 where l_p = −inf.
    Value w = elementwise(
        g, {l, lse}, f32,
        [](OpBuilder &b, Location loc, ValueRange a) -> Value {
          Value e = math::ExpOp::create(
              b, loc, arith::SubFOp::create(b, loc, a[0], a[1]));
          Value zero =
              arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
          return arith::SelectOp::create(b, loc, isNegInf(b, loc, a[0]), zero,
                                         e);
        });
    Type oElt = cast<ShapedType>(o.getType()).getElementType();
    Value dO = g.generic(
        {gradOutput, w}, {full, row}, g.empty(shapeOf(g, o), oElt), full,
        {kPar, kPar, kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange a) {
          Value v = arith::MulFOp::create(b, loc, toF32(b, loc, a[0]), a[1]);
          return fromF32(b, loc, v, oElt);
        });
    // dl_p = w (Σ_e dO (O_p − O) + dL).
    Value dot = g.generic(
        {gradOutput, o, output}, {full, full, full},
        g.filled(rowShape(g, o), f32, g.f32(0.0)), row,
        {kPar, kPar, kPar, kRed},
        [](OpBuilder &b, Location loc, ValueRange a) -> Value {
          Value diff = arith::SubFOp::create(b, loc, toF32(b, loc, a[1]),
                                             toF32(b, loc, a[2]));
          Value t = arith::MulFOp::create(b, loc, toF32(b, loc, a[0]), diff);
          return arith::AddFOp::create(b, loc, a[3], t);
        });
    SmallVector<Value> ins = {w, dot};
    if (gradLse)
      ins.push_back(gradLse);
    Value dl =
        elementwise(g, ins, f32, [](OpBuilder &b, Location loc, ValueRange a) {
          Value s = a.size() > 2
                        ? arith::AddFOp::create(b, loc, a[1], a[2]).getResult()
                        : a[1];
          return arith::MulFOp::create(b, loc, a[0], s).getResult();
        });
    grads.push_back(castTo(g.b, g.loc, dO, o.getType()));
    grads.push_back(castTo(g.b, g.loc, dl, l.getType()));
  }
  return grads;
}

namespace {

/// dφ/dx · dy for the elementwise feature maps, from x and y = φ(x).
Value elementwiseFeatureVJP(OpBuilder &b, Location loc, FeatureMapKind kind,
                            Value x, Value y, Value dy) {
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0));
  Value positive =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
  switch (kind) {
  case FeatureMapKind::elu_plus_one:
    return arith::SelectOp::create(b, loc, positive, dy,
                                   arith::MulFOp::create(b, loc, dy, y));
  case FeatureMapKind::relu:
    return arith::SelectOp::create(b, loc, positive, dy, zero);
  case FeatureMapKind::exp:
    return arith::MulFOp::create(b, loc, dy, y);
  case FeatureMapKind::sigmoid:
    return arith::MulFOp::create(
        b, loc, dy,
        arith::MulFOp::create(b, loc, y,
                              arith::SubFOp::create(b, loc, one, y)));
  default:
    return dy;
  }
}

/// taylor2: dx_a = dy[1 + a] + Σ_c (dy[1+D+aD+c] + dy[1+D+cD+a]) x_c / √2.
Value taylor2VJP(GenericBuilder &g, Value x, Value dy) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  int64_t d = type.getShape().back();
  SmallVector<unsigned> lead, xDims, outDims;
  for (unsigned i = 0; i + 1 < rank; ++i)
    lead.push_back(i);
  xDims = lead;
  xDims.push_back(rank); // c
  outDims = lead;
  outDims.push_back(rank - 1); // a
  SmallVector<IteratorType> iters(rank, kPar);
  iters.push_back(kRed);
  Value invSqrt2 = g.f32(1.0 / std::sqrt(2.0));
  return g.generic(
      {x}, {g.pick(rank + 1, xDims)},
      g.filled(shapeOf(g, x), g.b.getF32Type(), g.f32(0.0)),
      g.pick(rank + 1, outDims), iters,
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        SmallVector<Value> at;
        for (unsigned i : lead)
          at.push_back(linalgIndex(b, loc, i));
        Value a = linalgIndex(b, loc, rank - 1), c = linalgIndex(b, loc, rank);
        auto cst = [&](int64_t v) {
          return arith::ConstantIndexOp::create(b, loc, v);
        };
        auto read = [&](Value f) {
          SmallVector<Value> pos(at);
          pos.push_back(f);
          return toF32(b, loc, tensor::ExtractOp::create(b, loc, dy, pos));
        };
        auto quadIndex = [&](Value r, Value s) {
          return arith::AddIOp::create(
              b, loc, cst(1 + d),
              arith::AddIOp::create(
                  b, loc, arith::MulIOp::create(b, loc, r, cst(d)), s));
        };
        Value pair = arith::AddFOp::create(b, loc, read(quadIndex(a, c)),
                                           read(quadIndex(c, a)));
        Value t = arith::MulFOp::create(
            b, loc, arith::MulFOp::create(b, loc, pair, invSqrt2),
            toF32(b, loc, args[0]));
        Value first =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, c, cst(0));
        Value linear = read(arith::AddIOp::create(b, loc, a, cst(1)));
        Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
        t = arith::AddFOp::create(
            b, loc, t, arith::SelectOp::create(b, loc, first, linear, zero));
        return arith::AddFOp::create(b, loc, args[1], t);
      });
}

/// random_features, y_f = exp(x·W_f − |x|²/2)/√F: with t = dy ∘ y,
/// dx_d = Σ_f t_f W_df − x_d Σ_f t_f and dW_df = Σ_lead x_d t_f.
FeatureMapGrads randomFeaturesVJP(GenericBuilder &g, Value x, Value w, Value y,
                                  Value dy) {
  Type f32 = g.b.getF32Type();
  unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
  Value t = elementwise(g, {dy, y}, f32,
                        [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                          return arith::MulFOp::create(
                              b, loc, toF32(b, loc, a[0]), toF32(b, loc, a[1]));
                        });
  // Dims: lead..., d (rank − 1), f (rank).
  SmallVector<unsigned> lead, xDims, tDims;
  for (unsigned i = 0; i + 1 < rank; ++i)
    lead.push_back(i);
  xDims = lead;
  xDims.push_back(rank - 1);
  tDims = lead;
  tDims.push_back(rank);
  SmallVector<IteratorType> iters(rank, kPar);
  iters.push_back(kRed);
  unsigned n = rank + 1;
  Value dx = g.generic(
      {x, w, t},
      {g.pick(n, xDims), g.pick(n, {rank - 1, rank}), g.pick(n, tDims)},
      g.filled(shapeOf(g, x), f32, g.f32(0.0)), g.pick(n, xDims), iters,
      [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value diff = arith::SubFOp::create(b, loc, toF32(b, loc, a[1]),
                                           toF32(b, loc, a[0]));
        Value p = arith::MulFOp::create(b, loc, a[2], diff);
        return arith::AddFOp::create(b, loc, a[3], p);
      });
  SmallVector<IteratorType> wIters(rank - 1, kRed);
  wIters.push_back(kPar);
  wIters.push_back(kPar);
  Value dw = g.generic(
      {x, t}, {g.pick(n, xDims), g.pick(n, tDims)},
      g.filled(shapeOf(g, w), f32, g.f32(0.0)), g.pick(n, {rank - 1, rank}),
      wIters, [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value p = arith::MulFOp::create(b, loc, toF32(b, loc, a[0]), a[1]);
        return arith::AddFOp::create(b, loc, a[2], p);
      });
  return {convertTo(g, dx, x.getType()), convertTo(g, dw, w.getType())};
}

} // namespace

FeatureMapGrads mlir::attn::featureMapVJP(GenericBuilder &g,
                                          FeatureMapKind kind, Value input,
                                          Value weights, Value result,
                                          Value grad) {
  if (kind == FeatureMapKind::random_features)
    return randomFeaturesVJP(g, input, weights, result, grad);
  if (kind == FeatureMapKind::taylor2)
    return {convertTo(g, taylor2VJP(g, input, grad), input.getType()), {}};
  Value dx = elementwise(
      g, {input, result, grad}, g.b.getF32Type(),
      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        return elementwiseFeatureVJP(b, loc, kind, toF32(b, loc, a[0]),
                                     toF32(b, loc, a[1]), toF32(b, loc, a[2]));
      });
  return {convertTo(g, dx, input.getType()), {}};
}

namespace {

/// How a reduction combines its accumulator `acc` with the value `x` the
/// body computes: `acc + x`, `max(acc, x)` or `min(acc, x)`, with `x`
/// independent of `acc`.
enum class Reduction { None, Sum, Max, Min, Unsupported };

Reduction classifyReduction(linalg::GenericOp op) {
  if (op.getNumReductionLoops() == 0)
    return Reduction::None;
  Block &body = op.getRegion().front();
  BlockArgument acc = body.getArguments().back();
  Operation *combine = body.getTerminator()->getOperand(0).getDefiningOp();
  if (!combine || combine->getNumOperands() != 2)
    return Reduction::Unsupported;
  Reduction kind = llvm::TypeSwitch<Operation *, Reduction>(combine)
                       .Case<arith::AddFOp>([](auto) { return Reduction::Sum; })
                       .Case<arith::MaximumFOp, arith::MaxNumFOp>(
                           [](auto) { return Reduction::Max; })
                       .Case<arith::MinimumFOp, arith::MinNumFOp>(
                           [](auto) { return Reduction::Min; })
                       .Default([](auto) { return Reduction::Unsupported; });
  Value lhs = combine->getOperand(0), rhs = combine->getOperand(1);
  if (kind == Reduction::Unsupported || (lhs != acc && rhs != acc))
    return Reduction::Unsupported;
  SmallVector<Value> work = {lhs == acc ? rhs : lhs};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (v == acc)
      return Reduction::Unsupported;
    if (Operation *def = v.getDefiningOp(); def && def->getBlock() == &body)
      work.append(def->operand_begin(), def->operand_end());
  }
  return kind;
}

/// The accumulator value under which the body yields exactly its `x`.
Value neutralAccumulator(OpBuilder &b, Location loc, Reduction kind, Type t) {
  double inf = std::numeric_limits<double>::infinity();
  double v = kind == Reduction::Max ? -inf : kind == Reduction::Min ? inf : 0;
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(t, v));
}

} // namespace

FailureOr<SmallVector<Value>> mlir::attn::genericVJP(GenericBuilder &g,
                                                     linalg::GenericOp op,
                                                     ValueRange gradResults) {
  if (op.getNumDpsInits() != 1)
    return op.emitOpError("has no derivative rule: attn-grad differentiates "
                          "linalg.generic ops with one result");
  Reduction reduction = classifyReduction(op);
  bool reduces = reduction != Reduction::None;
  bool extremum = reduction == Reduction::Max || reduction == Reduction::Min;
  if (reduction == Reduction::Unsupported)
    return op.emitOpError("has no derivative rule: a reduction that is not a "
                          "sum, maximum or minimum of its accumulator");
  WalkResult reads = op.getRegion().walk([](tensor::ExtractOp e) {
    return isa<FloatType>(e.getType()) ? WalkResult::interrupt()
                                       : WalkResult::advance();
  });
  if (reads.wasInterrupted())
    return op.emitOpError("has no derivative rule: its body reads a float "
                          "tensor with tensor.extract");
  Value dOut = gradResults[0];
  Value init = op.getDpsInitOperand(0)->get();
  AffineMap outMap = op.getIndexingMapMatchingResult(op->getResult(0));
  SmallVector<Value> ins(op.getDpsInputs());
  SmallVector<AffineMap> maps;
  for (OpOperand *in : op.getDpsInputOperands())
    maps.push_back(op.getMatchingIndexingMap(in));
  Value result = op->getResult(0);
  ins.append({init, dOut, result});
  maps.append({outMap, outMap, outMap});
  Block &body = op.getRegion().front();
  unsigned numDims = op.getNumLoops();
  SmallVector<Value> grads;
  // Operand k: the inputs, then the init (its element feeds the body only
  // in a parallel op; a sum passes dOut to it unchanged).
  for (unsigned k = 0; k <= op.getNumDpsInputs(); ++k) {
    Value operand = op->getOperand(k);
    if (!isa<RankedTensorType>(operand.getType()) ||
        !isa<FloatType>(getElementTypeOrSelf(operand.getType()))) {
      grads.push_back(Value());
      continue;
    }
    if (k == op.getNumDpsInputs() && reduces) {
      // A sum passes dOut to its init; an extremum to an init equal to it.
      grads.push_back(
          !extremum
              ? dOut
              : convertTo(
                    g,
                    elementwise(
                        g, {init, result, dOut}, g.b.getF32Type(),
                        [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                          Value same = arith::CmpFOp::create(
                              b, loc, arith::CmpFPredicate::OEQ, a[0], a[1]);
                          Value zero = arith::ConstantOp::create(
                              b, loc, b.getF32FloatAttr(0.0));
                          return arith::SelectOp::create(
                              b, loc, same, toF32(b, loc, a[2]), zero);
                        }),
                    init.getType()));
      continue;
    }
    AffineMap map = maps[k];
    if (!map.isProjectedPermutation())
      return op.emitOpError("has no derivative rule: operand #")
             << k << " is read through a map that is not a projected "
             << "permutation";
    SmallVector<IteratorType> iters(numDims, kRed);
    for (AffineExpr e : map.getResults())
      iters[cast<AffineDimExpr>(e).getPosition()] = kPar;
    SmallVector<AffineMap> allMaps(maps);
    bool failedAdjoint = false;
    Value grad = g.generic(
        ins, allMaps,
        g.filled(shapeOf(g, operand), g.b.getF32Type(), g.f32(0.0)), map, iters,
        [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
          SmallVector<Value> args(a.take_front(op.getNumDpsInputs()));
          Value accInit = a[op.getNumDpsInputs()];
          if (reduces)
            accInit = neutralAccumulator(b, loc, reduction, accInit.getType());
          args.push_back(accInit);
          Value seed = a[op.getNumDpsInputs() + 1];
          FailureOr<SmallVector<Value>> adj =
              emitBlockAdjoint(b, loc, body, args, {seed}, nullptr);
          if (failed(adj)) {
            failedAdjoint = true;
            return a.back();
          }
          Value d = toF32(b, loc, (*adj)[1 + k]);
          if (extremum) {
            // Only the elements equal to the extremum receive dOut.
            Value same =
                arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                      (*adj)[0], a[ins.size() - 1]);
            Value zero =
                arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
            d = arith::SelectOp::create(b, loc, same, d, zero);
          }
          return arith::AddFOp::create(b, loc, a.back(), d);
        });
    if (failedAdjoint)
      return failure();
    grads.push_back(convertTo(g, grad, operand.getType()));
  }
  return grads;
}

FailureOr<SmallVector<Value>>
mlir::attn::tensorOpVJP(GenericBuilder &g, Operation *op, Value grad) {
  OpBuilder &b = g.b;
  Location loc = g.loc;
  auto zerosLike = [&](Value v) {
    Type elt = cast<ShapedType>(v.getType()).getElementType();
    Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(elt, 0.0));
    return castTo(b, loc, g.filled(shapeOf(g, v), elt, zero), v.getType());
  };
  SmallVector<Value> grads(op->getNumOperands(), Value());
  return llvm::TypeSwitch<Operation *, FailureOr<SmallVector<Value>>>(op)
      .Case<tensor::ExpandShapeOp>([&](tensor::ExpandShapeOp e) {
        grads[0] = tensor::CollapseShapeOp::create(b, loc, e.getSrcType(), grad,
                                                   e.getReassociationIndices());
        return grads;
      })
      .Case<tensor::CollapseShapeOp>([&](tensor::CollapseShapeOp c) {
        grads[0] = tensor::ExpandShapeOp::create(b, loc, c.getSrcType(), grad,
                                                 c.getReassociationIndices(),
                                                 shapeOf(g, c.getSrc()));
        return grads;
      })
      .Case<tensor::ExtractSliceOp>([&](tensor::ExtractSliceOp s) {
        grads[0] = tensor::InsertSliceOp::create(
            b, loc, grad, zerosLike(s.getSource()), s.getMixedOffsets(),
            s.getMixedSizes(), s.getMixedStrides());
        return grads;
      })
      .Case<tensor::InsertSliceOp>([&](tensor::InsertSliceOp s) {
        grads[0] = tensor::ExtractSliceOp::create(
            b, loc, cast<RankedTensorType>(s.getSourceType()), grad,
            s.getMixedOffsets(), s.getMixedSizes(), s.getMixedStrides());
        grads[1] = tensor::InsertSliceOp::create(
            b, loc, zerosLike(s.getSource()), grad, s.getMixedOffsets(),
            s.getMixedSizes(), s.getMixedStrides());
        return grads;
      })
      .Case<tensor::CastOp>([&](tensor::CastOp c) {
        grads[0] = castTo(b, loc, grad, c.getSource().getType());
        return grads;
      })
      .Default([](Operation *) { return failure(); });
}
