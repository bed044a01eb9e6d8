//===- Linearize.cpp - chunked form of attn.linear_aggregate --------------===//
//
// Linear attention in O(S): per (batch, query head) -- the iterations of one
// scf.parallel -- the keys are walked in chunks of C positions carrying a
// state S = Σ_j λ^{t-1-j} φk_jᵀ v_j ([F, Dv]) and z = Σ_j λ^{t-1-j} φk_j
// ([F]), re-based to the chunk's end t so every decay exponent stays in
// [0, C] (Lightning Attention's intra/inter split):
//
//   o_i = λ^{p-t0+1} φq_i S  +  Σ_{t0<=j<=p} λ^{p-j} (φq_i·φk_j) v_j
//   S   = λ^{len} S + Σ_{j in chunk} λ^{t1-1-j} φk_jᵀ v_j
//
// for the queries at aligned positions p in the chunk [t0, t1); with
// `normalize` the same sums over φk (z) give the denominator. λ^e comes
// from a table of e = 0..C built once per head. Without `causal`, S and z
// over all keys come first and every query reads them (φ(K)ᵀV first).
// Feature maps feeding only this op are applied on load: the elementwise
// ones, taylor2 (formed from the raw row) and random_features (Wᵀx per row).
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToLoops/Linearize.h"
#include "attn/Conversion/AttnToLoops/LinearizeGrad.h"
#include "attn/Conversion/Passes.h"
#include "attn/Kernel/CpuTarget.h"
#include "attn/Kernel/FormDriver.h"
#include "attn/Kernel/KernelBuilder.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLINEARIZE
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// An operand of the linear aggregate, read through its feature map when
/// that map's only user is the aggregate (fused), else as is.
struct MappedInput {
  Value buffer;
  std::optional<FeatureMapKind> map;
  Type mapElt;   // the map's result element type: values round through it
  Value weights; // random_features: W [D, F]

  bool isTaylor() const { return map == FeatureMapKind::taylor2; }
  bool isRandom() const { return map == FeatureMapKind::random_features; }

