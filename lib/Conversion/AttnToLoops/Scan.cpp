//===- Scan.cpp - scan form of attention of one query over every prefix ---===//
//
// Attention as an RNN (mechanism D6 of docs/language.md): when every query
// row is the same vector q (a broadcast) and the mask is causal, row i
// attends to the prefix of keys 0..e(i), e(i) = i + Skv - Sq. Each key then
// has one score s_j = scale q.k_j, and the softmax state of a prefix,
//
//   (m, l, a) = (max_j s_j, sum_j exp(s_j - m), sum_j exp(s_j - m) v_j),
//
// is a monoid under
//
//   (m1, l1, a1) + (m2, l2, a2) = (m, l1 e^(m1-m) + l2 e^(m2-m),
//                                     a1 e^(m1-m) + a2 e^(m2-m)),  m = max,
//
// so every row's output a/l is one prefix scan. The scan is the classic
// three-phase parallel one, per (batch, head), over chunks of C keys:
//
//   1. parallel over chunks: the scores (kept in an [B, H, Skv] buffer) and
//      the chunk's own state;
//   2. per (batch, head): the exclusive scan of the chunk states, in place;
//   3. parallel over chunks: from the carried state, add key by key and
//      write the row whose prefix ends there: o = a / l, lse = m + log l.
//
// Work is O(Skv (D + Dv)) against the tiled form's O(Sq Skv D) / 2. The
// O(1)-memory streaming update is the same monoid applied to one key, which
// a program writes as attn.merge of the carried (o, lse) with the attention
// over the new key (examples/scan/aaren-step.mlir).
//
// Aggregation `none` and `sigmoid` have no max: their state is the weighted
// sum alone, and the same three phases compute its prefix sums.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToLoops/Scan.h"
#include "attn/Conversion/AttnToLoops/ScanGrad.h"
#include "attn/Conversion/Passes.h"
#include "attn/Kernel/CpuTarget.h"
#include "attn/Kernel/FormDriver.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Kernel/OnlineSoftmax.h"

#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNSCAN
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

linalg::LinalgOp mlir::attn::getQueryBroadcast(Value query) {
  auto op = query.getDefiningOp<linalg::LinalgOp>();
  if (!op || !op.hasPureTensorSemantics() || op.getNumDpsInputs() != 1 ||
      op.getNumDpsInits() != 1 || op.getNumLoops() != 4 ||
      op.getNumParallelLoops() != 4)
    return {};
  // out[b, h, i, d] = in[f(b, h, d)]: the output map is the identity and the
  // input's does not use i.
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!maps[1].isIdentity() || maps[0].isFunctionOfDim(2))
    return {};
  // The body copies the input element.
  Block *body = op.getBlock();
  if (!body || body->getOperations().size() != 1)
    return {};
  Operation *yield = body->getTerminator();
  if (yield->getNumOperands() != 1 ||
      yield->getOperand(0) != body->getArgument(0))
    return {};
  return op;
}

/// Whether the region's argument `n` (if the region exists) is unused.
static bool argumentUnused(Region &region, unsigned n) {
  return region.empty() || region.getArgument(n).use_empty();
}

/// Whether an attention or attention_grad op is attention of one query over
/// every prefix (isPrefixAttention).
template <typename OpT> static bool isPrefixForm(OpT op) {
  ArrayAttr patterns = op.getPatterns();
  return getQueryBroadcast(op.getQuery()) && patterns.size() == 1 &&
         isa<CausalAttr>(patterns[0]) &&
         argumentUnused(op.getScoreMod(), /*i=*/3) &&
         argumentUnused(op.getPredicate(), /*i=*/2) &&
         op.getKind() != AggregationKind::entmax &&
         (!op.getLse() || op.getKind() == AggregationKind::softmax);
}

bool mlir::attn::isPrefixAttention(AttentionOp op) {
  return op.getPositions().empty() && isPrefixForm(op);
}

bool mlir::attn::isPrefixAttention(AttentionGradOp op) {
  return isPrefixForm(op);
}

Value mlir::attn::queryRow(OpBuilder &b, Location loc, linalg::LinalgOp bcast) {
  Value init = bcast.getDpsInits()[0];
  auto initTy = cast<RankedTensorType>(init.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, init);
  sizes[2] = b.getIndexAttr(1);
  Value rowInit =
      tensor::EmptyOp::create(b, loc, sizes, initTy.getElementType());
  Operation *row = clone(b, bcast, TypeRange{rowInit.getType()},
                         {bcast.getDpsInputs()[0], rowInit});
  return row->getResult(0);
}

