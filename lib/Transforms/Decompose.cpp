//===- Decompose.cpp - naive lowering of attn ops to linalg ---------------===//
//
// Every attn op becomes linalg.generic ops on tensors (plus tensor/arith/math
// and, inside generic bodies, scf loops for the data-dependent patterns).
// The full score matrix is materialised: this is the slow, obviously-correct
// baseline the tiled/sparse/linear forms are measured against. Statistics and
// accumulators are f32 throughout, as the semantics (docs/language.md) require.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Decompose.h"
#include "attn/IR/AttnOps.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Transforms/DecomposeGrad.h"
#include "attn/Transforms/Fuse.h"
#include "attn/Transforms/GenericBuilder.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNDECOMPOSE
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Softmax statistics of masked scores: the safe row maximum (0 for a fully
/// masked row, so exp never sees -inf - -inf) and the row sum of exp(s - m),
/// both including the optional per-head sink logit.
struct SoftmaxStats {
  Value weights; // exp(s - m)
  Value rowMax;  // safe maximum
  Value rowSum;  // Σ weights (+ exp(sink - m))
};

SoftmaxStats softmaxStats(GenericBuilder &g, Value s, Value sinks) {
  Type f32 = g.b.getF32Type();
  Value ninf = g.negInf();
  Value zero = g.f32(0.0);
  Value m = reduceRows(g, s, g.filled(rowShape(g, s), f32, ninf),
                       [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                         return arith::MaximumFOp::create(b, loc, a[0], a[1]);
                       });
  auto makeSafe = [&](OpBuilder &b, Location loc, Value mx) -> Value {
    Value isInf =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mx, ninf);
    return arith::SelectOp::create(b, loc, isInf, zero, mx);
  };
  AffineMap row = g.pick(3, {0, 1, 2});
  if (sinks) {
    m = g.generic({m, sinks}, {row, g.pick(3, {1})},
                  g.empty(rowShape(g, s), f32), row, {kPar, kPar, kPar},
                  [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
                    Value mx = arith::MaximumFOp::create(b, loc, a[0], a[1]);
                    return makeSafe(b, loc, mx);
                  });
  } else {
    m = elementwise(g, {m}, f32, [&](OpBuilder &b, Location loc, ValueRange a) {
      return makeSafe(b, loc, a[0]);
    });
  }
  Value p = g.generic(
      {s, m}, {g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2})},
      g.empty({g.size(s, 0), g.size(s, 1), g.size(s, 2), g.size(s, 3)}, f32),
      g.pick(4, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar},
      [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value x = arith::SubFOp::create(b, loc, a[0], a[1]);
        return math::ExpOp::create(b, loc, x);
      });
  Value l = reduceRows(g, p, g.filled(rowShape(g, s), f32, zero),
                       [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                         return arith::AddFOp::create(b, loc, a[0], a[1]);
                       });
  if (sinks) {
    l = g.generic({l, m, sinks}, {row, row, g.pick(3, {1})},
                  g.empty(rowShape(g, s), f32), row, {kPar, kPar, kPar},
                  [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                    Value x = arith::SubFOp::create(b, loc, a[2], a[1]);
                    Value e = math::ExpOp::create(b, loc, x);
                    return arith::AddFOp::create(b, loc, a[0], e);
                  });
  }
  return {p, m, l};
}

/// Non-softmax weights: sigmoid(s), or s with masked (-inf) entries as 0.
Value pointwiseWeights(GenericBuilder &g, Value s, AggregationKind kind) {
  Value ninf = g.negInf(), zero = g.f32(0.0), one = g.f32(1.0);
  return elementwise(
      g, {s}, g.b.getF32Type(), [&](OpBuilder &b, Location loc, ValueRange a) {
        if (kind == AggregationKind::sigmoid) {
          Value neg = arith::NegFOp::create(b, loc, a[0]);
          Value e = math::ExpOp::create(b, loc, neg);
          Value den = arith::AddFOp::create(b, loc, one, e);
          return arith::DivFOp::create(b, loc, one, den).getResult();
        }
        Value masked = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                             a[0], ninf);
        return arith::SelectOp::create(b, loc, masked, zero, a[0]).getResult();
      });
}

//===----------------------------------------------------------------------===//
// Score family
//===----------------------------------------------------------------------===//

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, ScoreOp op) {
  FailureOr<int64_t> group = groupSize(op.getQuery(), 1, op.getKey(), 1);
  if (failed(group))
    return rw.notifyMatchFailure(op, "dynamic head counts");
  GenericBuilder g(rw, op.getLoc());
  Value dots = batchedDot(g, op.getQuery(), op.getKey(), *group);
  Value scale = g.f32(op.getEffectiveScale());
  Value s = elementwise(
      g, {dots}, rw.getF32Type(),
      [&](OpBuilder &b, Location loc, ValueRange a) {
        return arith::MulFOp::create(b, loc, a[0], scale).getResult();
      });
  return SmallVector<Value>{castTo(rw, op.getLoc(), s, op.getType())};
}

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, ScoreModOp op) {
  GenericBuilder g(rw, op.getLoc());
  Value s =
      elementwise(g, {op.getScores()}, rw.getF32Type(),
                  [&](OpBuilder &b, Location loc, ValueRange a) {
                    SmallVector<Value> args = {
                        a[0], linalgIndex(b, loc, 0), linalgIndex(b, loc, 1),
                        linalgIndex(b, loc, 2), linalgIndex(b, loc, 3)};
                    return inlineRegion(b, op.getBody(), args);
                  });
  return SmallVector<Value>{castTo(rw, op.getLoc(), s, op.getType())};
}

//===----------------------------------------------------------------------===//
// Mask family
//===----------------------------------------------------------------------===//

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, MaskOp op) {
  GenericBuilder g(rw, op.getLoc());
  Value s = op.getScores();
  Value sq = g.sizeValue(s, 2), skv = g.sizeValue(s, 3);
  Value ninf = g.negInf();
  Value masked = elementwise(
      g, {s}, rw.getF32Type(), [&](OpBuilder &b, Location loc, ValueRange a) {
        MaskPredicateBuilder pb(b, loc, sq, skv);
        pb.setIndices(linalgIndex(b, loc, 0), linalgIndex(b, loc, 1),
                      linalgIndex(b, loc, 2), linalgIndex(b, loc, 3));
        Value keep = pb.buildAll(op.getPatterns(), op.getMaskOperands(),
                                 op.getPredicate());
        return arith::SelectOp::create(b, loc, keep, a[0], ninf).getResult();
      });
  return SmallVector<Value>{castTo(rw, op.getLoc(), masked, op.getType())};
}

