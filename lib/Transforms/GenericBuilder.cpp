//===- GenericBuilder.cpp - linalg.generic builders for graph rewrites ----===//

#include "attn/Transforms/GenericBuilder.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;

/// Converts a floating-point scalar to f32.
Value mlir::attn::toF32(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

/// Converts an f32 scalar to `type`.
Value mlir::attn::fromF32(OpBuilder &b, Location loc, Value v, Type type) {
  if (type.isF32())
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

Value mlir::attn::linalgIndex(OpBuilder &b, Location loc, unsigned dim) {
  return linalg::IndexOp::create(b, loc, dim);
}

Value mlir::attn::castTo(OpBuilder &b, Location loc, Value t, Type type) {
  if (t.getType() == type)
    return t;
  return tensor::CastOp::create(b, loc, type, t);
}

int64_t mlir::attn::staticDim(Value t, unsigned d) {
  return cast<ShapedType>(t.getType()).getDimSize(d);
}

/// The GQA group size Hq / Hkv, or failure when a head count is dynamic.
FailureOr<int64_t> mlir::attn::groupSize(Value q, unsigned qHeadDim, Value kv,
                                         unsigned kvHeadDim) {
  int64_t hq = staticDim(q, qHeadDim), hkv = staticDim(kv, kvHeadDim);
  if (ShapedType::isDynamic(hq) || ShapedType::isDynamic(hkv) || hkv == 0)
    return failure();
  return hq / hkv;
}

/// out[b, h, i, j] = Σ_d x[b, h, i, d] * y[b, h / group, j, d] (f32).
Value mlir::attn::batchedDot(GenericBuilder &g, Value x, Value y,
                             int64_t group) {
  SmallVector<OpFoldResult> shape = {g.size(x, 0), g.size(x, 1), g.size(x, 2),
                                     g.size(y, 2)};
  Value init = g.filled(shape, g.b.getF32Type(), g.f32(0.0));
  AffineMap xMap = g.pick(5, {0, 1, 2, 4});
  AffineMap yMap = g.map(5, {g.d(0), g.d(1).floorDiv(group), g.d(3), g.d(4)});
  return g.generic({x, y}, {xMap, yMap}, init, g.pick(5, {0, 1, 2, 3}),
                   {kPar, kPar, kPar, kPar, kRed},
                   [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                     Value p = arith::MulFOp::create(
                         b, loc, toF32(b, loc, a[0]), toF32(b, loc, a[1]));
                     return arith::AddFOp::create(b, loc, a[2], p);
                   });
}

/// out[b, h, i, e] = Σ_j w[b, h, i, j] * v[b, h / group, j, e] (f32).
Value mlir::attn::weightedSum(GenericBuilder &g, Value w, Value v,
                              int64_t group) {
  SmallVector<OpFoldResult> shape = {g.size(w, 0), g.size(w, 1), g.size(w, 2),
                                     g.size(v, 3)};
  Value init = g.filled(shape, g.b.getF32Type(), g.f32(0.0));
  AffineMap wMap = g.pick(5, {0, 1, 2, 4});
  AffineMap vMap = g.map(5, {g.d(0), g.d(1).floorDiv(group), g.d(4), g.d(3)});
  return g.generic({w, v}, {wMap, vMap}, init, g.pick(5, {0, 1, 2, 3}),
                   {kPar, kPar, kPar, kPar, kRed},
                   [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                     Value p = arith::MulFOp::create(b, loc, a[0],
                                                     toF32(b, loc, a[1]));
                     return arith::AddFOp::create(b, loc, a[2], p);
                   });
}

/// Applies `fn` to every element of rank-`rank` tensor `x`, producing a tensor
/// of `elt` with the same shape.
Value mlir::attn::elementwise(
    GenericBuilder &g, ValueRange xs, Type elt,
    function_ref<Value(OpBuilder &, Location, ValueRange)> fn) {
  Value x = xs.front();
  unsigned rank = cast<ShapedType>(x.getType()).getRank();
  SmallVector<OpFoldResult> shape;
  for (unsigned i = 0; i < rank; ++i)
    shape.push_back(g.size(x, i));
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, g.ctx());
  SmallVector<AffineMap> maps(xs.size(), id);
  SmallVector<IteratorType> iters(rank, kPar);
  return g.generic(xs, maps, g.empty(shape, elt), id, iters,
                   [&](OpBuilder &b, Location loc, ValueRange a) {
                     return fn(b, loc, a.drop_back());
                   });
}

/// Row reduction over the last axis of a rank-4 tensor.
Value mlir::attn::reduceRows(GenericBuilder &g, Value x, Value init,
                             BodyFn combine) {
  AffineMap in = g.pick(4, {0, 1, 2, 3}), out = g.pick(4, {0, 1, 2});
  return g.generic({x}, {in}, init, out, {kPar, kPar, kPar, kRed}, combine);
}

SmallVector<OpFoldResult> mlir::attn::rowShape(GenericBuilder &g, Value s) {
  return {g.size(s, 0), g.size(s, 1), g.size(s, 2)};
}

/// x / l, or 0 where l == 0 (a fully masked row).
Value mlir::attn::safeDivide(OpBuilder &b, Location loc, Value x, Value l) {
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  Value isZero =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, l, zero);
  Value q = arith::DivFOp::create(b, loc, x, l);
  return arith::SelectOp::create(b, loc, isZero, zero, q);
}