  /// random_features over the features [f0, f0 + width) of the row at `row`:
  /// exp(Wᵀx − ‖x‖²/2)/√F, as an f32 vector of `width` lanes (1 allowed).
  Value randomFeatures(KernelBuilder &k, ValueRange row, Value f0,
                       int64_t width) {
    OpBuilder &b = k.b;
    Location loc = k.loc;
    auto wTy = cast<MemRefType>(weights.getType());
    const int64_t d = wTy.getShape()[0], numF = wTy.getShape()[1];
    // ‖x‖² in vectors over D.
    const int64_t vwD = largestDividingWidth(d, 16);
    auto vecD = VectorType::get({vwD}, b.getF32Type());
    Value sq = k.splat(vecD, 0.0);
    for (Value x : k.loadRow(buffer, row, vwD, d / vwD))
      sq = k.fma(x, x, sq);
    Value halfNorm = k.fmul(
        vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, sq),
        k.f32(0.5));
    // Wᵀx for the features f0.. f0 + width: one broadcast x_d per row of W.
    auto vecF = VectorType::get({width}, b.getF32Type());
    auto wVec = VectorType::get({width}, wTy.getElementType());
    Value proj = k.reduce(
        k.idx(0), k.idx(d), 1, k.splat(vecF, 0.0), [&](Value dd, Value acc) {
          SmallVector<Value> ivs(row);
          ivs.push_back(dd);
          Value x = k.bcast(vecF, k.toF32(k.load(buffer, ivs)));
          Value w = k.toF32(k.vload(wVec, weights, {dd, f0}));
          return k.fma(x, w, acc);
        });
    Value y = k.fmul(k.exp(k.fsub(proj, k.bcast(vecF, halfNorm))),
                     k.splat(vecF, 1.0 / std::sqrt(static_cast<double>(numF))));
    return k.toF32(k.fromF32(y, mapElt));
  }

  /// φ(x)[ff] of the row at `row` (indices before the last dimension) for
  /// any fused map: taylor2 is [1, x, x⊗x/√2], D = the raw row length.
  Value element(KernelBuilder &k, ValueRange row, Value ff) {
    auto at = [&](Value d) {
      SmallVector<Value> ivs(row);
      ivs.push_back(d);
      return k.toF32(k.load(buffer, ivs));
    };
    if (isRandom())
      return vector::ExtractOp::create(k.b, k.loc,
                                       randomFeatures(k, row, ff, 1), 0);
    if (!isTaylor())
      return apply(k, at(ff));
    OpBuilder &b = k.b;
    Location loc = k.loc;
    int64_t d = cast<MemRefType>(buffer.getType()).getShape().back();
    Value one = k.idx(1), dIdx = k.idx(d);
    // f = 0: 1; f <= D: x[f-1]; else x[a] x[c] / sqrt(2), f-1-D = a D + c.
    Value lin = k.sub(ff, one);
    Value quad = k.sub(lin, dIdx);
    Value isLinear =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, lin, dIdx);
    Value isOne =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, ff, k.idx(0));
    // Indices stay in range on every branch (selects evaluate all).
    Value zero = k.idx(0);
    Value linIdx = k.select(isLinear, k.select(isOne, zero, lin), zero);
    Value quadSafe = k.select(isLinear, zero, quad);
    Value a = arith::DivUIOp::create(b, loc, quadSafe, dIdx);
    Value c = arith::RemUIOp::create(b, loc, quadSafe, dIdx);
    Value pair = k.fmul(k.fmul(at(a), at(c)), k.f32(1.0 / std::sqrt(2.0)));
    Value y = k.select(isOne, k.f32(1.0), k.select(isLinear, at(linIdx), pair));
    return k.toF32(k.fromF32(y, mapElt));
  }

  /// φ(x) for an f32 scalar or vector x.
  Value apply(KernelBuilder &k, Value x) {
    if (!map)
      return x;
    OpBuilder &b = k.b;
    Location loc = k.loc;
    auto splat = [&](double v) -> Value {
      if (auto vt = dyn_cast<VectorType>(x.getType()))
        return k.splat(vt, v);
      return k.f32(v);
    };
    Value y = x;
    switch (*map) {
    case FeatureMapKind::identity:
      break;
    case FeatureMapKind::elu_plus_one:
      y = k.select(arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                                         splat(0.0)),
                   k.fadd(x, splat(1.0)), k.exp(x));
      break;
    case FeatureMapKind::relu:
      y = k.fmax(x, splat(0.0));
      break;
    case FeatureMapKind::exp:
      y = k.exp(x);
      break;
    case FeatureMapKind::sigmoid:
      y = k.fdiv(splat(1.0),
                 k.fadd(splat(1.0), k.exp(arith::NegFOp::create(b, loc, x))));
      break;
    default:
      break;
    }
    // The unfused map rounds its result to its element type.
    return k.toF32(k.fromF32(y, mapElt));
  }
};

} // namespace

namespace {

/// Builds the chunked form of one linear aggregate at the rewriter's
/// insertion point: one method per phase, sharing the sizes, the buffers and
/// the current (batch, head).
class LinearizeBuilder {
public:
  LinearizeBuilder(RewriterBase &rw, LinearAggregateOp op,
                   const LinearizeOptions &options, const HeadDims &dims);

  /// The kernel; returns the op's results.
  SmallVector<Value> build();

private:
  /// The operand `v`, read through its feature map when that map is fused.
  MappedInput input(Value v);
  /// One (batch, head): its state, decay table and every query row.
  void buildHead(Value bi, Value hi);

  // Loads of the current head, as f32 vectors over F (or Dv).
  /// φ of row `pos` of `in` (head `head`), vector `c`.
  Value featureVector(MappedInput &in, Value head, Value pos, int64_t c);
  /// φq of row `i`, vector `c`.
  Value queryVector(Value i, int64_t c) { return featureVector(qIn, hi, i, c); }
  /// φk of key `j`, vector `c`, from the keys.
  Value keyVectorRaw(Value j, int64_t c) {
    return featureVector(kIn, hk, j, c);
  }
  /// φk of key `j`, vector `c`, from the chunk's cache when there is one.
  Value keyVector(Value j, int64_t c);
  /// φk of key `j`, element `ff`.
  Value keyElement(Value j, Value ff);
  Value valueVector(Value j, int64_t c);
  /// φq · φk_j for the query vectors `qv`.
  Value dot(ArrayRef<Value> qv, Value j);
  /// Indices of vector `c` of row `ff` of the head's S, and of z[ff].
  SmallVector<Value> stateAt(Value ff, int64_t c);
  SmallVector<Value> zAt(Value ff);