//===----------------------------------------------------------------------===//
// Aggregation family
//===----------------------------------------------------------------------===//

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, AggregateOp op) {
  FailureOr<int64_t> group = groupSize(op.getScores(), 1, op.getValue(), 1);
  if (failed(group))
    return rw.notifyMatchFailure(op, "dynamic head counts");
  GenericBuilder g(rw, op.getLoc());
  Value s = op.getScores(), v = op.getValue();
  Type outElt = cast<ShapedType>(op.getOutput().getType()).getElementType();
  SmallVector<Value> results;
  if (op.getKind() != AggregationKind::softmax) {
    Value w = op.getKind() == AggregationKind::entmax
                  ? entmaxWeights(g, s, op.getAlpha()->convertToDouble())
                  : pointwiseWeights(g, s, op.getKind());
    Value acc = weightedSum(g, w, v, *group);
    Value o = elementwise(g, {acc}, outElt,
                          [&](OpBuilder &b, Location loc, ValueRange a) {
                            return fromF32(b, loc, a[0], outElt);
                          });
    results.push_back(castTo(rw, op.getLoc(), o, op.getOutput().getType()));
    return results;
  }
  SoftmaxStats st = softmaxStats(g, s, op.getSinks());
  Value acc = weightedSum(g, st.weights, v, *group);
  Value o = g.generic(
      {acc, st.rowSum}, {g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2})},
      g.empty({g.size(acc, 0), g.size(acc, 1), g.size(acc, 2), g.size(acc, 3)},
              outElt),
      g.pick(4, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange a) {
        return fromF32(b, loc, safeDivide(b, loc, a[0], a[1]), outElt);
      });
  results.push_back(castTo(rw, op.getLoc(), o, op.getOutput().getType()));
  if (op.getLse()) {
    Value lse = elementwise(
        g, {st.rowMax, st.rowSum}, rw.getF32Type(),
        [](OpBuilder &b, Location loc, ValueRange a) {
          Value lg = math::LogOp::create(b, loc, a[1]);
          return arith::AddFOp::create(b, loc, a[0], lg).getResult();
        });
    results.push_back(castTo(rw, op.getLoc(), lse, op.getLse().getType()));
  }
  return results;
}

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, NormalizeOp op) {
  GenericBuilder g(rw, op.getLoc());
  Value s = op.getScores(), p;
  if (op.getKind() == AggregationKind::softmax) {
    SoftmaxStats st = softmaxStats(g, s, Value());
    p = g.generic(
        {st.weights, st.rowSum},
        {g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2})},
        g.empty({g.size(s, 0), g.size(s, 1), g.size(s, 2), g.size(s, 3)},
                rw.getF32Type()),
        g.pick(4, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar},
        [](OpBuilder &b, Location loc, ValueRange a) {
          return safeDivide(b, loc, a[0], a[1]);
        });
  } else if (op.getKind() == AggregationKind::entmax) {
    p = entmaxWeights(g, s, op.getAlpha()->convertToDouble());
  } else {
    p = pointwiseWeights(g, s, op.getKind());
  }
  return SmallVector<Value>{castTo(rw, op.getLoc(), p, op.getType())};
}

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, MergeOp op) {
  GenericBuilder g(rw, op.getLoc());
  ValueRange parts = op.getPartials();
  unsigned n = parts.size() / 2;
  SmallVector<Value> outs, lses;
  for (unsigned i = 0; i < n; ++i) {
    outs.push_back(parts[2 * i]);
    lses.push_back(parts[2 * i + 1]);
  }
  Value ninf = g.negInf(), zero = g.f32(0.0);
  // Per element: safe max of the lses, the weights exp(lse_k - m) and their
  // sum.
  auto combine = [&](OpBuilder &b, Location loc, ValueRange l,
                     SmallVectorImpl<Value> &w) -> std::pair<Value, Value> {
    Value m = l[0];
    for (Value x : l.drop_front())
      m = arith::MaximumFOp::create(b, loc, m, x);
    Value isInf =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m, ninf);
    m = arith::SelectOp::create(b, loc, isInf, zero, m);
    Value sum = zero;
    for (Value x : l) {
      Value e =
          math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, x, m));
      w.push_back(e);
      sum = arith::AddFOp::create(b, loc, sum, e);
    }
    return {m, sum};
  };
  Type outElt = cast<ShapedType>(op.getOutput().getType()).getElementType();
  Value o0 = outs.front();
  SmallVector<Value> ins(outs);
  ins.append(lses);
  SmallVector<AffineMap> maps(n, g.pick(4, {0, 1, 2, 3}));
  maps.append(n, g.pick(4, {0, 1, 2}));
  Value o = g.generic(
      ins, maps,
      g.empty({g.size(o0, 0), g.size(o0, 1), g.size(o0, 2), g.size(o0, 3)},
              outElt),
      g.pick(4, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange a) {
        SmallVector<Value> w;
        auto [m, sum] = combine(b, loc, a.slice(n, n), w);
        (void)m;
        Value acc = zero;
        for (unsigned k = 0; k < n; ++k)
          acc = arith::AddFOp::create(
              b, loc, acc,
              arith::MulFOp::create(b, loc, w[k], toF32(b, loc, a[k])));
        return fromF32(b, loc, safeDivide(b, loc, acc, sum), outElt);
      });
  Value lse = elementwise(
      g, lses, rw.getF32Type(), [&](OpBuilder &b, Location loc, ValueRange a) {
        SmallVector<Value> w;
        auto [m, sum] = combine(b, loc, a, w);
        return arith::AddFOp::create(b, loc, m,
                                     math::LogOp::create(b, loc, sum))
            .getResult();
      });
  return SmallVector<Value>{
      castTo(rw, op.getLoc(), o, op.getOutput().getType()),
      castTo(rw, op.getLoc(), lse, op.getLse().getType())};
}

//===----------------------------------------------------------------------===//
// Linear family
//===----------------------------------------------------------------------===//

