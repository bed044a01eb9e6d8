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

#include "attn/Conversion/AttnToLoops/Gather.h"
#include "attn/Conversion/Passes.h"
#include "attn/Kernel/CpuTarget.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Kernel/OnlineSoftmax.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The mask of a gather: the first csr/indices pattern drives the loop over
/// a row's keys; the other patterns (and the predicate) are evaluated per
/// visited key.
struct KeyLists {
  bool csr = false;
  SmallVector<Value> driverOperands;
  SmallVector<Attribute> otherPatterns;
  SmallVector<Value> otherOperands;
};

/// Builds the gather kernel of one op at the rewriter's insertion point: one
/// method per phase, sharing the sizes, the buffers and the current row.
class GatherBuilder {
public:
  GatherBuilder(RewriterBase &rw, AttentionOp op, const TileOptions &options,
                const HeadDims &dims, KeyLists lists);

  /// The kernel; returns the op's results.
  SmallVector<Value> build();

private:
  /// One query row: the loop over its listed keys and the row's finish.
  void buildRow(Value bi, Value hi, Value i);
  /// The key in `slot` of the current row (-1: none).
  Value keyOf(Value slot);
  /// Whether `slot`, holding key `j`, names a key to visit: a valid key not
  /// listed in an earlier slot (always, for csr).
  Value slotKept(Value slot, Value j);
  /// The state (m, l, acc...) after the chunk of listed keys from slot `e0`.
  SmallVector<Value> visitChunk(Value e0, ValueRange state);
  /// The scores of the chunk's `count` keys into sBuf (masked: -inf; -inf
  /// past `count`), and the keys into jBuf.
  void scoreChunk(Value e0, Value count);
  /// Replaces the chunk's scores in sBuf by their weights; returns the next
  /// (m, l) and sets `alpha` (softmax only) to the factor that rescales the
  /// accumulator.
  SmallVector<Value> weighChunk(Value m, Value l, Value &alpha);
  /// acc * alpha + sum_t w_t V[j_t] over the chunk's `count` keys.
  SmallVector<Value> accumulateChunk(Value count, Value alpha, ValueRange acc);

  RewriterBase &rw;
  AttentionOp op;
  Location loc;
  KernelBuilder k;
  OnlineSoftmax softmaxOps;
  KeyLists lists;

  // Configuration.
  int64_t hq, group, vw, vwDot, vwOut, numDot, numOut;
  /// Listed keys handled together: whole vectors of scores.
  int64_t chunk;
  AggregationKind kind;
  bool softmax;
  VectorType vecS, vecO, vecV;

  // Buffers and constants.
  AttentionIO io;
  Value list0, list1, numSlots;
  Value zeroIdx, oneIdx, ninf, zero;

  // The current query row: indices, key head, scaled query, slots [lo, hi)
  // and the chunk's weights and keys.
  Value bi, hi, i, hk;
  SmallVector<Value> q;
  Value lo, hiSlot, sBuf, jBuf;
};

} // namespace

static Value toIndex(KernelBuilder &k, Value v) {
  return arith::IndexCastOp::create(k.b, k.loc, k.b.getIndexType(), v);
}

/// The op's KeyLists, or nullopt when no pattern is csr or indices.
static std::optional<KeyLists> splitKeyLists(AttentionOp op) {
  KeyLists lists;
  bool found = false;
  ValueRange operands = op.getMaskOperands();
  for (Attribute p : op.getPatterns()) {
    unsigned count = cast<MaskPatternAttrInterface>(p).getNumMaskOperands();
    if (!found && isa<CsrAttr, IndicesAttr>(p)) {
      found = true;
      lists.csr = isa<CsrAttr>(p);
      llvm::append_range(lists.driverOperands, operands.take_front(count));
    } else {
      lists.otherPatterns.push_back(p);
      llvm::append_range(lists.otherOperands, operands.take_front(count));
    }
    operands = operands.drop_front(count);
  }
  if (!found)
    return std::nullopt;
  return lists;
}

