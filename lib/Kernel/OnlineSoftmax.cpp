//===- OnlineSoftmax.cpp - the online-softmax recurrence as IR ------------===//

#include "attn/Kernel/OnlineSoftmax.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;

Value OnlineSoftmax::constantLike(Value like, double v) {
  if (auto vt = dyn_cast<VectorType>(like.getType()))
    return k.splat(vt, v);
  return k.f32(v);
}

Value OnlineSoftmax::safeMax(Value m) {
  Value ninf = constantLike(m, -std::numeric_limits<double>::infinity());
  return k.select(k.feq(m, ninf), constantLike(m, 0.0), m);
}

Value OnlineSoftmax::weight(Value x, Value mSafe) {
  Value ninf = constantLike(x, -std::numeric_limits<double>::infinity());
  return k.select(k.feq(x, ninf), constantLike(x, 0.0),
                  k.exp(k.fsub(x, mSafe)));
}

OnlineSoftmax::Step OnlineSoftmax::rescale(Value m, Value blockMax) {
  Step step;
  step.max = k.fmax(m, blockMax);
  step.safeMax = safeMax(step.max);
  step.alpha = weight(m, step.safeMax);
  return step;
}

Value OnlineSoftmax::pointwiseWeight(AggregationKind kind, Value s) {
  Value w = s;
  if (kind == AggregationKind::sigmoid) {
    Value one = constantLike(s, 1.0);
    w = k.fdiv(one, k.fadd(one, k.exp(arith::NegFOp::create(k.b, k.loc, s))));
  }
  Value ninf = constantLike(s, -std::numeric_limits<double>::infinity());
  return k.select(k.feq(s, ninf), constantLike(s, 0.0), w);
}

std::pair<Value, Value> OnlineSoftmax::finish(Value m, Value l, Value sink) {
  Value alpha = k.f32(1.0), zero = k.f32(0.0);
  if (sink) {
    Value mSafe = safeMax(k.fmax(m, sink));
    alpha = k.exp(k.fsub(m, mSafe));
    l = k.fadd(k.fmul(l, alpha), k.exp(k.fsub(sink, mSafe)));
    m = mSafe;
  } else {
    m = safeMax(m);
  }
  Value factor = k.select(k.feq(l, zero), zero, k.fdiv(alpha, l));
  return {factor, k.fadd(m, math::LogOp::create(k.b, k.loc, l))};
}

OnlineSoftmax::Merge OnlineSoftmax::merge(ArrayRef<Value> lses, Value sink) {
  Value m = k.negInf(), zero = k.f32(0.0);
  for (Value lse : lses)
    m = k.fmax(m, lse);
  if (sink)
    m = k.fmax(m, sink);
  Value mSafe = safeMax(m);
  Merge result;
  Value l = zero;
  for (Value lse : lses) {
    result.weights.push_back(weight(lse, mSafe));
    l = k.fadd(l, result.weights.back());
  }
  if (sink)
    l = k.fadd(l, k.exp(k.fsub(sink, mSafe)));
  result.factor = k.select(k.feq(l, zero), zero, k.fdiv(k.f32(1.0), l));
  result.lse = k.fadd(mSafe, math::LogOp::create(k.b, k.loc, l));
  return result;
}

void OnlineSoftmax::storeRow(bool softmax, Value m, Value l, Value sink,
                             ArrayRef<Value> acc, Value out, Value lse,
                             ValueRange row) {
  Value factor = k.f32(1.0), lseValue;
  if (softmax)
    std::tie(factor, lseValue) = finish(m, l, sink);
  auto vt = cast<VectorType>(acc.front().getType());
  Value factorV = k.bcast(vt, factor);
  Type outElt = cast<MemRefType>(out.getType()).getElementType();
  for (auto [c, a] : llvm::enumerate(acc)) {
    SmallVector<Value> ivs(row);
    ivs.push_back(k.idx(c * vt.getNumElements()));
    k.vstore(k.fromF32(k.fmul(a, factorV), outElt), out, ivs);
  }
  if (lse)
    k.store(lseValue, lse, row);
}