/// phi(x)[f] = 1 (f = 0), x[f-1] (f <= D), x[a] x[c] / sqrt(2) otherwise,
/// with f - 1 - D = a * D + c (the taylor2 feature map).
Value taylor2Features(GenericBuilder &g, Value x, ArrayRef<OpFoldResult> lead,
                      Type outElt, Value one) {
  unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
  int64_t d = cast<RankedTensorType>(x.getType()).getShape().back();
  SmallVector<OpFoldResult> shape(lead);
  shape.push_back(g.b.getIndexAttr(1 + d + d * d));
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, g.ctx());
  SmallVector<IteratorType> iters(rank, kPar);
  Value invSqrt2 = g.f32(1.0 / std::sqrt(2.0));
  return g.generic(
      {}, {}, g.empty(shape, outElt), id, iters,
      [&](OpBuilder &b, Location loc, ValueRange) {
        SmallVector<Value> at;
        for (unsigned i = 0; i + 1 < rank; ++i)
          at.push_back(linalgIndex(b, loc, i));
        Value f = linalgIndex(b, loc, rank - 1);
        auto c = [&](int64_t v) {
          return arith::ConstantIndexOp::create(b, loc, v);
        };
        auto load = [&](Value k) {
          SmallVector<Value> pos(at);
          pos.push_back(k);
          return toF32(b, loc, tensor::ExtractOp::create(b, loc, x, pos));
        };
        Value zeroIdx = c(0), dim = c(d);
        Value linearIdx = arith::MaxSIOp::create(
            b, loc, arith::SubIOp::create(b, loc, f, c(1)), zeroIdx);
        Value lin = load(arith::MinSIOp::create(b, loc, linearIdx, c(d - 1)));
        Value t = arith::MaxSIOp::create(
            b, loc, arith::SubIOp::create(b, loc, f, c(1 + d)), zeroIdx);
        Value quad = arith::MulFOp::create(
            b, loc,
            arith::MulFOp::create(b, loc,
                                  load(arith::DivUIOp::create(b, loc, t, dim)),
                                  load(arith::RemUIOp::create(b, loc, t, dim))),
            invSqrt2);
        Value isConst =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, f, zeroIdx);
        Value isLin =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, f, dim);
        Value v = arith::SelectOp::create(b, loc, isLin, lin, quad);
        v = arith::SelectOp::create(b, loc, isConst, one, v);
        return fromF32(b, loc, v, outElt);
      });
}

/// Random features: exp(x W - |x|^2 / 2) / sqrt(F) for weights W [D, F].
Value randomFeatures(GenericBuilder &g, Value x, Value w,
                     ArrayRef<OpFoldResult> lead, Type outElt, Value zero) {
  unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
  Type f32 = g.b.getF32Type();
  int64_t numFeatures = cast<ShapedType>(w.getType()).getShape()[1];
  SmallVector<OpFoldResult> projShape(lead);
  projShape.push_back(g.b.getIndexAttr(numFeatures));
  // proj[..., f] = Σ_d x[..., d] W[d, f]; norm[...] = Σ_d x[..., d]^2.
  unsigned n = rank + 1; // lead dims, f, d
  SmallVector<unsigned> xDims, outDims;
  for (unsigned i = 0; i + 1 < rank; ++i)
    xDims.push_back(i);
  outDims = xDims;
  outDims.push_back(rank - 1);
  xDims.push_back(rank);
  SmallVector<IteratorType> iters(rank, kPar);
  iters.push_back(kRed);
  Value proj =
      g.generic({x, w}, {g.pick(n, xDims), g.pick(n, {rank, rank - 1})},
                g.filled(projShape, f32, zero), g.pick(n, outDims), iters,
                [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                  Value p = arith::MulFOp::create(b, loc, toF32(b, loc, a[0]),
                                                  toF32(b, loc, a[1]));
                  return arith::AddFOp::create(b, loc, a[2], p);
                });
  SmallVector<unsigned> normIn, normOut;
  for (unsigned i = 0; i < rank; ++i)
    normIn.push_back(i);
  normOut.assign(normIn.begin(), normIn.end() - 1);
  SmallVector<IteratorType> normIters(rank - 1, kPar);
  normIters.push_back(kRed);
  Value norm =
      g.generic({x}, {g.pick(rank, normIn)}, g.filled(lead, f32, zero),
                g.pick(rank, normOut), normIters,
                [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                  Value v = toF32(b, loc, a[0]);
                  return arith::AddFOp::create(
                      b, loc, a[1], arith::MulFOp::create(b, loc, v, v));
                });
  Value half = g.f32(0.5);
  Value invSqrtF = g.f32(1.0 / std::sqrt(static_cast<double>(numFeatures)));
  SmallVector<unsigned> all;
  for (unsigned i = 0; i < rank; ++i)
    all.push_back(i);
  SmallVector<unsigned> leadDims(all.begin(), all.end() - 1);
  return g.generic(
      {proj, norm}, {g.pick(rank, all), g.pick(rank, leadDims)},
      g.empty(projShape, outElt), g.pick(rank, all),
      SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &b, Location loc, ValueRange a) {
        Value arg = arith::SubFOp::create(
            b, loc, a[0], arith::MulFOp::create(b, loc, a[1], half));
        Value e = math::ExpOp::create(b, loc, arg);
        return fromF32(b, loc, arith::MulFOp::create(b, loc, e, invSqrtF),
                       outElt);
      });
}

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, FeatureMapOp op) {
  GenericBuilder g(rw, op.getLoc());
  Value x = op.getInput();
  auto xTy = cast<RankedTensorType>(x.getType());
  auto resTy = cast<RankedTensorType>(op.getType());
  Type outElt = resTy.getElementType();
  unsigned rank = xTy.getRank();
  Value zero = g.f32(0.0), one = g.f32(1.0);
  auto pointwise = [&](function_ref<Value(OpBuilder &, Location, Value)> fn) {
    return elementwise(
        g, {x}, outElt, [&](OpBuilder &b, Location loc, ValueRange a) {
          return fromF32(b, loc, fn(b, loc, toF32(b, loc, a[0])), outElt);
        });
  };
  SmallVector<OpFoldResult> lead;
  for (unsigned i = 0; i + 1 < rank; ++i)
    lead.push_back(g.size(x, i));
  Value result;
  switch (op.getKind()) {
  case FeatureMapKind::identity:
    result = pointwise([](OpBuilder &, Location, Value v) { return v; });
    break;
  case FeatureMapKind::elu_plus_one:
    result = pointwise([&](OpBuilder &b, Location loc, Value v) -> Value {
      Value pos =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, v, zero);
      Value plus = arith::AddFOp::create(b, loc, v, one);
      Value e = math::ExpOp::create(b, loc, v);
      return arith::SelectOp::create(b, loc, pos, plus, e);
    });
    break;
  case FeatureMapKind::relu:
    result = pointwise([&](OpBuilder &b, Location loc, Value v) -> Value {
      return arith::MaximumFOp::create(b, loc, v, zero);
    });
    break;
  case FeatureMapKind::exp:
    result = pointwise([](OpBuilder &b, Location loc, Value v) -> Value {
      return math::ExpOp::create(b, loc, v);
    });
    break;
  case FeatureMapKind::sigmoid:
    result = pointwise([&](OpBuilder &b, Location loc, Value v) -> Value {
      Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, v));
      return arith::DivFOp::create(b, loc, one,
                                   arith::AddFOp::create(b, loc, one, e));
    });
    break;
  case FeatureMapKind::taylor2:
    result = taylor2Features(g, x, lead, outElt, one);
    break;
  case FeatureMapKind::random_features:
    result = randomFeatures(g, x, op.getWeights(), lead, outElt, zero);
    break;
  }
  return SmallVector<Value>{castTo(rw, op.getLoc(), result, resTy)};
}