namespace {

/// Builds the scan form of one prefix attention at the rewriter's insertion
/// point: one method per phase, sharing the sizes and the buffers.
class ScanBuilder {
public:
  ScanBuilder(RewriterBase &rw, AttentionOp op, const ScanOptions &options,
              const HeadDims &dims);

  /// The kernel; returns the op's results.
  SmallVector<Value> build();

private:
  /// An scf.parallel over [0, ubs) whose body `body` gets the indices.
  void parallel(ValueRange ubs, function_ref<void(ValueRange)> body);
  /// The keys [j0, j1) of chunk `c`.
  std::pair<Value, Value> chunkRange(Value c);
  Value headOfKey(Value hi);
  /// Vector `n` of the value row `j`, in f32.
  Value valueRow(Value bi, Value hk, Value j, int64_t n);
  /// The indices of vector `n` of chunk `c`'s accumulator in stateA.
  SmallVector<Value> stateAt(Value bi, Value hi, Value c, int64_t n);

  /// 1. The scores of chunk `c`'s keys and the chunk's own state.
  void buildChunkState(Value bi, Value hi, Value c);
  /// The score (softmax) or weight (none, sigmoid) of key `j`.
  Value scoreOf(ArrayRef<Value> q, Value bi, Value hi, Value hk, Value j);
  /// 2. The exclusive scan of the chunk states of (bi, hi), in place.
  void buildStateScan(Value bi, Value hi);
  /// The state (m, l, a...) `x` combined with (m2, l2, a2...).
  SmallVector<Value> combine(ValueRange x, Value m2, Value l2,
                             ArrayRef<Value> a2);
  /// 3. Chunk `c` key by key from its carried state, writing the rows whose
  /// prefixes end there.
  void buildChunkRows(Value bi, Value hi, Value c);
  /// The state `st` after one more key with score (or weight) `s` and value
  /// vectors `v`.
  SmallVector<Value> addKey(ValueRange st, Value s, ArrayRef<Value> v);
  /// Writes row i from the state `st` of its prefix.
  void writeRow(Value bi, Value hi, Value i, ValueRange st);

  RewriterBase &rw;
  AttentionOp op;
  Location loc;
  KernelBuilder k;
  OnlineSoftmax softmaxOps;

  // Configuration.
  int64_t hq, group, chunk, vwDot, vwOut, numDot, numOut;
  AggregationKind kind;
  bool softmax;
  VectorType vecO, vecV;
  RankedTensorType outTy, lseTy;

  // Buffers, sizes and constants.
  Value qB, kB, vB, sinksB, batch, sq, skv, hqV, outB, lseB;
  Value zero, one, chunkV, numChunks;
  /// Scores (softmax) or weights (none, sigmoid) of every key, and the
  /// chunk states: m, l and a per (batch, head, chunk).
  Value scores, stateM, stateL, stateA;
  Value ninf, zeroF;
};

} // namespace

