//===- GradBuffers.cpp - what every attention backward starts from --------===//

#include "attn/Kernel/GradBuffers.h"

using namespace mlir;
using namespace mlir::attn;

void AttentionGradBuffers::loadOperands(KernelBuilder &k, AttentionGradOp op,
                                        bool readOutput, bool readLse) {
  q = k.toBuffer(op.getQuery());
  key = k.toBuffer(op.getKey());
  v = k.toBuffer(op.getValue());
  out = readOutput ? k.toBuffer(op.getOutput()) : Value();
  dOut = k.toBuffer(op.getGradOutput());
  lse = readLse && op.getLse() ? k.toBuffer(op.getLse()) : Value();
  dLse = op.getGradLse() ? k.toBuffer(op.getGradLse()) : Value();
  sinks = op.getSinks() ? k.toBuffer(op.getSinks()) : Value();
  batch = k.dimOf(op.getQuery(), 0);
  sq = k.dimOf(op.getQuery(), 2);
  skv = k.dimOf(op.getKey(), 2);
  // Query i is at offset + i: bottom-right alignment, or a positioned
  // block's query base.
  offset = op.getPositions().empty() ? k.sub(skv, sq) : op.getPositions()[0];
}

void AttentionGradBuffers::allocateGradients(KernelBuilder &k,
                                             AttentionGradOp op,
                                             const HeadDims &dims) {
  auto allocLike = [&](Value operand, ArrayRef<Value> sizes) {
    return k.allocLike(cast<RankedTensorType>(operand.getType()), sizes);
  };
  Value hq = k.idx(dims.hq), hkv = k.idx(dims.hkv);
  dq = allocLike(op.getQuery(), {batch, hq, sq, k.idx(dims.d)});
  dk = allocLike(op.getKey(), {batch, hkv, skv, k.idx(dims.d)});
  dv = allocLike(op.getValue(), {batch, hkv, skv, k.idx(dims.dv)});
  if (sinks)
    dSinks = allocLike(op.getSinks(), {hq});
}
