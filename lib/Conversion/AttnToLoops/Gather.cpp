//===- Gather.cpp - gather form of attn.attention over key lists ----------===//
//
// Element-level sparsity that blocks cannot express: a mask with a
// `#attn.csr` adjacency or `#attn.indices` key lists visits, for each query
// row, exactly the keys of its list. Per (batch, query head, query) -- the
// iterations of one scf.parallel -- the scaled query lives in registers and
// a loop over the row's keys, in chunks of 64, carries the online-softmax
// state:
//
//   s_t = <q, K[j_t]>, score_mod, -inf unless the other patterns keep it
//   m'  = max(m, max_t s_t);  p_t = exp(s_t - m')  (vectors)
//   l   = exp(m - m') l + sum_t p_t
//   acc = exp(m - m') acc + sum_t p_t V[j_t]
//
// The scores of a chunk are independent, so their K loads overlap.
// Memory is the output alone: nothing proportional to Sq x Skv exists.
// Duplicate entries of an #attn.indices row count once (the mask is a set);
// -1 marks an unused slot.
//
//===----------------------------------------------------------------------===//

#include "attn/Kernel/CpuTarget.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Conversion/Passes.h"
#include "attn/Conversion/AttnToLoops/Gather.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::attn;

FailureOr<SmallVector<Value>>
mlir::attn::gatherAttention(RewriterBase &rw, AttentionOp op,
                            const TileOptions &options) {
  auto vTy = cast<RankedTensorType>(op.getValue().getType());
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or head dimension");
  const int64_t hq = dims->hq, hkv = dims->hkv, d = dims->d, dv = dims->dv;

  // The first csr/indices pattern drives the loop; the others (and the
  // predicate) are evaluated per visited key.
  int64_t driver = -1;
  SmallVector<Attribute> otherPatterns;
  SmallVector<Value> driverOperands, otherOperands;
  ValueRange operands = op.getMaskOperands();
  for (auto [n, p] : llvm::enumerate(op.getPatterns())) {
    unsigned count = cast<MaskPatternAttrInterface>(p).getNumMaskOperands();
    if (driver < 0 && isa<CsrAttr, IndicesAttr>(p)) {
      driver = n;
      llvm::append_range(driverOperands, operands.take_front(count));
    } else {
      otherPatterns.push_back(p);
      llvm::append_range(otherOperands, operands.take_front(count));
    }
    operands = operands.drop_front(count);
  }
  if (driver < 0)
    return rw.notifyMatchFailure(op, "no csr or indices pattern");
  bool csr = isa<CsrAttr>(op.getPatterns()[driver]);

  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  KernelBuilder k(rw, op.getLoc());
  Location loc = op.getLoc();
  Type f32 = rw.getF32Type();
  const int64_t vw =
      resolveVectorWidth(options.vectorWidth, options.target);
  const int64_t vwDot = largestDividingWidth(d, vw),
                vwOut = largestDividingWidth(dv, vw);
  const int64_t numDot = d / vwDot, numOut = dv / vwOut;
  // Listed keys handled together: whole vectors of scores.
  const int64_t chunk = std::max<int64_t>(64 / vw, 1) * vw;
  auto vecS = VectorType::get({vw}, f32);
  auto vecO = VectorType::get({vwOut}, f32);
  const int64_t group = hq / hkv;
  const AggregationKind kind = op.getKind();
  const bool softmax = kind == AggregationKind::softmax;

  AttentionIO io(k, op);
  Value qB = io.q, kB = io.key, vB = io.v, sinksB = io.sinks;
  Value batch = io.batch, sq = io.sq, skv = io.skv;
  Value outB = io.out, lseB = io.lse;
  // Key lists as index buffers.
  Value list0 = k.toBuffer(driverOperands[0]);
  Value list1 = csr ? k.toBuffer(driverOperands[1]) : Value();
  Value numSlots = csr ? Value() : k.dimOf(driverOperands[0], 3);
  const double scale = op.getEffectiveScale();
  Value zeroIdx = k.idx(0), oneIdx = k.idx(1);
  Value ninf = k.negInf(), zero = k.f32(0.0);
  auto toIndex = [&](Value v) -> Value {
    return arith::IndexCastOp::create(rw, loc, rw.getIndexType(), v);
  };

  scf::ParallelOp::create(
      rw, loc, ValueRange{zeroIdx, zeroIdx, zeroIdx},
      ValueRange{batch, k.idx(hq), sq}, ValueRange{oneIdx, oneIdx, oneIdx},
      [&](OpBuilder &nb, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard g(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value bi = ivs[0], hi = ivs[1], i = ivs[2];
        Value hk = arith::DivUIOp::create(rw, loc, hi, k.idx(group));
        SmallVector<Value> q =
            k.loadRow(qB, {bi, hi, i}, vwDot, numDot, k.f32(scale));

        // The row's slots [lo, hi) and the key of a slot (-1: none).
        Value lo, hiSlot;
        if (csr) {
          lo = toIndex(k.load(list0, i));
          hiSlot = toIndex(k.load(list0, k.add(i, oneIdx)));
        } else {
          lo = zeroIdx;
          hiSlot = numSlots;
        }
        auto keyOf = [&](Value slot) -> Value {
          if (csr)
            return toIndex(k.load(list1, slot));
          return toIndex(k.load(list0, {bi, hi, i, slot}));
        };
        auto slotKept = [&](Value slot, Value j) -> Value {
          if (csr)
            return arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true));
          // A valid key not listed in an earlier slot.
          Value valid = arith::AndIOp::create(
              rw, loc,
              arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::sge, j,
                                    zeroIdx),
              arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::slt, j,
                                    skv));
          Value seen = k.reduce(
              zeroIdx, slot, 1,
              arith::ConstantOp::create(rw, loc, rw.getBoolAttr(false)),
              [&](Value t, Value acc) {
                return arith::OrIOp::create(
                    rw, loc, acc,
                    arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq,
                                          keyOf(t), j));
              });
          return arith::AndIOp::create(
              rw, loc, valid,
              arith::XOrIOp::create(
                  rw, loc, seen,
                  arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true))));
        };

        // Chunks of `chunk` listed keys: their scores are independent (the
        // K loads overlap), then one max, one rescale and vector exps per
        // chunk, then P V.
        Value sBuf = k.stackBuffer({chunk});
        Value jBuf = memref::AllocaOp::create(
            rw, loc, MemRefType::get({chunk}, rw.getIndexType()));
        auto vecVT = VectorType::get({vwOut}, vTy.getElementType());
        SmallVector<Value> inits = {ninf, zero};
        for (int64_t c = 0; c < numOut; ++c)
          inits.push_back(k.splat(vecO, 0.0));
        SmallVector<Value> state = k.reduceMany(
            lo, hiSlot, chunk, inits,
            [&](Value e0, ValueRange st) -> SmallVector<Value> {
              Value cnt = k.minI(k.idx(chunk), k.sub(hiSlot, e0));
              k.loop(zeroIdx, cnt, 1, [&](Value t) {
                Value slot = k.add(e0, t);
                Value j = keyOf(slot);
                // Unlisted slots read key 0 and are masked.
                Value kept = slotKept(slot, j);
                Value jSafe = k.select(kept, j, zeroIdx);
                Value s = k.dotRow(q, kB, {bi, hk, jSafe});
                if (!op.getScoreMod().empty())
                  s = inlineRegion(rw, op.getScoreMod(), {s, bi, hi, i, jSafe});
                Value keep = kept;
                if (!otherPatterns.empty() || !op.getPredicate().empty()) {
                  MaskPredicateBuilder pb(rw, loc, sq, skv);
                  pb.setIndices(bi, hi, i, jSafe);
                  keep = arith::AndIOp::create(
                      rw, loc, keep,
                      pb.buildAll(rw.getArrayAttr(otherPatterns), otherOperands,
                                  op.getPredicate()));
                }
                k.store(k.select(keep, s, ninf), sBuf, t);
                k.store(jSafe, jBuf, t);
              });
              k.loop(cnt, k.idx(chunk), 1,
                     [&](Value t) { k.store(ninf, sBuf, t); });

              // Weights of the chunk, in vectors.
              Value ninfV = k.splat(vecS, -INFINITY), zv = k.splat(vecS, 0.0);
              SmallVector<Value> sv;
              for (int64_t c = 0; c < chunk / vw; ++c)
                sv.push_back(k.vload(vecS, sBuf, {k.idx(c * vw)}));
              Value m = st[0], l = st[1], alpha;
              SmallVector<Value> next;
              if (softmax) {
                Value mx = sv[0];
                for (int64_t c = 1; c < (int64_t)sv.size(); ++c)
                  mx = k.fmax(mx, sv[c]);
                Value mNew = k.fmax(
                    m, vector::ReductionOp::create(
                           rw, loc, vector::CombiningKind::MAXIMUMF, mx));
                Value mSafe = k.safeMax(mNew);
                alpha = k.exp(k.fsub(m, mSafe));
                Value mSafeV = k.bcast(vecS, mSafe), sum = zv;
                for (int64_t c = 0; c < (int64_t)sv.size(); ++c) {
                  // exp may be a clamped polynomial: masked keys weigh 0.
                  Value p = k.select(k.feq(sv[c], ninfV), zv,
                                     k.exp(k.fsub(sv[c], mSafeV)));
                  k.vstore(p, sBuf, {k.idx(c * vw)});
                  sum = k.fadd(sum, p);
                }
                Value chunkSum = vector::ReductionOp::create(
                    rw, loc, vector::CombiningKind::ADD, sum);
                next = {mNew, k.fadd(k.fmul(alpha, l), chunkSum)};
              } else {
                Value one = k.splat(vecS, 1.0);
                for (int64_t c = 0; c < (int64_t)sv.size(); ++c) {
                  Value w = sv[c];
                  if (kind == AggregationKind::sigmoid)
                    w = k.fdiv(one, k.fadd(one, k.exp(arith::NegFOp::create(
                                                    rw, loc, sv[c]))));
                  k.vstore(k.select(k.feq(sv[c], ninfV), zv, w), sBuf,
                           {k.idx(c * vw)});
                }
                next = {m, l};
              }
              SmallVector<Value> acc;
              Value alphaV = alpha ? k.bcast(vecO, alpha) : Value();
              for (int64_t c = 0; c < numOut; ++c)
                acc.push_back(alphaV ? k.fmul(st[2 + c], alphaV) : st[2 + c]);
              acc = k.reduceMany(
                  zeroIdx, cnt, 1, acc,
                  [&](Value t, ValueRange a) -> SmallVector<Value> {
                    Value wV = k.bcast(vecO, k.load(sBuf, t));
                    Value j = k.load(jBuf, t);
                    SmallVector<Value> out;
                    for (int64_t c = 0; c < numOut; ++c)
                      out.push_back(
                          k.fma(wV,
                                k.toF32(k.vload(vecVT, vB,
                                                {bi, hk, j, k.idx(c * vwOut)})),
                                a[c]));
                    return out;
                  });
              llvm::append_range(next, acc);
              return next;
            });

        // Finish: sinks, normalisation, lse.
        k.storeRow(
            softmax, state[0], state[1], sinksB ? k.load(sinksB, hi) : Value(),
            ArrayRef<Value>(state).drop_front(2), outB, lseB, {bi, hi, i});
      });

  return io.results(k);
}
