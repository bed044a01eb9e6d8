//===- Select.cpp - per-row top-k selection, fused with its scores --------===//
//
// attn.select_topk as one pass over each score row that keeps the row's
// best top_k (score, key) pairs sorted in a small stack buffer: a key that
// does not beat the current k-th score costs one compare, so a row costs
// O(Skv) plus O(k) per insertion. When the scores come straight from an
// attn.score used nowhere else, each score is computed in the loop (vector
// dot products of the query row, held in registers, with the key rows):
// the Sq x Skv score tensor is never built.
//
//===----------------------------------------------------------------------===//

#include "attn/Kernel/CpuTarget.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Conversion/AttnToLoops/Select.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::attn;

FailureOr<Value> mlir::attn::lowerSelectTopk(RewriterBase &rw, SelectTopkOp op,
                                             const TileOptions &options) {
  Location loc = op.getLoc();
  auto outTy = cast<RankedTensorType>(op.getType());
  const int64_t topK = op.getTopK();
  // Fuse the scores when this is their only use.
  auto score = op.getScores().getDefiningOp<ScoreOp>();
  if (score && !score->hasOneUse())
    score = nullptr;
  int64_t hq = 0, hkv = 0, d = 0;
  if (score) {
    auto qTy = cast<RankedTensorType>(score.getQuery().getType());
    auto kTy = cast<RankedTensorType>(score.getKey().getType());
    hq = qTy.getDimSize(1);
    hkv = kTy.getDimSize(1);
    d = qTy.getDimSize(3);
    if (ShapedType::isDynamic(hq) || ShapedType::isDynamic(hkv) ||
        ShapedType::isDynamic(d) || hkv == 0)
      score = nullptr;
  }
  if (!score && ShapedType::isDynamic(outTy.getDimSize(1)))
    return rw.notifyMatchFailure(op, "dynamic head count");

  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  KernelBuilder k(rw, loc);
  Type i32 = rw.getI32Type();
  Value batch, heads, sq, skv, qB, kB, sB;
  if (score) {
    batch = k.dimOf(score.getQuery(), 0);
    heads = k.idx(hq);
    sq = k.dimOf(score.getQuery(), 2);
    skv = k.dimOf(score.getKey(), 2);
    qB = k.toBuffer(score.getQuery());
    kB = k.toBuffer(score.getKey());
  } else {
    batch = k.dimOf(op.getScores(), 0);
    heads = k.dimOf(op.getScores(), 1);
    sq = k.dimOf(op.getScores(), 2);
    skv = k.dimOf(op.getScores(), 3);
    sB = k.toBuffer(op.getScores());
  }
  Value outB = k.allocLike(outTy, {batch, heads, sq, k.idx(topK)});
  const int64_t vw =
      resolveVectorWidth(options.vectorWidth, options.target);
  const int64_t vwDot = score ? largestDividingWidth(d, vw) : 1;
  Value zero = k.idx(0), one = k.idx(1), kIdx = k.idx(topK);
  Value ninf = k.negInf();
  auto cmpF = [&](arith::CmpFPredicate p, Value x, Value y) -> Value {
    return arith::CmpFOp::create(rw, loc, p, x, y);
  };
  auto cmpI = [&](arith::CmpIPredicate p, Value x, Value y) -> Value {
    return arith::CmpIOp::create(rw, loc, p, x, y);
  };

  scf::ParallelOp::create(
      rw, loc, ValueRange{zero, zero, zero}, ValueRange{batch, heads, sq},
      ValueRange{one, one, one}, [&](OpBuilder &nb, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard g(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value bi = ivs[0], hi = ivs[1], i = ivs[2];
        // The query row, scaled, in registers.
        SmallVector<Value> q;
        Value hk;
        if (score) {
          hk = arith::DivUIOp::create(rw, loc, hi, k.idx(hq / hkv));
          q = k.loadRow(qB, {bi, hi, i}, vwDot, d / vwDot,
                        k.f32(score.getEffectiveScale()));
        }
        auto scoreOf = [&](Value j) -> Value {
          if (!score)
            return k.load(sB, {bi, hi, i, j});
          return k.dotRow(q, kB, {bi, hk, j});
        };
        // The best scores so far, descending, and their keys.
        Value vals = k.stackBuffer({topK});
        Value keys = memref::AllocaOp::create(
            rw, loc, MemRefType::get({topK}, rw.getIndexType()));
        k.loop(zero, kIdx, 1, [&](Value t) {
          k.store(ninf, vals, t);
          k.store(zero, keys, t);
        });
        Value count = k.reduce(zero, skv, 1, zero, [&](Value j, Value n) {
          Value s = scoreOf(j);
          // Masked (-inf) and NaN scores are never chosen; a full buffer
          // admits only a strictly better score (ties keep smaller keys).
          Value last = k.load(vals, k.idx(topK - 1));
          Value full = cmpI(arith::CmpIPredicate::eq, n, kIdx);
          Value admit = arith::AndIOp::create(
              rw, loc, cmpF(arith::CmpFPredicate::OGT, s, ninf),
              arith::OrIOp::create(
                  rw, loc,
                  arith::XOrIOp::create(
                      rw, loc, full,
                      arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true))),
                  cmpF(arith::CmpFPredicate::OGT, s, last)));
          auto ifOp = scf::IfOp::create(rw, loc, TypeRange{rw.getIndexType()},
                                        admit, /*withElseRegion=*/true);
          OpBuilder::InsertionGuard g2(rw);
          rw.setInsertionPointToStart(&ifOp.getElseRegion().front());
          scf::YieldOp::create(rw, loc, n);
          rw.setInsertionPointToStart(&ifOp.getThenRegion().front());
          // Its place: after every kept score >= s.
          Value pos = k.reduce(zero, n, 1, zero, [&](Value t, Value p) {
            Value before = cmpF(arith::CmpFPredicate::OGE, k.load(vals, t), s);
            return k.add(p, k.select(before, one, zero));
          });
          // Shift [pos, end) one slot down; the k-th falls off when full.
          Value end = k.minI(n, k.idx(topK - 1));
          k.loop(zero, k.sub(end, pos), 1, [&](Value u) {
            Value t = k.sub(end, u);
            Value from = k.sub(t, one);
            k.store(k.load(vals, from), vals, t);
            k.store(k.load(keys, from), keys, t);
          });
          k.store(s, vals, pos);
          k.store(j, keys, pos);
          scf::YieldOp::create(rw, loc, k.minI(k.add(n, one), kIdx));
          return ifOp.getResult(0);
        });
        k.loop(zero, kIdx, 1, [&](Value t) {
          Value used = cmpI(arith::CmpIPredicate::slt, t, count);
          Value key = arith::IndexCastOp::create(rw, loc, i32, k.load(keys, t));
          k.store(k.select(used, key,
                           arith::ConstantOp::create(rw, loc,
                                                     rw.getI32IntegerAttr(-1))),
                  outB, {bi, hi, i, t});
        });
      });
  return k.toTensor(outTy, outB);
}