ScanBuilder::ScanBuilder(RewriterBase &rw, AttentionOp op,
                         const ScanOptions &options, const HeadDims &dims)
    : rw(rw), op(op), loc(op.getLoc()), k(rw, loc), softmaxOps(k), hq(dims.hq),
      group(dims.hq / dims.hkv),
      chunk(options.chunk > 0 ? options.chunk : 256) {
  const int64_t vw = resolveVectorWidth(options.vectorWidth, options.target);
  vwDot = largestDividingWidth(dims.d, vw);
  vwOut = largestDividingWidth(dims.dv, vw);
  numDot = dims.d / vwDot;
  numOut = dims.dv / vwOut;
  kind = op.getKind();
  softmax = kind == AggregationKind::softmax;
  Type f32 = rw.getF32Type();
  vecO = VectorType::get({vwOut}, f32);
  auto vTy = cast<RankedTensorType>(op.getValue().getType());
  vecV = VectorType::get({vwOut}, vTy.getElementType());
  outTy = cast<RankedTensorType>(op.getOutput().getType());

  linalg::LinalgOp bcast = getQueryBroadcast(op.getQuery());
  qB = k.toBuffer(queryRow(rw, loc, bcast));
  kB = k.toBuffer(op.getKey());
  vB = k.toBuffer(op.getValue());
  sinksB = op.getSinks() ? k.toBuffer(op.getSinks()) : Value();
  // Sizes from the broadcast's destination, so that nothing keeps the
  // [B, H, Sq, D] broadcast alive.
  Value init = bcast.getDpsInits()[0];
  batch = k.dimOf(init, 0);
  sq = k.dimOf(init, 2);
  skv = k.dimOf(op.getKey(), 2);
  hqV = k.idx(hq);
  outB = k.allocLike(outTy, {batch, hqV, sq, k.idx(dims.dv)});
  if (op.getLse()) {
    lseTy = cast<RankedTensorType>(op.getLse().getType());
    lseB = k.allocLike(lseTy, {batch, hqV, sq});
  }

  zero = k.idx(0);
  one = k.idx(1);
  chunkV = k.idx(chunk);
  numChunks = arith::CeilDivUIOp::create(rw, loc, skv, chunkV);
  auto dyn = ShapedType::kDynamic;
  auto alloc = [&](ArrayRef<int64_t> shape, Value size2) -> Value {
    return memref::AllocOp::create(rw, loc, MemRefType::get(shape, f32),
                                   ValueRange{batch, size2});
  };
  scores = alloc({dyn, hq, dyn}, skv);
  stateM = alloc({dyn, hq, dyn}, numChunks);
  stateL = alloc({dyn, hq, dyn}, numChunks);
  stateA = alloc({dyn, hq, dyn, dims.dv}, numChunks);
  ninf = k.negInf();
  zeroF = k.f32(0.0);
}