/// α-entmax weights of masked scores `s`. Per row, z = (α - 1)(s - m) with
/// m the safe row maximum, so the threshold τ with
/// Σ_j [z_j - τ]_+^(1/(α-1)) = 1 lies in [-1, 0]; kEntmaxSteps bisection
/// steps on that sum find τ to f32 precision, and the weights are
/// renormalised (a fully masked row stays 0).
Value mlir::attn::entmaxWeights(GenericBuilder &g, Value s, double alpha) {
  constexpr int64_t kEntmaxSteps = 32;
  Type f32 = g.b.getF32Type();
  Value ninf = g.negInf(), zero = g.f32(0.0), one = g.f32(1.0);
  Value scale = g.f32(alpha - 1), half = g.f32(0.5);
  double exponent = 1.0 / (alpha - 1);
  Value m = reduceRows(g, s, g.filled(rowShape(g, s), f32, ninf),
                       [](OpBuilder &b, Location loc, ValueRange a) -> Value {
                         return arith::MaximumFOp::create(b, loc, a[0], a[1]);
                       });
  m = elementwise(g, {m}, f32, [&](OpBuilder &b, Location loc, ValueRange a) {
    Value isInf =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, a[0], ninf);
    return arith::SelectOp::create(b, loc, isInf, zero, a[0]).getResult();
  });
  // [z - τ]_+^(1/(α-1)) of one score, row maximum and threshold.
  auto weight = [&](OpBuilder &b, Location loc, Value score, Value max,
                    Value tau) -> Value {
    Value z = arith::MulFOp::create(b, loc, scale,
                                    arith::SubFOp::create(b, loc, score, max));
    Value x = arith::MaximumFOp::create(
        b, loc, arith::SubFOp::create(b, loc, z, tau), zero);
    if (exponent == 1.0)
      return x;
    if (exponent == 2.0)
      return arith::MulFOp::create(b, loc, x, x);
    return math::PowFOp::create(
        b, loc, x,
        arith::ConstantOp::create(b, loc, b.getF32FloatAttr(exponent)));
  };
  AffineMap all = g.pick(4, {0, 1, 2, 3}), row = g.pick(4, {0, 1, 2});
  auto rowSum = [&](GenericBuilder &gb, Value tau) {
    return gb.generic({s, m, tau}, {all, row, row},
                      gb.filled(rowShape(gb, s), f32, zero), row,
                      {kPar, kPar, kPar, kRed},
                      [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
                        return arith::AddFOp::create(
                            b, loc, a[3], weight(b, loc, a[0], a[1], a[2]));
                      });
  };
  auto midpoint = [&](OpBuilder &b, Location loc, ValueRange a) {
    Value sum = arith::AddFOp::create(b, loc, a[0], a[1]);
    return arith::MulFOp::create(b, loc, sum, half).getResult();
  };
  auto steps = scf::ForOp::create(
      g.b, g.loc, g.index(0), g.index(kEntmaxSteps), g.index(1),
      ValueRange{g.filled(rowShape(g, s), f32, g.f32(-1.0)),
                 g.filled(rowShape(g, s), f32, zero)},
      [&](OpBuilder &b, Location loc, Value, ValueRange lohi) {
        GenericBuilder ig(b, loc);
        Value mid = elementwise(ig, lohi, f32, midpoint);
        Value total = rowSum(ig, mid);
        // Updated in place (the iteration's own buffers, as bufferization
        // requires of loop-carried tensors): Σ >= 1 lets τ rise (lo = mid),
        // else it must fall (hi = mid).
        AffineMap rows = ig.pick(3, {0, 1, 2});
        auto choose = [&](bool low) {
          return ig.generic(
              {total, mid}, {rows, rows}, lohi[low ? 0 : 1], rows,
              {kPar, kPar, kPar},
              [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                Value reached = arith::CmpFOp::create(
                    nb, nl, arith::CmpFPredicate::OGE, a[0], one);
                Value mid = a[1], bound = a[2];
                return arith::SelectOp::create(
                    nb, nl, reached, low ? mid : bound, low ? bound : mid);
              });
        };
        scf::YieldOp::create(b, loc, ValueRange{choose(true), choose(false)});
      });
  Value tau = elementwise(g, steps.getResults(), f32, midpoint);
  Value p = g.generic(
      {s, m, tau}, {all, row, row},
      g.empty({g.size(s, 0), g.size(s, 1), g.size(s, 2), g.size(s, 3)}, f32),
      all, {kPar, kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange a) {
        return weight(b, loc, a[0], a[1], a[2]);
      });
  Value total =
      reduceRows(g, p, g.filled(rowShape(g, s), f32, zero),
                 [](OpBuilder &b, Location loc, ValueRange a) {
                   return arith::AddFOp::create(b, loc, a[0], a[1]).getResult();
                 });
  return g.generic(
      {p, total}, {all, row},
      g.empty({g.size(s, 0), g.size(s, 1), g.size(s, 2), g.size(s, 3)}, f32),
      all, {kPar, kPar, kPar, kPar},
      [](OpBuilder &b, Location loc, ValueRange a) {
        return safeDivide(b, loc, a[0], a[1]);
      });
}
