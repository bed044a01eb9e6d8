//===- KernelBuilder.h - IR builders for the attention kernels --*- C++ -*-===//
//
// Small helpers that emit the scalar, vector and loop IR of the attention
// kernels of every form (CPU and GPU).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_KERNEL_KERNELBUILDER_H
#define ATTN_KERNEL_KERNELBUILDER_H

#include "attn/IR/AttnOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/TypeUtilities.h"

#include <limits>

namespace mlir::attn {

inline MemRefType memrefOf(RankedTensorType t) {
  return MemRefType::get(t.getShape(), t.getElementType());
}

/// Builders for the kernel: constants, loops and vector arithmetic.
class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value negInf() { return f32(-std::numeric_limits<double>::infinity()); }
  Value splat(VectorType t, double v) {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(t, b.getF32FloatAttr(v)));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value minI(Value x, Value y) { return arith::MinSIOp::create(b, loc, x, y); }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fdiv(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value fmax(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value fma(Value x, Value y, Value z) {
    return math::FmaOp::create(b, loc, x, y, z);
  }
  Value feq(Value x, Value y) {
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x, y);
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value bcast(VectorType t, Value s) {
    return vector::BroadcastOp::create(b, loc, t, s);
  }
  Value load(Value m, ValueRange ivs) {
    return memref::LoadOp::create(b, loc, m, ivs);
  }
  void store(Value v, Value m, ValueRange ivs) {
    memref::StoreOp::create(b, loc, v, m, ivs);
  }
  Value vload(VectorType t, Value m, ValueRange ivs) {
    return vector::LoadOp::create(b, loc, t, m, ivs);
  }
  void vstore(Value v, Value m, ValueRange ivs) {
    vector::StoreOp::create(b, loc, v, m, ivs);
  }
  Value toF32(Value v) {
    Type elt = getElementTypeOrSelf(v.getType());
    if (elt.isF32())
      return v;
    Type t = f32Like(v.getType());
    return arith::ExtFOp::create(b, loc, t, v);
  }
  Value fromF32(Value v, Type elt) {
    if (elt.isF32())
      return v;
    Type t = v.getType();
    if (auto vt = dyn_cast<VectorType>(t))
      t = VectorType::get(vt.getShape(), elt);
    else
      t = elt;
    return arith::TruncFOp::create(b, loc, t, v);
  }
  Value stackBuffer(ArrayRef<int64_t> shape) {
    return memref::AllocaOp::create(b, loc,
                                    MemRefType::get(shape, b.getF32Type()));
  }

  /// The read-only buffer of a tensor operand.
  Value toBuffer(Value tensor) {
    return bufferization::ToBufferOp::create(
        b, loc, memrefOf(cast<RankedTensorType>(tensor.getType())), tensor,
        /*readOnly=*/true);
  }
  /// A buffer the kernel filled, as the tensor result of type `t`.
  Value toTensor(RankedTensorType t, Value buffer) {
    return bufferization::ToTensorOp::create(b, loc, t, buffer, b.getUnitAttr(),
                                             b.getUnitAttr());
  }
  /// Size `dim` of a tensor, as an index value.
  Value dimOf(Value tensor, int64_t dim) {
    return getValueOrCreateConstantIndexOp(
        b, loc, tensor::getMixedSize(b, loc, tensor, dim));
  }

  /// `count` f32 vectors of `width` lanes from the row `row` of `buffer`
  /// (vector c at last index c * width), widened, times `scale` if given.
  SmallVector<Value> loadRow(Value buffer, ValueRange row, int64_t width,
                             int64_t count, Value scale = Value()) {
    auto type = VectorType::get(
        {width}, cast<MemRefType>(buffer.getType()).getElementType());
    Value scaleV = scale
                       ? bcast(VectorType::get({width}, b.getF32Type()), scale)
                       : Value();
    SmallVector<Value> vecs;
    for (int64_t c = 0; c < count; ++c) {
      SmallVector<Value> ivs(row);
      ivs.push_back(idx(c * width));
      Value x = toF32(vload(type, buffer, ivs));
      vecs.push_back(scaleV ? fmul(x, scaleV) : x);
    }
    return vecs;
  }
  /// The dot product of the vectors `q` with the row `row` of `buffer`:
  /// lane-wise FMAs, then one horizontal sum.
  Value dotRow(ArrayRef<Value> q, Value buffer, ValueRange row) {
    auto vt = cast<VectorType>(q.front().getType());
    SmallVector<Value> kv = loadRow(buffer, row, vt.getNumElements(), q.size());
    Value acc = splat(vt, 0.0);
    for (auto [a, x] : llvm::zip(q, kv))
      acc = fma(a, x, acc);
    return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, acc);
  }

  /// A heap buffer of tensor type `t`, taking dynamic sizes from `sizes`.
  Value allocLike(RankedTensorType t, ArrayRef<Value> sizes) {
    SmallVector<Value> dyn;
    for (int64_t d = 0; d < t.getRank(); ++d)
      if (t.isDynamicDim(d))
        dyn.push_back(sizes[d]);
    return memref::AllocOp::create(
        b, loc, MemRefType::get(t.getShape(), t.getElementType()), dyn);
  }

  /// scf.for without results.
  void loop(Value lb, Value ub, Value step, function_ref<void(Value)> body) {
    scf::ForOp::create(b, loc, lb, ub, step, ValueRange{},
                       [&](OpBuilder &nb, Location, Value iv, ValueRange) {
                         OpBuilder::InsertionGuard guard(b);
                         b.setInsertionPoint(nb.getInsertionBlock(),
                                             nb.getInsertionPoint());
                         body(iv);
                         scf::YieldOp::create(b, loc);
                       });
  }
  void loop(Value lb, Value ub, int64_t step, function_ref<void(Value)> body) {
    loop(lb, ub, idx(step), body);
  }

  /// scf.for carrying one value.
  Value reduce(Value lb, Value ub, int64_t step, Value init,
               function_ref<Value(Value, Value)> body) {
    auto forOp = scf::ForOp::create(
        b, loc, lb, ub, idx(step), ValueRange{init},
        [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value next = body(iv, args[0]);
          scf::YieldOp::create(b, loc, next);
        });
    return forOp.getResult(0);
  }

  /// scf.for carrying several values (register-blocked accumulators).
  SmallVector<Value>
  reduceMany(Value lb, Value ub, int64_t step, ValueRange inits,
             function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(
        b, loc, lb, ub, idx(step), inits,
        [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> next = body(iv, args);
          scf::YieldOp::create(b, loc, next);
        });
    return SmallVector<Value>(forOp.getResults());
  }

  /// scf.if without results.
  void ifThen(Value cond, function_ref<void()> body) {
    scf::IfOp::create(b, loc, cond, [&](OpBuilder &nb, Location) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
      body();
      scf::YieldOp::create(b, loc);
    });
  }