void ScanBuilder::parallel(ValueRange ubs,
                           function_ref<void(ValueRange)> body) {
  SmallVector<Value> lbs(ubs.size(), zero), steps(ubs.size(), one);
  scf::ParallelOp::create(
      rw, loc, lbs, ubs, steps, [&](OpBuilder &nb, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard g(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        body(ivs);
      });
}

std::pair<Value, Value> ScanBuilder::chunkRange(Value c) {
  Value j0 = k.mul(c, chunkV);
  return {j0, k.minI(k.add(j0, chunkV), skv)};
}

Value ScanBuilder::headOfKey(Value hi) {
  return arith::DivUIOp::create(rw, loc, hi, k.idx(group));
}

Value ScanBuilder::valueRow(Value bi, Value hk, Value j, int64_t n) {
  return k.toF32(k.vload(vecV, vB, {bi, hk, j, k.idx(n * vwOut)}));
}

SmallVector<Value> ScanBuilder::stateAt(Value bi, Value hi, Value c,
                                        int64_t n) {
  return {bi, hi, c, k.idx(n * vwOut)};
}

SmallVector<Value> ScanBuilder::build() {
  parallel({batch, hqV, numChunks},
           [&](ValueRange ivs) { buildChunkState(ivs[0], ivs[1], ivs[2]); });
  parallel({batch, hqV},
           [&](ValueRange ivs) { buildStateScan(ivs[0], ivs[1]); });
  parallel({batch, hqV, numChunks},
           [&](ValueRange ivs) { buildChunkRows(ivs[0], ivs[1], ivs[2]); });
  // Rows before the first key (Sq > Skv) see nothing: output 0 (and the
  // sink alone in lse, as in the other forms).
  Value emptyRows = k.sub(sq, k.minI(sq, skv));
  parallel({batch, hqV, emptyRows}, [&](ValueRange ivs) {
    SmallVector<Value> st = {ninf, zeroF};
    st.append(numOut, k.splat(vecO, 0.0));
    writeRow(ivs[0], ivs[1], ivs[2], st);
  });

  SmallVector<Value> results = {k.toTensor(outTy, outB)};
  if (lseB)
    results.push_back(k.toTensor(lseTy, lseB));
  return results;
}

Value ScanBuilder::scoreOf(ArrayRef<Value> q, Value bi, Value hi, Value hk,
                           Value j) {
  Value s = k.dotRow(q, kB, {bi, hk, j});
  // The query index is unused by both regions (isPrefixAttention).
  if (!op.getScoreMod().empty())
    s = inlineRegion(rw, op.getScoreMod(), {s, bi, hi, zero, j});
  if (!op.getPredicate().empty())
    s = k.select(inlineRegion(rw, op.getPredicate(), {bi, hi, zero, j}), s,
                 ninf);
  // Weights of none/sigmoid: masked keys weigh exactly 0.
  if (!softmax)
    s = softmaxOps.pointwiseWeight(kind, s);
  return s;
}

void ScanBuilder::buildChunkState(Value bi, Value hi, Value c) {
  Value hk = headOfKey(hi);
  auto [j0, j1] = chunkRange(c);
  SmallVector<Value> q = k.loadRow(qB, {bi, hi, zero}, vwDot, numDot,
                                   k.f32(op.getEffectiveScale()));
  Value m = k.reduce(j0, j1, 1, ninf, [&](Value j, Value mAcc) {
    Value s = scoreOf(q, bi, hi, hk, j);
    k.store(s, scores, {bi, hi, j});
    return k.fmax(mAcc, s);
  });
  Value mSafe = softmax ? softmaxOps.safeMax(m) : Value();
  SmallVector<Value> inits = {zeroF};
  inits.append(numOut, k.splat(vecO, 0.0));
  SmallVector<Value> st =
      k.reduceMany(j0, j1, 1, inits, [&](Value j, ValueRange a) {
        Value s = k.load(scores, {bi, hi, j});
        Value p = softmax ? softmaxOps.weight(s, mSafe) : s;
        SmallVector<Value> next = {k.fadd(a[0], p)};
        Value pV = k.bcast(vecO, p);
        for (int64_t n = 0; n < numOut; ++n)
          next.push_back(k.fma(pV, valueRow(bi, hk, j, n), a[1 + n]));
        return next;
      });
  k.store(softmax ? m : zeroF, stateM, {bi, hi, c});
  k.store(st[0], stateL, {bi, hi, c});
  for (int64_t n = 0; n < numOut; ++n)
    k.vstore(st[1 + n], stateA, stateAt(bi, hi, c, n));
}

SmallVector<Value> ScanBuilder::combine(ValueRange x, Value m2, Value l2,
                                        ArrayRef<Value> a2) {
  SmallVector<Value> out;
  if (!softmax) {
    out = {x[0], k.fadd(x[1], l2)};
    for (int64_t n = 0; n < numOut; ++n)
      out.push_back(k.fadd(x[2 + n], a2[n]));
    return out;
  }
  // Both rescaled to the larger max, then added.
  OnlineSoftmax::Step step = softmaxOps.rescale(x[0], m2);
  Value w1 = step.alpha, w2 = softmaxOps.weight(m2, step.safeMax);
  Value w1V = k.bcast(vecO, w1), w2V = k.bcast(vecO, w2);
  out = {step.max, softmaxOps.sum(w1, x[1], k.fmul(l2, w2))};
  for (int64_t n = 0; n < numOut; ++n)
    out.push_back(k.fma(x[2 + n], w1V, k.fmul(a2[n], w2V)));
  return out;
}

void ScanBuilder::buildStateScan(Value bi, Value hi) {
  // Chunk c gets the state of keys [0, c * C).
  SmallVector<Value> inits = {softmax ? ninf : zeroF, zeroF};
  inits.append(numOut, k.splat(vecO, 0.0));
  k.reduceMany(zero, numChunks, 1, inits, [&](Value c, ValueRange carry) {
    Value m2 = k.load(stateM, {bi, hi, c}), l2 = k.load(stateL, {bi, hi, c});
    SmallVector<Value> a2;
    for (int64_t n = 0; n < numOut; ++n)
      a2.push_back(k.vload(vecO, stateA, stateAt(bi, hi, c, n)));
    k.store(carry[0], stateM, {bi, hi, c});
    k.store(carry[1], stateL, {bi, hi, c});
    for (int64_t n = 0; n < numOut; ++n)
      k.vstore(carry[2 + n], stateA, stateAt(bi, hi, c, n));
    return combine(carry, m2, l2, a2);
  });
}

SmallVector<Value> ScanBuilder::addKey(ValueRange st, Value s,
                                       ArrayRef<Value> v) {
  SmallVector<Value> next;
  if (!softmax) {
    Value pV = k.bcast(vecO, s);
    next = {st[0], k.fadd(st[1], s)};
    for (int64_t n = 0; n < numOut; ++n)
      next.push_back(k.fma(pV, v[n], st[2 + n]));
    return next;
  }
  OnlineSoftmax::Step step = softmaxOps.rescale(st[0], s);
  Value p = softmaxOps.weight(s, step.safeMax);
  Value alphaV = k.bcast(vecO, step.alpha), pV = k.bcast(vecO, p);
  next = {step.max, softmaxOps.sum(step.alpha, st[1], p)};
  for (int64_t n = 0; n < numOut; ++n)
    next.push_back(k.fma(st[2 + n], alphaV, k.fmul(pV, v[n])));
  return next;
}

void ScanBuilder::writeRow(Value bi, Value hi, Value i, ValueRange st) {
  softmaxOps.storeRow(
      softmax, st[0], st[1], sinksB ? k.load(sinksB, hi) : Value(),
      SmallVector<Value>(st.drop_front(2)), outB, lseB, {bi, hi, i});
}

void ScanBuilder::buildChunkRows(Value bi, Value hi, Value c) {
  // Key j ends the prefix of row i = j - (Skv - Sq) when that row exists.
  // Chunks that end no row are skipped.
  Value hk = headOfKey(hi);
  Value j0, j1;
  std::tie(j0, j1) = chunkRange(c);
  Value endsARow = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ugt,
                                         k.add(j1, sq), skv);
  k.ifThen(endsARow, [&] {
    SmallVector<Value> inits = {k.load(stateM, {bi, hi, c}),
                                k.load(stateL, {bi, hi, c})};
    for (int64_t n = 0; n < numOut; ++n)
      inits.push_back(k.vload(vecO, stateA, stateAt(bi, hi, c, n)));
    k.reduceMany(j0, j1, 1, inits, [&](Value j, ValueRange st) {
      Value s = k.load(scores, {bi, hi, j});
      SmallVector<Value> v;
      for (int64_t n = 0; n < numOut; ++n)
        v.push_back(valueRow(bi, hk, j, n));
      SmallVector<Value> next = addKey(st, s, v);
      Value jEnd = k.add(j, sq);
      Value hasRow =
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::uge, jEnd, skv);
      k.ifThen(hasRow, [&] { writeRow(bi, hi, k.sub(jEnd, skv), next); });
      return next;
    });
  });
}