GatherBuilder::GatherBuilder(RewriterBase &rw, AttentionOp op,
                             const TileOptions &options, const HeadDims &dims,
                             KeyLists lists)
    : rw(rw), op(op), loc(op.getLoc()), k(rw, loc), softmaxOps(k),
      lists(std::move(lists)), hq(dims.hq), group(dims.hq / dims.hkv),
      vw(resolveVectorWidth(options.vectorWidth, options.target)),
      vwDot(largestDividingWidth(dims.d, vw)),
      vwOut(largestDividingWidth(dims.dv, vw)), numDot(dims.d / vwDot),
      numOut(dims.dv / vwOut), chunk(std::max<int64_t>(64 / vw, 1) * vw),
      kind(op.getKind()), softmax(kind == AggregationKind::softmax),
      vecS(VectorType::get({vw}, rw.getF32Type())),
      vecO(VectorType::get({vwOut}, rw.getF32Type())),
      vecV(VectorType::get(
          {vwOut},
          cast<RankedTensorType>(op.getValue().getType()).getElementType())),
      io(k, op) {
  // Key lists as index buffers.
  const SmallVector<Value> &driver = this->lists.driverOperands;
  list0 = k.toBuffer(driver[0]);
  list1 = this->lists.csr ? k.toBuffer(driver[1]) : Value();
  zeroIdx = k.idx(0);
  // Slots: masked ones still read key 0 (then weigh it 0), so with no keys
  // at all (Skv = 0, every slot -1) there are none to visit. (A CSR row has
  // no entries then.)
  if (!this->lists.csr)
    numSlots = k.select(arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq,
                                              io.skv, zeroIdx),
                        zeroIdx, k.dimOf(driver[0], 3));
  oneIdx = k.idx(1);
  ninf = k.negInf();
  zero = k.f32(0.0);
}

SmallVector<Value> GatherBuilder::build() {
  scf::ParallelOp::create(rw, loc, ValueRange{zeroIdx, zeroIdx, zeroIdx},
                          ValueRange{io.batch, k.idx(hq), io.sq},
                          ValueRange{oneIdx, oneIdx, oneIdx},
                          [&](OpBuilder &nb, Location, ValueRange ivs) {
                            OpBuilder::InsertionGuard g(rw);
                            rw.setInsertionPoint(nb.getInsertionBlock(),
                                                 nb.getInsertionPoint());
                            buildRow(ivs[0], ivs[1], ivs[2]);
                          });
  return io.results(k);
}

void GatherBuilder::buildRow(Value rowB, Value rowH, Value rowI) {
  bi = rowB;
  hi = rowH;
  i = rowI;
  hk = arith::DivUIOp::create(rw, loc, hi, k.idx(group));
  q = k.loadRow(io.q, {bi, hi, i}, vwDot, numDot,
                k.f32(op.getEffectiveScale()));
  if (lists.csr) {
    lo = toIndex(k, k.load(list0, i));
    hiSlot = toIndex(k, k.load(list0, k.add(i, oneIdx)));
  } else {
    lo = zeroIdx;
    hiSlot = numSlots;
  }

  // Chunks of `chunk` listed keys: their scores are independent (the K
  // loads overlap), then one max, one rescale and vector exps per chunk,
  // then P V.
  sBuf = k.stackBuffer({chunk});
  jBuf = memref::AllocaOp::create(rw, loc,
                                  MemRefType::get({chunk}, rw.getIndexType()));
  SmallVector<Value> inits = {ninf, zero};
  for (int64_t c = 0; c < numOut; ++c)
    inits.push_back(k.splat(vecO, 0.0));
  SmallVector<Value> state =
      k.reduceMany(lo, hiSlot, chunk, inits,
                   [&](Value e0, ValueRange st) { return visitChunk(e0, st); });

  // Finish: sinks, normalisation, lse.
  softmaxOps.storeRow(
      softmax, state[0], state[1], io.sinks ? k.load(io.sinks, hi) : Value(),
      ArrayRef<Value>(state).drop_front(2), io.out, io.lse, {bi, hi, i});
}

Value GatherBuilder::keyOf(Value slot) {
  if (lists.csr)
    return toIndex(k, k.load(list1, slot));
  return toIndex(k, k.load(list0, {bi, hi, i, slot}));
}

Value GatherBuilder::slotKept(Value slot, Value j) {
  if (lists.csr)
    return arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true));
  Value valid = arith::AndIOp::create(
      rw, loc,
      arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::sge, j, zeroIdx),
      arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::slt, j, io.skv));
  Value seen =
      k.reduce(zeroIdx, slot, 1,
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
}

SmallVector<Value> GatherBuilder::visitChunk(Value e0, ValueRange state) {
  Value count = k.minI(k.idx(chunk), k.sub(hiSlot, e0));
  scoreChunk(e0, count);
  Value alpha;
  SmallVector<Value> next = weighChunk(state[0], state[1], alpha);
  llvm::append_range(next, accumulateChunk(count, alpha, state.drop_front(2)));
  return next;
}