  /// The head's state from the earlier calls' state, or empty.
  void initState();
  /// λ^e for e = 0..C into `decayPowers`.
  void buildDecayTable();
  /// S += w φk_jᵀ v_j, z += w φk_j.
  void accumulate(Value j, Value w);
  /// φq of row `i` into `qPhi`, once per query: the state read takes its
  /// elements, the chunk's dot products its vectors.
  void loadQuery(Value i);
  /// factor φq S (and the denominator factor φq·z), as accumulators.
  SmallVector<Value> readState(Value factor);
  /// Writes row `i` from its accumulators (normalised with `normalize`).
  void storeRow(Value i, ValueRange acc);

  /// Without `causal`: S and z over all keys, then every query reads them.
  void buildNonCausal();
  /// Queries before the first key (Sq > Skv), which see no key of this call.
  void buildRowsBeforeKeys();
  /// The causal chunk of keys from `t0`: its queries, then the state
  /// re-based to the chunk's end.
  void buildChunk(Value t0);
  /// Query row `i` at aligned position p in the chunk [t0, ...): the state
  /// before the chunk plus the chunk's keys up to p.
  void buildChunkRow(Value i, Value t0);
  /// S and z re-based to t1 - 1, plus the keys [t0, t1).
  void rebaseState(Value t0, Value t1);

  RewriterBase &rw;
  LinearAggregateOp op;
  Location loc;
  KernelBuilder k;

  // Configuration.
  int64_t hq, group, f, dv, chunk, vwF, vwO;
  bool causal, normalize;
  VectorType vecF, vecO;
  RankedTensorType outTy;

  // Inputs, sizes, the output, every head's state S [F, Dv] and z [F] (on
  // the heap: F x Dv can be large, e.g. taylor2), constants.
  MappedInput qIn, kIn;
  Value vB, decayB, batch, sq, skv, outB, stateInB, zero, one, offset, eps;
  Value stateAll, zAll;

  // The current head: its indices, the chunk's φk cache (from cacheT0, when
  // set), the decay table λ^0..λ^C and the current query's φq.
  Value bi, hi, hk, kCache, cacheT0, decayPowers, qPhi;
  /// Whether a chunk's φk is computed once per chunk (a fused feature map
  /// would otherwise be re-applied for every query of the chunk).
  bool useCache;
};

} // namespace

static Type elementTypeOf(Value buffer) {
  return cast<MemRefType>(buffer.getType()).getElementType();
}

LinearizeBuilder::LinearizeBuilder(RewriterBase &rw, LinearAggregateOp op,
                                   const LinearizeOptions &options,
                                   const HeadDims &dims)
    : rw(rw), op(op), loc(op.getLoc()), k(rw, loc), hq(dims.hq),
      group(dims.hq / dims.hkv), f(dims.d), dv(dims.dv),
      chunk(options.chunk ? options.chunk : 64), causal(op.getCausal()),
      normalize(op.getNormalize()),
      outTy(cast<RankedTensorType>(op.getOutput().getType())) {
  const int64_t vw = resolveVectorWidth(options.vectorWidth, options.target);
  vwF = largestDividingWidth(f, vw);
  vwO = largestDividingWidth(dv, vw);
  Type f32 = rw.getF32Type();
  vecF = VectorType::get({vwF}, f32);
  vecO = VectorType::get({vwO}, f32);

  qIn = input(op.getQuery());
  kIn = input(op.getKey());
  vB = k.toBuffer(op.getValue());
  decayB = op.getDecay() ? k.toBuffer(op.getDecay()) : Value();
  // Sizes from the buffers read (a fused feature map keeps its input's).
  batch = memref::DimOp::create(rw, loc, qIn.buffer, 0);
  sq = memref::DimOp::create(rw, loc, qIn.buffer, 2);
  skv = memref::DimOp::create(rw, loc, kIn.buffer, 2);
  outB = k.allocLike(outTy, {batch, k.idx(hq), sq, k.idx(dv)});
  stateInB = op.getState() ? k.toBuffer(op.getState()) : Value();
  zero = k.idx(0);
  one = k.idx(1);
  offset = k.sub(skv, sq);
  eps = k.f32(op.getEps().convertToDouble());
  stateAll = memref::AllocOp::create(
      rw, loc, MemRefType::get({ShapedType::kDynamic, hq, f, dv}, f32),
      ValueRange{batch});
  zAll = memref::AllocOp::create(
      rw, loc, MemRefType::get({ShapedType::kDynamic, hq, f}, f32),
      ValueRange{batch});
  useCache = causal && kIn.map && chunk * f <= 65536;
}