  /// scf.if/else without results.
  void ifThenElse(Value cond, function_ref<void()> thenBody,
                  function_ref<void()> elseBody) {
    auto body = [&](function_ref<void()> fn) {
      return [&, fn](OpBuilder &nb, Location) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        fn();
        scf::YieldOp::create(b, loc);
      };
    };
    scf::IfOp::create(b, loc, cond, body(thenBody), body(elseBody));
  }

  OpBuilder &b;
  Location loc;

private:
  Type f32Like(Type t) {
    if (auto vt = dyn_cast<VectorType>(t))
      return VectorType::get(vt.getShape(), b.getF32Type());
    return b.getF32Type();
  }
};

/// Register-blocked outer products: for iv in [lb, ub),
/// acc[rr * vecs + v] += broadcast(rowScalar(iv, rr)) * column(iv, v),
/// with the `rows * vecs` accumulators carried in registers.
inline SmallVector<Value>
blockedOuterProducts(KernelBuilder &k, Value lb, Value ub, int64_t rows,
                     int64_t vecs, VectorType type, ValueRange inits,
                     function_ref<Value(Value, int64_t)> column,
                     function_ref<Value(Value, int64_t)> rowScalar) {
  return k.reduceMany(lb, ub, 1, inits, [&](Value iv, ValueRange acc) {
    SmallVector<Value> cols, next;
    for (int64_t v = 0; v < vecs; ++v)
      cols.push_back(column(iv, v));
    for (int64_t rr = 0; rr < rows; ++rr) {
      Value x = k.bcast(type, rowScalar(iv, rr));
      for (int64_t v = 0; v < vecs; ++v)
        next.push_back(k.fma(x, cols[v], acc[rr * vecs + v]));
    }
    return next;
  });
}