void GatherBuilder::scoreChunk(Value e0, Value count) {
  k.loop(zeroIdx, count, 1, [&](Value t) {
    Value slot = k.add(e0, t);
    Value j = keyOf(slot);
    // Unlisted slots read key 0 and are masked.
    Value kept = slotKept(slot, j);
    Value jSafe = k.select(kept, j, zeroIdx);
    Value s = k.dotRow(q, io.key, {bi, hk, jSafe});
    if (!op.getScoreMod().empty())
      s = inlineRegion(rw, op.getScoreMod(), {s, bi, hi, i, jSafe});
    Value keep = kept;
    if (!lists.otherPatterns.empty() || !op.getPredicate().empty()) {
      MaskPredicateBuilder pb(rw, loc, io.sq, io.skv);
      pb.setIndices(bi, hi, i, jSafe);
      keep = arith::AndIOp::create(
          rw, loc, keep,
          pb.buildAll(rw.getArrayAttr(lists.otherPatterns), lists.otherOperands,
                      op.getPredicate()));
    }
    k.store(k.select(keep, s, ninf), sBuf, t);
    k.store(jSafe, jBuf, t);
  });
  k.loop(count, k.idx(chunk), 1, [&](Value t) { k.store(ninf, sBuf, t); });
}

SmallVector<Value> GatherBuilder::weighChunk(Value m, Value l, Value &alpha) {
  SmallVector<Value> scores;
  for (int64_t c = 0; c < chunk / vw; ++c)
    scores.push_back(k.vload(vecS, sBuf, {k.idx(c * vw)}));
  if (!softmax) {
    for (auto [c, s] : llvm::enumerate(scores))
      k.vstore(softmaxOps.pointwiseWeight(kind, s), sBuf, {k.idx(c * vw)});
    return {m, l};
  }
  Value mx = scores[0];
  for (Value s : ArrayRef<Value>(scores).drop_front())
    mx = k.fmax(mx, s);
  OnlineSoftmax::Step step =
      softmaxOps.rescale(m, vector::ReductionOp::create(
                                rw, loc, vector::CombiningKind::MAXIMUMF, mx));
  alpha = step.alpha;
  Value mSafeV = k.bcast(vecS, step.safeMax), sum = k.splat(vecS, 0.0);
  for (auto [c, s] : llvm::enumerate(scores)) {
    Value p = softmaxOps.weight(s, mSafeV);
    k.vstore(p, sBuf, {k.idx(c * vw)});
    sum = k.fadd(sum, p);
  }
  Value chunkSum =
      vector::ReductionOp::create(rw, loc, vector::CombiningKind::ADD, sum);
  return {step.max, softmaxOps.sum(alpha, l, chunkSum)};
}

SmallVector<Value> GatherBuilder::accumulateChunk(Value count, Value alpha,
                                                  ValueRange acc) {
  SmallVector<Value> scaled;
  Value alphaV = alpha ? k.bcast(vecO, alpha) : Value();
  for (Value a : acc)
    scaled.push_back(alphaV ? k.fmul(a, alphaV) : a);
  return k.reduceMany(
      zeroIdx, count, 1, scaled,
      [&](Value t, ValueRange a) -> SmallVector<Value> {
        Value wV = k.bcast(vecO, k.load(sBuf, t));
        Value j = k.load(jBuf, t);
        SmallVector<Value> out;
        for (int64_t c = 0; c < numOut; ++c)
          out.push_back(k.fma(
              wV, k.toF32(k.vload(vecV, io.v, {bi, hk, j, k.idx(c * vwOut)})),
              a[c]));
        return out;
      });
}

FailureOr<SmallVector<Value>>
mlir::attn::gatherAttention(RewriterBase &rw, AttentionOp op,
                            const TileOptions &options) {
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or head dimension");
  std::optional<KeyLists> lists = splitKeyLists(op);
  if (!lists)
    return rw.notifyMatchFailure(op, "no csr or indices pattern");
  // The gather form is one online pass; entmax needs the whole row first.
  if (op.getKind() == AggregationKind::entmax)
    return rw.notifyMatchFailure(op, "entmax: tiled or naive form");
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  return GatherBuilder(rw, op, options, *dims, std::move(*lists)).build();
}