/// λ^e (1 without decay `lam`), e an i64-valued index.
Value decayPower(OpBuilder &b, Location loc, Value lam, Value e) {
  if (!lam)
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0));
  Value ef = arith::SIToFPOp::create(
      b, loc, b.getF32Type(),
      arith::IndexCastOp::create(b, loc, b.getI64Type(), e));
  return math::PowFOp::create(b, loc, lam, ef);
}

/// Causal weights of the linear scores `a`: a[b, h, i, j] (times λ_h^(i'-j)
/// with decay) where j <= i' = i + Skv - Sq, 0 elsewhere.
Value causalLinearWeights(GenericBuilder &g, LinearAggregateOp op, Value a) {
  Value sq = g.sizeValue(op.getQuery(), 2), skv = g.sizeValue(op.getKey(), 2);
  Value decay = op.getDecay();
  Value zero = g.f32(0.0);
  SmallVector<Value> ins = {a};
  SmallVector<AffineMap> maps = {g.pick(4, {0, 1, 2, 3})};
  if (decay) {
    ins.push_back(decay);
    maps.push_back(g.pick(4, {1}));
  }
  return g.generic(
      ins, maps,
      g.empty({g.size(a, 0), g.size(a, 1), g.size(a, 2), g.size(a, 3)},
              g.b.getF32Type()),
      g.pick(4, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value i = linalgIndex(b, loc, 2), j = linalgIndex(b, loc, 3);
        Value aligned = arith::AddIOp::create(
            b, loc, i, arith::SubIOp::create(b, loc, skv, sq));
        Value visible = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                              j, aligned);
        Value v = args[0];
        if (decay) {
          Value dist = arith::SubIOp::create(b, loc, aligned, j);
          Value distF = arith::SIToFPOp::create(
              b, loc, b.getF32Type(),
              arith::IndexCastOp::create(b, loc, b.getI64Type(), dist));
          Value factor = math::PowFOp::create(b, loc, args[1], distF);
          v = arith::MulFOp::create(b, loc, v, factor);
        }
        return arith::SelectOp::create(b, loc, visible, v, zero).getResult();
      });
}

/// num[b, h, i, e] += λ^(i'+1) Σ_f q[b, h, i, f] S0[b, h, f, e], i' >= -1:
/// what the initial state contributes.
Value addInitialState(GenericBuilder &g, LinearAggregateOp op, Value num,
                      Value sqV, Value skvV) {
  Value state = op.getState(), decay = op.getDecay();
  SmallVector<Value> ins = {op.getQuery(), state};
  SmallVector<AffineMap> maps = {g.pick(5, {0, 1, 2, 4}),
                                 g.pick(5, {0, 1, 4, 3})};
  if (decay) {
    ins.push_back(decay);
    maps.push_back(g.pick(5, {1}));
  }
  return g.generic(
      ins, maps, num, g.pick(5, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar, kRed},
      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value aligned =
            arith::AddIOp::create(b, loc, linalgIndex(b, loc, 2),
                                  arith::SubIOp::create(b, loc, skvV, sqV));
        Value e = arith::AddIOp::create(
            b, loc, aligned, arith::ConstantIndexOp::create(b, loc, 1));
        Value sees =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, e,
                                  arith::ConstantIndexOp::create(b, loc, 0));
        Value wgt = decayPower(b, loc, decay ? a[2] : Value(), e);
        Value p = arith::MulFOp::create(
            b, loc, arith::MulFOp::create(b, loc, toF32(b, loc, a[0]), a[1]),
            wgt);
        Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
        return arith::AddFOp::create(
            b, loc, a.back(), arith::SelectOp::create(b, loc, sees, p, zero));
      });
}

/// The output in its element type: num / (Σ_j w + eps) when normalized,
/// num otherwise.
Value linearOutput(GenericBuilder &g, LinearAggregateOp op, Value num,
                   Value w) {
  Type outElt = cast<ShapedType>(op.getOutput().getType()).getElementType();
  if (!op.getNormalize())
    return elementwise(g, {num}, outElt,
                       [&](OpBuilder &b, Location loc, ValueRange x) {
                         return fromF32(b, loc, x[0], outElt);
                       });
  Value den =
      reduceRows(g, w, g.filled(rowShape(g, w), g.b.getF32Type(), g.f32(0.0)),
                 [](OpBuilder &b, Location loc, ValueRange x) -> Value {
                   return arith::AddFOp::create(b, loc, x[0], x[1]);
                 });
  Value eps = g.f32(op.getEps().convertToDouble());
  return g.generic(
      {num, den}, {g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2})},
      g.empty({g.size(num, 0), g.size(num, 1), g.size(num, 2), g.size(num, 3)},
              outElt),
      g.pick(4, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange x) {
        Value d = arith::AddFOp::create(b, loc, x[1], eps);
        return fromF32(b, loc, arith::DivFOp::create(b, loc, x[0], d), outElt);
      });
}

/// next = λ^Skv S0 + Σ_j λ^(Skv-1-j) k[b, h/g, j, f] v[b, h/g, j, e].
Value nextLinearState(GenericBuilder &g, LinearAggregateOp op, int64_t group,
                      Value skvV) {
  Value state = op.getState(), decay = op.getDecay();
  SmallVector<Value> ins = {state};
  SmallVector<AffineMap> maps = {g.pick(4, {0, 1, 2, 3})};
  if (decay) {
    ins.push_back(decay);
    maps.push_back(g.pick(4, {1}));
  }
  Value scaled = g.generic(
      ins, maps,
      g.empty({g.size(state, 0), g.size(state, 1), g.size(state, 2),
               g.size(state, 3)},
              g.b.getF32Type()),
      g.pick(4, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        return arith::MulFOp::create(
            b, loc, a[0], decayPower(b, loc, decay ? a[1] : Value(), skvV));
      });
  SmallVector<Value> kvIns = {op.getKey(), op.getValue()};
  SmallVector<AffineMap> kvMaps = {
      g.map(5, {g.d(0), g.d(1).floorDiv(group), g.d(4), g.d(2)}),
      g.map(5, {g.d(0), g.d(1).floorDiv(group), g.d(4), g.d(3)})};
  if (decay) {
    kvIns.push_back(decay);
    kvMaps.push_back(g.pick(5, {1}));
  }
  return g.generic(
      kvIns, kvMaps, scaled, g.pick(5, {0, 1, 2, 3}),
      {kPar, kPar, kPar, kPar, kRed},
      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value e = arith::SubIOp::create(
            b, loc,
            arith::SubIOp::create(b, loc, skvV,
                                  arith::ConstantIndexOp::create(b, loc, 1)),
            linalgIndex(b, loc, 4));
        Value p = arith::MulFOp::create(
            b, loc,
            arith::MulFOp::create(b, loc, toF32(b, loc, a[0]),
                                  toF32(b, loc, a[1])),
            decayPower(b, loc, decay ? a[2] : Value(), e));
        return arith::AddFOp::create(b, loc, a.back(), p);
      });
}

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw,
                                        LinearAggregateOp op) {
  FailureOr<int64_t> group = groupSize(op.getQuery(), 1, op.getKey(), 1);
  if (failed(group))
    return rw.notifyMatchFailure(op, "dynamic head counts");
  GenericBuilder g(rw, op.getLoc());
  Value a = batchedDot(g, op.getQuery(), op.getKey(), *group);
  Value w = op.getCausal() ? causalLinearWeights(g, op, a) : a;
  Value num = weightedSum(g, w, op.getValue(), *group);
  Value sqV = g.sizeValue(op.getQuery(), 2), skvV = g.sizeValue(op.getKey(), 2);
  if (op.getState())
    num = addInitialState(g, op, num, sqV, skvV);
  Value out = linearOutput(g, op, num, w);
  SmallVector<Value> results = {
      castTo(rw, op.getLoc(), out, op.getOutput().getType())};
  if (op.getState())
    results.push_back(
        castTo(rw, op.getLoc(), nextLinearState(g, op, *group, skvV),
               cast<RankedTensorType>(op.getFinalState().getType())));
  return results;
}

