//===- GenericBuilder.h - linalg.generic builders for graph rewrites -*- C++
//-*-===//
//
// Builders for the linalg.generic code on tensors that the naive form
// (attn-decompose) and the graph-level gradients (attn-grad) emit.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TRANSFORMS_GENERICBUILDER_H
#define ATTN_TRANSFORMS_GENERICBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <limits>

namespace mlir::attn {

using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;
using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// Small builder for the linalg.generic ops of the naive form.
class GenericBuilder {
public:
  GenericBuilder(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  MLIRContext *ctx() { return b.getContext(); }
  AffineExpr d(unsigned i) { return getAffineDimExpr(i, ctx()); }
  AffineMap map(unsigned numDims, ArrayRef<AffineExpr> exprs) {
    return AffineMap::get(numDims, 0, exprs, ctx());
  }
  /// (d0, d1, ...) -> (d_positions...)
  AffineMap pick(unsigned numDims, ArrayRef<unsigned> positions) {
    SmallVector<AffineExpr> exprs;
    for (unsigned p : positions)
      exprs.push_back(d(p));
    return map(numDims, exprs);
  }

  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value negInf() { return f32(-std::numeric_limits<double>::infinity()); }
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }

  OpFoldResult size(Value t, int64_t dim) {
    return tensor::getMixedSize(b, loc, t, dim);
  }
  Value sizeValue(Value t, int64_t dim) {
    return getValueOrCreateConstantIndexOp(b, loc, size(t, dim));
  }

  Value empty(ArrayRef<OpFoldResult> shape, Type elt) {
    return tensor::EmptyOp::create(b, loc, shape, elt);
  }
  Value filled(ArrayRef<OpFoldResult> shape, Type elt, Value fill) {
    return linalg::FillOp::create(b, loc, ValueRange{fill},
                                  ValueRange{empty(shape, elt)})
        .getResult(0);
  }

  /// One-result linalg.generic; `body` returns the value to yield.
  Value generic(ValueRange ins, ArrayRef<AffineMap> inMaps, Value init,
                AffineMap outMap, ArrayRef<IteratorType> iters, BodyFn body) {
    SmallVector<AffineMap> maps(inMaps);
    maps.push_back(outMap);
    auto op = linalg::GenericOp::create(
        b, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps, iters,
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value v = body(nb, nl, args);
          linalg::YieldOp::create(nb, nl, v);
        });
    return op.getResult(0);
  }

  OpBuilder &b;
  Location loc;
};

/// Converts a floating-point scalar to f32.
Value toF32(OpBuilder &b, Location loc, Value v);

/// Converts an f32 scalar to `type`.
Value fromF32(OpBuilder &b, Location loc, Value v, Type type);

Value linalgIndex(OpBuilder &b, Location loc, unsigned dim);

Value castTo(OpBuilder &b, Location loc, Value t, Type type);

int64_t staticDim(Value t, unsigned d);

/// The GQA group size Hq / Hkv, or failure when a head count is dynamic.
FailureOr<int64_t> groupSize(Value q, unsigned qHeadDim, Value kv,
                             unsigned kvHeadDim);

/// out[b, h, i, j] = Σ_d x[b, h, i, d] * y[b, h / group, j, d] (f32).
Value batchedDot(GenericBuilder &g, Value x, Value y, int64_t group);

/// out[b, h, i, e] = Σ_j w[b, h, i, j] * v[b, h / group, j, e] (f32).
Value weightedSum(GenericBuilder &g, Value w, Value v, int64_t group);

/// Applies `fn` to every element of rank-`rank` tensor `x`, producing a tensor
/// of `elt` with the same shape.
Value elementwise(GenericBuilder &g, ValueRange xs, Type elt,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> fn);

/// Row reduction over the last axis of a rank-4 tensor.
Value reduceRows(GenericBuilder &g, Value x, Value init, BodyFn combine);

SmallVector<OpFoldResult> rowShape(GenericBuilder &g, Value s);

/// x / l, or 0 where l == 0 (a fully masked row).
Value safeDivide(OpBuilder &b, Location loc, Value x, Value l);

/// The α-entmax weights of masked f32 scores `s` [B, H, Sq, Skv]: per row,
/// τ by bisection in f32 on the max-shifted row, the weights renormalised;
/// a fully masked row is 0.
Value entmaxWeights(GenericBuilder &g, Value s, double alpha);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_GENERICBUILDER_H