MappedInput LinearizeBuilder::input(Value v) {
  MappedInput in;
  auto fm = v.getDefiningOp<FeatureMapOp>();
  if (fm && fm->hasOneUse()) {
    in.buffer = k.toBuffer(fm.getInput());
    in.map = fm.getKind();
    in.mapElt = getElementTypeOrSelf(fm.getType());
    if (fm.getWeights())
      in.weights = k.toBuffer(fm.getWeights());
  } else {
    in.buffer = k.toBuffer(v);
  }
  return in;
}

SmallVector<Value> LinearizeBuilder::build() {
  scf::ParallelOp::create(
      rw, loc, ValueRange{zero, zero}, ValueRange{batch, k.idx(hq)},
      ValueRange{one, one}, [&](OpBuilder &nb, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard g(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        buildHead(ivs[0], ivs[1]);
      });

  Value out = k.toTensor(outTy, outB);
  if (!op.getFinalState())
    return SmallVector<Value>{out};
  // The state after the last chunk is re-based to Skv - 1: the final state.
  auto stateTy = cast<RankedTensorType>(op.getFinalState().getType());
  Value stateOut = memref::CastOp::create(rw, loc, memrefOf(stateTy), stateAll);
  return SmallVector<Value>{out, k.toTensor(stateTy, stateOut)};
}

void LinearizeBuilder::buildHead(Value headB, Value headH) {
  bi = headB;
  hi = headH;
  hk = arith::DivUIOp::create(rw, loc, hi, k.idx(group));
  kCache = useCache ? k.stackBuffer({chunk, f}) : Value();
  cacheT0 = Value();
  initState();
  buildDecayTable();
  qPhi = k.stackBuffer({f});
  if (!causal)
    return buildNonCausal();
  buildRowsBeforeKeys();
  k.loop(zero, skv, chunk, [&](Value t0) { buildChunk(t0); });
}

Value LinearizeBuilder::featureVector(MappedInput &in, Value head, Value pos,
                                      int64_t c) {
  if (in.isTaylor()) // F = 1 + D + D^2 is odd: one lane
    return k.bcast(vecF, in.element(k, {bi, head, pos}, k.idx(c)));
  if (in.isRandom())
    return in.randomFeatures(k, {bi, head, pos}, k.idx(c * vwF), vwF);
  return in.apply(
      k, k.toF32(k.vload(VectorType::get({vwF}, elementTypeOf(in.buffer)),
                         in.buffer, {bi, head, pos, k.idx(c * vwF)})));
}

Value LinearizeBuilder::keyVector(Value j, int64_t c) {
  if (cacheT0)
    return k.vload(vecF, kCache, {k.sub(j, cacheT0), k.idx(c * vwF)});
  return keyVectorRaw(j, c);
}

Value LinearizeBuilder::keyElement(Value j, Value ff) {
  if (cacheT0)
    return k.load(kCache, {k.sub(j, cacheT0), ff});
  return kIn.element(k, {bi, hk, j}, ff);
}

Value LinearizeBuilder::valueVector(Value j, int64_t c) {
  return k.toF32(k.vload(VectorType::get({vwO}, elementTypeOf(vB)), vB,
                         {bi, hk, j, k.idx(c * vwO)}));
}

Value LinearizeBuilder::dot(ArrayRef<Value> qv, Value j) {
  Value acc = k.splat(vecF, 0.0);
  for (int64_t c = 0; c < f / vwF; ++c)
    acc = k.fma(qv[c], keyVector(j, c), acc);
  return vector::ReductionOp::create(rw, loc, vector::CombiningKind::ADD, acc);
}

SmallVector<Value> LinearizeBuilder::stateAt(Value ff, int64_t c) {
  return {bi, hi, ff, k.idx(c * vwO)};
}

SmallVector<Value> LinearizeBuilder::zAt(Value ff) { return {bi, hi, ff}; }

void LinearizeBuilder::initState() {
  k.loop(zero, k.idx(f), 1, [&](Value ff) {
    k.store(k.f32(0.0), zAll, zAt(ff));
    for (int64_t c = 0; c < dv / vwO; ++c)
      k.vstore(stateInB ? k.vload(vecO, stateInB, stateAt(ff, c))
                        : k.splat(vecO, 0.0),
               stateAll, stateAt(ff, c));
  });
}

void LinearizeBuilder::buildDecayTable() {
  decayPowers =
      buildDecayPowers(k, decayB ? k.load(decayB, hi) : k.f32(1.0), chunk);
}

void LinearizeBuilder::accumulate(Value j, Value w) {
  SmallVector<Value> vv;
  for (int64_t c = 0; c < dv / vwO; ++c)
    vv.push_back(valueVector(j, c));
  k.loop(zero, k.idx(f), 1, [&](Value ff) {
    Value kw = k.fmul(keyElement(j, ff), w);
    Value kwV = k.bcast(vecO, kw);
    for (int64_t c = 0; c < dv / vwO; ++c) {
      Value s = k.vload(vecO, stateAll, stateAt(ff, c));
      k.vstore(k.fma(kwV, vv[c], s), stateAll, stateAt(ff, c));
    }
    if (normalize)
      k.store(k.fadd(k.load(zAll, zAt(ff)), kw), zAll, zAt(ff));
  });
}

void LinearizeBuilder::loadQuery(Value i) {
  for (int64_t c = 0; c < f / vwF; ++c)
    k.vstore(queryVector(i, c), qPhi, {k.idx(c * vwF)});
}

SmallVector<Value> LinearizeBuilder::readState(Value factor) {
  SmallVector<Value> acc(dv / vwO, k.splat(vecO, 0.0));
  acc.push_back(k.f32(0.0));
  return k.reduceMany(
      zero, k.idx(f), 1, acc,
      [&](Value ff, ValueRange a) -> SmallVector<Value> {
        Value qfw = k.fmul(k.load(qPhi, ff), factor);
        Value qV = k.bcast(vecO, qfw);
        SmallVector<Value> next;
        for (int64_t c = 0; c < dv / vwO; ++c)
          next.push_back(
              k.fma(qV, k.vload(vecO, stateAll, stateAt(ff, c)), a[c]));
        next.push_back(normalize
                           ? k.fma(qfw, k.load(zAll, zAt(ff)), a[dv / vwO])
                           : a[dv / vwO]);
        return next;
      });
}

void LinearizeBuilder::storeRow(Value i, ValueRange acc) {
  Value scale = k.f32(1.0);
  if (normalize)
    scale = k.fdiv(k.f32(1.0), k.fadd(acc[dv / vwO], eps));
  Value scaleV = k.bcast(vecO, scale);
  Type outElt = outTy.getElementType();
  for (int64_t c = 0; c < dv / vwO; ++c)
    k.vstore(k.fromF32(k.fmul(acc[c], scaleV), outElt), outB,
             {bi, hi, i, k.idx(c * vwO)});
}

void LinearizeBuilder::buildNonCausal() {
  k.loop(zero, skv, 1, [&](Value j) { accumulate(j, k.f32(1.0)); });
  k.loop(zero, sq, 1, [&](Value i) {
    loadQuery(i);
    storeRow(i, readState(k.f32(1.0)));
  });
}

void LinearizeBuilder::buildRowsBeforeKeys() {
  Value firstSeeing = arith::MaxSIOp::create(
      rw, loc, zero, arith::SubIOp::create(rw, loc, zero, offset));
  firstSeeing = k.minI(firstSeeing, sq);
  k.loop(zero, firstSeeing, 1, [&](Value i) {
    SmallVector<Value> none(dv / vwO, k.splat(vecO, 0.0));
    none.push_back(k.f32(0.0));
    // Position -1 still sees the earlier calls' keys (weight λ^0).
    if (stateInB) {
      Value atMinusOne = arith::CmpIOp::create(
          rw, loc, arith::CmpIPredicate::eq, k.add(i, offset), k.idx(-1));
      loadQuery(i);
      SmallVector<Value> fromState = readState(k.f32(1.0));
      for (auto [n, v] : llvm::enumerate(fromState))
        none[n] = k.select(atMinusOne, v, none[n]);
    }
    storeRow(i, none);
  });
}

void LinearizeBuilder::buildChunk(Value t0) {
  Value t1 = k.minI(k.add(t0, k.idx(chunk)), skv);
  if (useCache) {
    k.loop(t0, t1, 1, [&](Value j) {
      for (int64_t c = 0; c < f / vwF; ++c)
        k.vstore(keyVectorRaw(j, c), kCache, {k.sub(j, t0), k.idx(c * vwF)});
    });
    cacheT0 = t0;
  }
  // Queries whose aligned position p = i + offset lies in [t0, t1).
  Value iLo = arith::MaxSIOp::create(rw, loc, k.sub(t0, offset), zero);
  Value iHi = k.minI(k.sub(t1, offset), sq);
  k.loop(iLo, iHi, 1, [&](Value i) { buildChunkRow(i, t0); });
  rebaseState(t0, t1);
  cacheT0 = Value();
}

void LinearizeBuilder::buildChunkRow(Value i, Value t0) {
  Value p = k.add(i, offset);
  loadQuery(i);
  SmallVector<Value> acc =
      readState(k.load(decayPowers, k.add(k.sub(p, t0), one)));
  SmallVector<Value> qv;
  for (int64_t c = 0; c < f / vwF; ++c)
    qv.push_back(k.vload(vecF, qPhi, {k.idx(c * vwF)}));
  acc = k.reduceMany(t0, k.add(p, one), 1, acc,
                     [&](Value j, ValueRange a) -> SmallVector<Value> {
                       Value w =
                           k.fmul(dot(qv, j), k.load(decayPowers, k.sub(p, j)));
                       Value wV = k.bcast(vecO, w);
                       SmallVector<Value> next;
                       for (int64_t c = 0; c < dv / vwO; ++c)
                         next.push_back(k.fma(wV, valueVector(j, c), a[c]));
                       next.push_back(k.fadd(a[dv / vwO], w));
                       return next;
                     });
  storeRow(i, acc);
}

void LinearizeBuilder::rebaseState(Value t0, Value t1) {
  Value decayLen = k.load(decayPowers, k.sub(t1, t0));
  Value decayV = k.bcast(vecO, decayLen);
  k.loop(zero, k.idx(f), 1, [&](Value ff) {
    for (int64_t c = 0; c < dv / vwO; ++c) {
      Value s = k.vload(vecO, stateAll, stateAt(ff, c));
      k.vstore(k.fmul(s, decayV), stateAll, stateAt(ff, c));
    }
    if (normalize)
      k.store(k.fmul(k.load(zAll, zAt(ff)), decayLen), zAll, zAt(ff));
  });
  k.loop(t0, t1, 1, [&](Value j) {
    accumulate(j, k.load(decayPowers, k.sub(k.sub(t1, one), j)));
  });
}

Value mlir::attn::buildDecayPowers(KernelBuilder &k, Value lambda,
                                   int64_t maxExponent) {
  // |λ|^e with the sign of λ for odd e; λ^0 = 1 even for λ = 0.
  OpBuilder &b = k.b;
  Location loc = k.loc;
  Value zero = k.idx(0), one = k.idx(1);
  Value powers = k.stackBuffer({maxExponent + 1});
  Value logAbs =
      math::LogOp::create(b, loc, math::AbsFOp::create(b, loc, lambda));
  Value negative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                                         lambda, k.f32(0.0));
  Value lamZero = k.feq(lambda, k.f32(0.0));
  k.loop(zero, k.idx(maxExponent + 1), 1, [&](Value e) {
    Value ef = arith::UIToFPOp::create(
        b, loc, b.getF32Type(),
        arith::IndexCastOp::create(b, loc, b.getI64Type(), e));
    Value p = math::ExpOp::create(b, loc, k.fmul(ef, logAbs));
    Value odd =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                              arith::RemUIOp::create(b, loc, e, k.idx(2)), one);
    p = k.select(arith::AndIOp::create(b, loc, negative, odd),
                 arith::NegFOp::create(b, loc, p), p);
    Value isZero =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, e, zero);
    p = k.select(isZero, k.f32(1.0), k.select(lamZero, k.f32(0.0), p));
    // Weights below 1e-30 are 0 at f32 precision next to the weight-1 term;
    // flushing them keeps the state out of denormal numbers, which the FPU
    // handles ~100x slower.
    Value tiny =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                              math::AbsFOp::create(b, loc, p), k.f32(1e-30));
    p = k.select(tiny, k.f32(0.0), p);
    k.store(p, powers, e);
  });
  return powers;
}