/// Static head counts and last dimensions of an attention-like op with
/// [B, H, S, D] query, key and value operands.
struct HeadDims {
  int64_t hq, hkv, d, dv;
};

/// The op's HeadDims, or nullopt when one is dynamic or Hkv is 0.
template <typename OpT> std::optional<HeadDims> staticHeadDims(OpT op) {
  auto dim = [](Value v, unsigned i) {
    return cast<RankedTensorType>(v.getType()).getDimSize(i);
  };
  HeadDims h{dim(op.getQuery(), 1), dim(op.getKey(), 1), dim(op.getQuery(), 3),
             dim(op.getValue(), 3)};
  if (ShapedType::isDynamic(h.hq) || ShapedType::isDynamic(h.hkv) ||
      ShapedType::isDynamic(h.d) || ShapedType::isDynamic(h.dv) || h.hkv == 0)
    return std::nullopt;
  return h;
}

/// The operands of an attn.attention as buffers, its sizes, and buffers for
/// its results (output, and lse when the op has one).
struct AttentionIO {
  /// `allocateResults`: false where the kernel writes elsewhere (a forward
  /// recomputed for its gradient).
  AttentionIO(KernelBuilder &k, AttentionOp op, bool allocateResults = true) {
    q = k.toBuffer(op.getQuery());
    key = k.toBuffer(op.getKey());
    v = k.toBuffer(op.getValue());
    sinks = op.getSinks() ? k.toBuffer(op.getSinks()) : Value();
    batch = k.dimOf(op.getQuery(), 0);
    sq = k.dimOf(op.getQuery(), 2);
    skv = k.dimOf(op.getKey(), 2);
    auto qTy = cast<RankedTensorType>(op.getQuery().getType());
    outTy = cast<RankedTensorType>(op.getOutput().getType());
    Value hq = k.idx(qTy.getDimSize(1));
    if (!allocateResults)
      return;
    out = k.allocLike(outTy, {batch, hq, sq, k.idx(outTy.getDimSize(3))});
    if (op.getLse()) {
      lseTy = cast<RankedTensorType>(op.getLse().getType());
      lse = k.allocLike(lseTy, {batch, hq, sq});
    }
  }
  /// The op's results, from the filled buffers.
  SmallVector<Value> results(KernelBuilder &k) const {
    SmallVector<Value> r = {k.toTensor(outTy, out)};
    if (lse)
      r.push_back(k.toTensor(lseTy, lse));
    return r;
  }

  Value q, key, v, sinks, batch, sq, skv, out, lse;
  RankedTensorType outTy, lseTy;
};

/// The widest power-of-two vector width up to `maxWidth` that divides `n`.
inline int64_t largestDividingWidth(int64_t n, int64_t maxWidth) {
  for (int64_t w = maxWidth; w > 1; w /= 2)
    if (n % w == 0)
      return w;
  return 1;
}

} // namespace mlir::attn

#endif // ATTN_KERNEL_KERNELBUILDER_H