//===----------------------------------------------------------------------===//
// Linear aggregate gradient
//===----------------------------------------------------------------------===//
//
// With A = w ∘ (φq φkᵀ) (w the causal decay weights, or 1), Num = A V and
// Den = Σ_j A: dNum = r dO with r = 1/(Den + eps), dDen = c = −r (dO · O)
// (with `normalize`; r = 1 and c = 0 without), so dA = dNum Vᵀ + c and
// dq = (w ∘ dA) φk, dk = (w ∘ dA)ᵀ φq, dv = Aᵀ dNum, dλ = Σ ∂w/∂λ ∘ a ∘ dA.

/// p − j = i + (Skv − Sq) − j for the loop dimensions i = `iDim`, j = `jDim`.
Value alignedDistance(OpBuilder &b, Location loc, Value sq, Value skv,
                      unsigned iDim, unsigned jDim) {
  Value aligned = arith::AddIOp::create(b, loc, linalgIndex(b, loc, iDim),
                                        arith::SubIOp::create(b, loc, skv, sq));
  return arith::SubIOp::create(b, loc, aligned, linalgIndex(b, loc, jDim));
}

SmallVector<OpFoldResult> shape4(GenericBuilder &g, Value x) {
  return {g.size(x, 0), g.size(x, 1), g.size(x, 2), g.size(x, 3)};
}

/// w[b, h, i, j] = λ_h^(p−j) where j <= p, 0 elsewhere (λ = 1 without
/// decay), shaped like the scores `a`. λ is never raised to a negative power.
Value causalDecayWeights(GenericBuilder &g, Value a, Value sq, Value skv,
                         Value decay) {
  SmallVector<Value> ins;
  SmallVector<AffineMap> maps;
  if (decay) {
    ins.push_back(decay);
    maps.push_back(g.pick(4, {1}));
  }
  Value zero = g.f32(0.0);
  return g.generic(ins, maps, g.empty(shape4(g, a), g.b.getF32Type()),
                   g.pick(4, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar},
                   [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
                     Value dist = alignedDistance(b, loc, sq, skv, 2, 3);
                     Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
                     Value visible = arith::CmpIOp::create(
                         b, loc, arith::CmpIPredicate::sge, dist, c0);
                     Value e = arith::MaxSIOp::create(b, loc, dist, c0);
                     Value wgt =
                         decayPower(b, loc, decay ? args[0] : Value(), e);
                     return arith::SelectOp::create(b, loc, visible, wgt, zero);
                   });
}

/// x ∘ y for two f32 tensors of rank 4 and equal shape.
Value multiply(GenericBuilder &g, Value x, Value y) {
  return elementwise(g, {x, y}, g.b.getF32Type(),
                     [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                       return arith::MulFOp::create(b, loc, a[0], a[1]);
                     });
}

/// x[b, h, i, j] + row[b, h, i].
Value addRowTerm(GenericBuilder &g, Value x, Value row) {
  return g.generic({x, row}, {g.pick(4, {0, 1, 2, 3}), g.pick(4, {0, 1, 2})},
                   g.empty(shape4(g, x), g.b.getF32Type()),
                   g.pick(4, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar},
                   [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                     return arith::AddFOp::create(b, loc, a[0], a[1]);
                   });
}

/// The cotangent of the numerator, dNum = r dO (f32), and with `normalize`
/// the cotangent of the denominator c = −r (dO · O) per row, where
/// r = 1/(Σ_j A + eps), or 0 where that sum is 0 (a row without keys at
/// eps = 0 then contributes nothing instead of NaN).
std::pair<Value, Value>
numeratorCotangents(GenericBuilder &g, LinearAggregateGradOp op, Value scores) {
  Type f32 = g.b.getF32Type();
  Value dOut = op.getGradOutput(), out = op.getOutput();
  AffineMap all = g.pick(4, {0, 1, 2, 3}), row = g.pick(4, {0, 1, 2});
  if (!op.getNormalize())
    return {elementwise(g, {dOut}, f32,
                        [](OpBuilder &b, Location loc, ValueRange a) {
                          return toF32(b, loc, a[0]);
                        }),
            Value()};
  Value zero = g.f32(0.0), eps = g.f32(op.getEps().convertToDouble());
  Value den = reduceRows(g, scores, g.filled(rowShape(g, scores), f32, zero),
                         [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                           return arith::AddFOp::create(b, loc, a[0], a[1]);
                         });
  Value dotOut =
      g.generic({dOut, out}, {all, all}, g.filled(rowShape(g, dOut), f32, zero),
                row, {kPar, kPar, kPar, kRed},
                [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                  Value p = arith::MulFOp::create(b, loc, toF32(b, loc, a[0]),
                                                  toF32(b, loc, a[1]));
                  return arith::AddFOp::create(b, loc, a[2], p);
                });
  Value one = g.f32(1.0);
  Value r = elementwise(
      g, {den}, f32, [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        return safeDivide(b, loc, one,
                          arith::AddFOp::create(b, loc, a[0], eps));
      });
  Value c = elementwise(g, {r, dotOut}, f32,
                        [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                          Value p = arith::MulFOp::create(b, loc, a[0], a[1]);
                          return arith::NegFOp::create(b, loc, p);
                        });
  Value dNum = g.generic({dOut, r}, {all, row}, g.empty(shape4(g, dOut), f32),
                         all, {kPar, kPar, kPar, kPar},
                         [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                           return arith::MulFOp::create(
                               b, loc, toF32(b, loc, a[0]), a[1]);
                         });
  return {dNum, c};
}

