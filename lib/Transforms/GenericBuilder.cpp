//===- GenericBuilder.cpp - linalg.generic builders for graph rewrites ----===//

#include "attn/Transforms/GenericBuilder.h"

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