FailureOr<SmallVector<Value>>
mlir::attn::linearizeAggregate(RewriterBase &rw, LinearAggregateOp op,
                               const LinearizeOptions &options) {
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or feature size");
  if (options.chunk < 0 || options.vectorWidth < 0)
    return rw.notifyMatchFailure(op, "invalid options");
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  return LinearizeBuilder(rw, op, options, *dims).build();
}

namespace {
struct LinearizeAggregate : OpRewritePattern<LinearAggregateOp> {
  LinearizeAggregate(MLIRContext *ctx, LinearizeOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(LinearAggregateOp op,
                                PatternRewriter &rewriter) const override {
    SmallVector<Operation *> maps;
    for (Value v : {op.getQuery(), op.getKey()})
      if (auto fm = v.getDefiningOp<FeatureMapOp>())
        maps.push_back(fm);
    FailureOr<SmallVector<Value>> out =
        linearizeAggregate(rewriter, op, options);
    if (failed(out))
      return failure();
    rewriter.replaceOp(op, *out);
    for (Operation *map : maps)
      if (map->use_empty())
        rewriter.eraseOp(map);
    return success();
  }
  LinearizeOptions options;
};

struct LinearizeAggregateGrad : OpRewritePattern<LinearAggregateGradOp> {
  LinearizeAggregateGrad(MLIRContext *ctx, LinearizeOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(LinearAggregateGradOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Value>> out =
        linearizeAggregateGrad(rewriter, op, options);
    if (failed(out))
      return failure();
    rewriter.replaceOp(op, *out);
    return success();
  }
  LinearizeOptions options;
};

struct AttnLinearizePass : attn::impl::AttnLinearizeBase<AttnLinearizePass> {
  using AttnLinearizeBase::AttnLinearizeBase;
  void runOnOperation() override {
    if (failed(verifyFormOptions(
            getOperation(), {{"chunk", chunk}, {"vector-width", vectorWidth}})))
      return signalPassFailure();
    FailureOr<CpuTarget> target =
        getCpuTargetOrEmitError(getOperation(), targetCpu, targetFeatures);
    if (failed(target))
      return signalPassFailure();
    LinearizeOptions options{chunk, vectorWidth, *target};
    RewritePatternSet patterns(&getContext());
    populateLinearizePatterns(patterns, options);
    if (failed(applyFormPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::attn::populateLinearizePatterns(RewritePatternSet &patterns,
                                           const LinearizeOptions &options) {
  patterns.add<LinearizeAggregate, LinearizeAggregateGrad>(
      patterns.getContext(), options);
}