/// x [B, Hq, S, X] as [B, Hq / group, group, S, X]: query head h is
/// (h / group, h % group).
Value splitHeads(GenericBuilder &g, Value x, int64_t group) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[1] /= group;
  shape.insert(shape.begin() + 2, group);
  SmallVector<OpFoldResult> sizes = {g.size(x, 0), g.b.getIndexAttr(shape[1]),
                                     g.b.getIndexAttr(group), g.size(x, 2),
                                     g.size(x, 3)};
  return tensor::ExpandShapeOp::create(
      g.b, g.loc, RankedTensorType::get(shape, type.getElementType()), x,
      SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}}, sizes);
}

/// out[b, hk, j, x] = Σ_{m < group} Σ_i s[b, hk·group + m, i, j]
/// y[b, hk·group + m, i, x] (f32): a transposed product summed over the query
/// heads that share key/value head hk.
Value groupTransposedSum(GenericBuilder &g, Value s, Value y, int64_t group,
                         Value kv) {
  SmallVector<OpFoldResult> shape = {g.size(kv, 0), g.size(kv, 1), g.size(s, 3),
                                     g.size(y, 3)};
  Value init = g.filled(shape, g.b.getF32Type(), g.f32(0.0));
  // Dimensions (b, hk, j, x, m, i).
  AffineMap sMap = g.pick(6, {0, 1, 4, 5, 2});
  AffineMap yMap = g.pick(6, {0, 1, 4, 5, 3});
  return g.generic(
      {splitHeads(g, s, group), splitHeads(g, y, group)}, {sMap, yMap}, init,
      g.pick(6, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar, kRed, kRed},
      [](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value p = arith::MulFOp::create(b, loc, a[0], toF32(b, loc, a[1]));
        return arith::AddFOp::create(b, loc, a[2], p);
      });
}

/// dλ[h] = Σ_{b, i, j: p−j >= 1} (p−j) λ_h^(p−j−1) a[b, h, i, j] dA[b, h, i,
/// j], summed over j per row first (shorter f32 sums than one over (b, i, j)).
Value decayGradient(GenericBuilder &g, Value a, Value dA, Value decay, Value sq,
                    Value skv) {
  Type f32 = g.b.getF32Type();
  Value zero = g.f32(0.0);
  AffineMap all = g.pick(4, {0, 1, 2, 3});
  Value rows = g.generic(
      {a, dA, decay}, {all, all, g.pick(4, {1})},
      g.filled(rowShape(g, a), f32, zero), g.pick(4, {0, 1, 2}),
      {kPar, kPar, kPar, kRed},
      [&](OpBuilder &b, Location loc, ValueRange x) -> Value {
        Value dist = alignedDistance(b, loc, sq, skv, 2, 3);
        Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
        Value inside =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, dist, c1);
        Value e = arith::MaxSIOp::create(
            b, loc, arith::SubIOp::create(b, loc, dist, c1),
            arith::ConstantIndexOp::create(b, loc, 0));
        Value distF = arith::SIToFPOp::create(
            b, loc, b.getF32Type(),
            arith::IndexCastOp::create(b, loc, b.getI64Type(), dist));
        Value coef =
            arith::MulFOp::create(b, loc, distF, decayPower(b, loc, x[2], e));
        Value term = arith::MulFOp::create(
            b, loc, coef, arith::MulFOp::create(b, loc, x[0], x[1]));
        Value kept = arith::SelectOp::create(b, loc, inside, term, zero);
        return arith::AddFOp::create(b, loc, x[3], kept);
      });
  return g.generic({rows}, {g.pick(3, {1, 0, 2})},
                   g.filled({g.size(a, 1)}, f32, zero), g.pick(3, {0}),
                   {kPar, kRed, kRed},
                   [](OpBuilder &b, Location loc, ValueRange x) -> Value {
                     return arith::AddFOp::create(b, loc, x[1], x[0]);
                   });
}

/// An f32 tensor in `elt`.
Value convertElements(GenericBuilder &g, Value x, Type elt) {
  if (elt.isF32())
    return x;
  return elementwise(g, {x}, elt,
                     [&](OpBuilder &b, Location loc, ValueRange a) {
                       return fromF32(b, loc, a[0], elt);
                     });
}

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw,
                                        LinearAggregateGradOp op) {
  FailureOr<int64_t> group = groupSize(op.getQuery(), 1, op.getKey(), 1);
  if (failed(group))
    return rw.notifyMatchFailure(op, "dynamic head counts");
  GenericBuilder g(rw, op.getLoc());
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
  Value sq = g.sizeValue(q, 2), skv = g.sizeValue(k, 2);
  Value a = batchedDot(g, q, k, *group);
  Value w = op.getCausal() ? causalDecayWeights(g, a, sq, skv, op.getDecay())
                           : Value();
  Value scores = w ? multiply(g, w, a) : a;
  auto [dNum, dDen] = numeratorCotangents(g, op, scores);
  Value dA = batchedDot(g, dNum, v, *group);
  if (dDen)
    dA = addRowTerm(g, dA, dDen);
  Value dS = w ? multiply(g, w, dA) : dA;
  SmallVector<Value> grads = {weightedSum(g, dS, k, *group),
                              groupTransposedSum(g, dS, q, *group, k),
                              groupTransposedSum(g, scores, dNum, *group, v)};
  if (op.getDecay())
    grads.push_back(decayGradient(g, a, dA, op.getDecay(), sq, skv));
  SmallVector<Value> results;
  for (auto [grad, result] : llvm::zip(grads, op->getResults())) {
    auto type = cast<RankedTensorType>(result.getType());
    results.push_back(castTo(rw, op.getLoc(),
                             convertElements(g, grad, type.getElementType()),
                             type));
  }
  return results;
}

//===----------------------------------------------------------------------===//
// Selection family
//===----------------------------------------------------------------------===//