FailureOr<SmallVector<Value>>
mlir::attn::scanAttention(RewriterBase &rw, AttentionOp op,
                          const ScanOptions &options) {
  if (!isPrefixAttention(op))
    return rw.notifyMatchFailure(op,
                                 "not attention of one query over prefixes");
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or head dimension");
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  return ScanBuilder(rw, op, options, *dims).build();
}

namespace {
struct ScanAttention : OpRewritePattern<AttentionOp> {
  ScanAttention(MLIRContext *ctx, ScanOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    // The tiled decode kernel is as cheap for a few query rows.
    auto qTy = cast<RankedTensorType>(op.getQuery().getType());
    if (!qTy.isDynamicDim(2) && qTy.getDimSize(2) <= 8)
      return rewriter.notifyMatchFailure(op, "few query rows: tiled form");
    Operation *bcast = getQueryBroadcast(op.getQuery());
    FailureOr<SmallVector<Value>> out = scanAttention(rewriter, op, options);
    if (failed(out))
      return failure();
    rewriter.replaceOp(op, *out);
    if (bcast->use_empty())
      rewriter.eraseOp(bcast);
    return success();
  }
  ScanOptions options;
};

struct AttnScanPass : attn::impl::AttnScanBase<AttnScanPass> {
  using AttnScanBase::AttnScanBase;
  void runOnOperation() override {
    if (failed(verifyFormOptions(
            getOperation(), {{"chunk", chunk}, {"vector-width", vectorWidth}})))
      return signalPassFailure();
    FailureOr<CpuTarget> target =
        getCpuTargetOrEmitError(getOperation(), targetCpu, targetFeatures);
    if (failed(target))
      return signalPassFailure();
    ScanOptions options{chunk, vectorWidth, *target};
    RewritePatternSet patterns(&getContext());
    populateScanPatterns(patterns, options);
    if (failed(applyFormPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::attn::populateScanPatterns(RewritePatternSet &patterns,
                                      const ScanOptions &options) {
  patterns.add<ScanAttention>(patterns.getContext(), options);
  populateScanGradPatterns(patterns, options);
}