/// Pools rows of x [B, H, S, D] in blocks of `block` rows: [B, H,
/// ceil(S/block), D]. A partial last block pools the rows it has.
Value poolBlocks(GenericBuilder &g, Value x, int64_t block, bool useMax) {
  Value s = g.sizeValue(x, 2);
  Value blk = g.index(block);
  Value nb = arith::CeilDivUIOp::create(g.b, g.loc, s, blk);
  SmallVector<OpFoldResult> shape = {g.size(x, 0), g.size(x, 1), nb,
                                     g.size(x, 3)};
  Value init = useMax ? g.negInf() : g.f32(0.0);
  return g.generic(
      {}, {}, g.empty(shape, g.b.getF32Type()), g.pick(4, {0, 1, 2, 3}),
      {kPar, kPar, kPar, kPar}, [&](OpBuilder &b, Location loc, ValueRange) {
        Value bi = linalgIndex(b, loc, 0), hi = linalgIndex(b, loc, 1),
              r = linalgIndex(b, loc, 2), di = linalgIndex(b, loc, 3);
        Value lo = arith::MulIOp::create(b, loc, r, blk);
        Value hi2 = arith::MinSIOp::create(
            b, loc, arith::AddIOp::create(b, loc, lo, blk), s);
        Value one = arith::ConstantIndexOp::create(b, loc, 1);
        auto loop = scf::ForOp::create(
            b, loc, lo, hi2, one, ValueRange{init},
            [&](OpBuilder &nb2, Location nl, Value iv, ValueRange acc) {
              Value v = toF32(nb2, nl,
                              tensor::ExtractOp::create(
                                  nb2, nl, x, ValueRange{bi, hi, iv, di}));
              Value r2 =
                  useMax
                      ? arith::MaximumFOp::create(nb2, nl, acc[0], v)
                            .getResult()
                      : arith::AddFOp::create(nb2, nl, acc[0], v).getResult();
              scf::YieldOp::create(nb2, nl, r2);
            });
        Value v = loop.getResult(0);
        if (useMax)
          return v;
        Value count = arith::UIToFPOp::create(
            b, loc, b.getF32Type(),
            arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                       arith::SubIOp::create(b, loc, hi2, lo)));
        return arith::DivFOp::create(b, loc, v, count).getResult();
      });
}

/// rank[b, h, r, c] = #{c' candidate : x[c'] > x[c] or (x[c'] == x[c] and
/// c' < c)}: the position of c in a stable descending sort of row r.
Value rankInRow(
    GenericBuilder &g, Value x,
    function_ref<Value(OpBuilder &, Location, Value r, Value c, Value score)>
        candidate) {
  SmallVector<OpFoldResult> shape = {g.size(x, 0), g.size(x, 1), g.size(x, 2),
                                     g.size(x, 3)};
  Value init = g.filled(shape, g.b.getI32Type(), g.i32(0));
  return g.generic(
      {x, x}, {g.pick(5, {0, 1, 2, 4}), g.pick(5, {0, 1, 2, 3})}, init,
      g.pick(5, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar, kRed},
      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value other = a[0], mine = a[1];
        Value r = linalgIndex(b, loc, 2), c = linalgIndex(b, loc, 3),
              c2 = linalgIndex(b, loc, 4);
        Value gt = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                         other, mine);
        Value eq = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                         other, mine);
        Value before =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, c2, c);
        Value beats = arith::OrIOp::create(
            b, loc, gt, arith::AndIOp::create(b, loc, eq, before));
        beats = arith::AndIOp::create(b, loc, beats,
                                      candidate(b, loc, r, c2, other));
        Value inc = arith::ExtUIOp::create(b, loc, b.getI32Type(), beats);
        return arith::AddIOp::create(b, loc, a[2], inc);
      });
}

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, SelectBlocksOp op) {
  Value reps = op.getReps(), qreps = op.getQreps();
  Value keyLike = reps ? reps : op.getKey();
  FailureOr<int64_t> group = groupSize(op.getQuery(), 1, keyLike, 1);
  if (failed(group))
    return rw.notifyMatchFailure(op, "dynamic head counts");
  GenericBuilder g(rw, op.getLoc());
  bool useMax = op.getPool() == "max";
  Value pq =
      qreps ? qreps : poolBlocks(g, op.getQuery(), op.getBlockQ(), useMax);
  Value pk = reps ? reps : poolBlocks(g, op.getKey(), op.getBlockKv(), useMax);
  Value scores = batchedDot(g, pq, pk, *group);
  Value sq = g.sizeValue(op.getQuery(), 2), skv = g.sizeValue(op.getKey(), 2);
  Value bq = g.index(op.getBlockQ()), bkv = g.index(op.getBlockKv());
  bool causal = op.getCausal();
  // Key block c is a candidate for query block r iff its first key is visible
  // to the block's last query (aligned causal).
  auto candidate = [&](OpBuilder &b, Location loc, Value r, Value c,
                       Value) -> Value {
    if (!causal)
      return arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value end = arith::MinSIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, arith::AddIOp::create(b, loc, r, one),
                              bq),
        sq);
    Value last =
        arith::AddIOp::create(b, loc, arith::SubIOp::create(b, loc, end, one),
                              arith::SubIOp::create(b, loc, skv, sq));
    Value first = arith::MulIOp::create(b, loc, c, bkv);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, first,
                                 last);
  };
  Value rank = rankInRow(g, scores, candidate);
  Value topK = g.i32(op.getTopK());
  Value out = g.generic({rank}, {g.pick(4, {0, 1, 2, 3})},
                        g.empty({g.size(rank, 0), g.size(rank, 1),
                                 g.size(rank, 2), g.size(rank, 3)},
                                rw.getI1Type()),
                        g.pick(4, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar},
                        [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
                          Value inTop = arith::CmpIOp::create(
                              b, loc, arith::CmpIPredicate::slt, a[0], topK);
                          Value cand =
                              candidate(b, loc, linalgIndex(b, loc, 2),
                                        linalgIndex(b, loc, 3), Value());
                          return arith::AndIOp::create(b, loc, inTop, cand);
                        });
  return SmallVector<Value>{castTo(rw, op.getLoc(), out, op.getType())};
}

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, SelectTopkOp op) {
  GenericBuilder g(rw, op.getLoc());
  Value s = op.getScores();
  Value ninf = g.negInf();
  // Masked (-inf) and NaN scores are never selected.
  auto candidate = [&](OpBuilder &b, Location loc, Value, Value,
                       Value score) -> Value {
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, score,
                                 ninf);
  };
  Value rank = rankInRow(g, s, candidate);
  SmallVector<OpFoldResult> shape = {g.size(s, 0), g.size(s, 1), g.size(s, 2),
                                     rw.getIndexAttr(op.getTopK())};
  Value init = g.filled(shape, rw.getI32Type(), g.i32(-1));
  // out[b, h, i, r] = the candidate j whose rank is r, else -1.
  Value out = g.generic(
      {rank, s}, {g.pick(5, {0, 1, 2, 4}), g.pick(5, {0, 1, 2, 4})}, init,
      g.pick(5, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar, kRed},
      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value r = arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                             linalgIndex(b, loc, 3));
        Value j = arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                             linalgIndex(b, loc, 4));
        Value hit = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, a[0], r),
            candidate(b, loc, Value(), Value(), a[1]));
        return arith::SelectOp::create(b, loc, hit, j, a[2]);
      });
  return SmallVector<Value>{castTo(rw, op.getLoc(), out, op.getType())};
}

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, ClusterOp op) {
  GenericBuilder g(rw, op.getLoc());
  Value x = op.getInput(), cent = op.getCentroids();
  int64_t centHeads = staticDim(cent, 0);
  if (ShapedType::isDynamic(centHeads))
    return rw.notifyMatchFailure(op, "dynamic centroid head count");
  AffineExpr headExpr =
      centHeads == 1 ? getAffineConstantExpr(0, g.ctx()) : g.d(1);
  // dist[b, h, s, c] = Σ_d (x[b, h, s, d] - cent[h, c, d])^2
  SmallVector<OpFoldResult> distShape = {g.size(x, 0), g.size(x, 1),
                                         g.size(x, 2), g.size(cent, 1)};
  Value dist =
      g.generic({x, cent},
                {g.pick(5, {0, 1, 2, 4}), g.map(5, {headExpr, g.d(3), g.d(4)})},
                g.filled(distShape, rw.getF32Type(), g.f32(0.0)),
                g.pick(5, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar, kRed},
                [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                  Value diff = arith::SubFOp::create(
                      b, loc, toF32(b, loc, a[0]), toF32(b, loc, a[1]));
                  return arith::AddFOp::create(
                      b, loc, a[2], arith::MulFOp::create(b, loc, diff, diff));
                });
  SmallVector<OpFoldResult> outShape = rowShape(g, x);
  Value best = g.filled(outShape, rw.getF32Type(),
                        g.f32(std::numeric_limits<double>::infinity()));
  Value arg = g.filled(outShape, rw.getI32Type(), g.i32(0));
  AffineMap in = g.pick(4, {0, 1, 2, 3}), out = g.pick(4, {0, 1, 2});
  auto argmin = linalg::GenericOp::create(
      rw, op.getLoc(), TypeRange{best.getType(), arg.getType()},
      ValueRange{dist}, ValueRange{best, arg},
      ArrayRef<AffineMap>{in, out, out},
      ArrayRef<IteratorType>{kPar, kPar, kPar, kRed},
      [](OpBuilder &b, Location loc, ValueRange a) {
        Value c = arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                             linalgIndex(b, loc, 3));
        // Strictly smaller wins, so ties keep the smaller index.
        Value lt = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                                         a[0], a[1]);
        Value v = arith::SelectOp::create(b, loc, lt, a[0], a[1]);
        Value i = arith::SelectOp::create(b, loc, lt, c, a[2]);
        linalg::YieldOp::create(b, loc, ValueRange{v, i});
      });
  return SmallVector<Value>{
      castTo(rw, op.getLoc(), argmin.getResult(1), op.getType())};
}

FailureOr<SmallVector<Value>> decompose(RewriterBase &rw, LshOp op) {
  GenericBuilder g(rw, op.getLoc());
  Value x = op.getInput(), planes = op.getPlanes();
  SmallVector<OpFoldResult> projShape = {g.size(x, 0), g.size(x, 1),
                                         g.size(x, 2), g.size(planes, 1)};
  Value proj =
      g.generic({x, planes}, {g.pick(5, {0, 1, 2, 4}), g.pick(5, {4, 3})},
                g.filled(projShape, rw.getF32Type(), g.f32(0.0)),
                g.pick(5, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar, kRed},
                [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                  Value p = arith::MulFOp::create(b, loc, toF32(b, loc, a[0]),
                                                  toF32(b, loc, a[1]));
                  return arith::AddFOp::create(b, loc, a[2], p);
                });
  Value zero = g.f32(0.0);
  Value out = reduceRows(
      g, proj, g.filled(rowShape(g, x), rw.getI32Type(), g.i32(0)),
      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
        Value p = arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                             linalgIndex(b, loc, 3));
        Value one = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(1));
        Value bit = arith::ShLIOp::create(b, loc, one, p);
        Value pos = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                          a[0], zero);
        Value set = arith::SelectOp::create(
            b, loc, pos, bit,
            arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0)));
        return arith::OrIOp::create(b, loc, a[1], set);
      });
  return SmallVector<Value>{castTo(rw, op.getLoc(), out, op.getType())};
}

/// A fused attention (written by the user, or recomputed by attn-grad)
/// becomes its graph ops, which the patterns below decompose.
struct UnfuseAttentionPattern : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    return success(succeeded(unfuseAttention(rewriter, op)));
  }
};

template <typename OpTy> struct DecomposePattern : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Value>> replacements = decompose(rewriter, op);
    if (failed(replacements))
      return failure();
    rewriter.replaceOp(op, *replacements);
    return success();
  }
};

struct AttnDecomposePass : attn::impl::AttnDecomposeBase<AttnDecomposePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateDecomposePatterns(patterns);
    // Ops are rewritten producer-first so consumers see decomposed operands;
    // the attn ops a gradient's decomposition creates join the worklist.
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      getOperation()->emitError("attn-decompose did not converge");
      return signalPassFailure();
    }
    WalkResult left = getOperation()->walk([](Operation *op) {
      if (auto a = dyn_cast<AttentionOp>(op); a && !a.getPositions().empty()) {
        op->emitOpError("with positions has no naive form: the tiled and "
                        "block-sparse CPU forms (attn-tile, attn-sparsify) "
                        "lower it");
        return WalkResult::interrupt();
      }
      if (auto a = dyn_cast<AttentionGradOp>(op);
          a && !a.getPositions().empty()) {
        op->emitOpError("with positions has no naive form: the tiled CPU "
                        "form (attn-tile) lowers it");
        return WalkResult::interrupt();
      }
      if (isa<AttnDialect>(op->getDialect()) && !isa<YieldOp>(op)) {
        op->emitOpError("could not be decomposed: the naive form needs "
                        "static head counts");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

void mlir::attn::populateDecomposePatterns(RewritePatternSet &patterns) {
  patterns
      .add<DecomposePattern<ScoreOp>, DecomposePattern<ScoreModOp>,
           DecomposePattern<MaskOp>, DecomposePattern<AggregateOp>,
           DecomposePattern<NormalizeOp>, DecomposePattern<MergeOp>,
           DecomposePattern<FeatureMapOp>, DecomposePattern<LinearAggregateOp>,
           DecomposePattern<LinearAggregateGradOp>,
           DecomposePattern<SelectBlocksOp>, DecomposePattern<SelectTopkOp>,
           DecomposePattern<ClusterOp>, DecomposePattern<LshOp>>(
          patterns.getContext());
  populateDecomposeGradPatterns(patterns);
  patterns.add<UnfuseAttentionPattern>(patterns.getContext());
}
