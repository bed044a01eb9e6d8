//===- ScanGrad.cpp - scan form of the backward of prefix attention -------===//
//
// The backward (attn.attention_grad) of a prefix attention (Scan.cpp: one
// query q per (batch, head) broadcast over the rows, causal mask; row i sees
// the keys j <= e(i) = i + Skv - Sq) in O(S) work per head instead of the
// tiled backward's O(Sq Skv). Every key has one score s_j = scale q.k_j (-inf
// where the predicate masks it), so with the forward's lse_i (sinks in it):
//
//   p_ij    = e^{s_j - lse_i}                 for j <= e(i)
//   Δ_i     = dO_i.O_i - dlse_i               (0 where lse_i = -inf)
//   dS_ij   = p_ij (dO_i.v_j - Δ_i)
//   dV_j    = Σ_{i in R(j)} p_ij dO_i         R(j) = {i : e(i) >= j}, a suffix
//   dK_j    = scale q Σ_{i in R(j)} dS_ij     (then summed over the GQA group)
//   dQ_i    = scale Σ_{j <= e(i)} dS_ij k_j
//   d(sink) = -Σ_{b,i} e^{sink - lse_i} Δ_i
//
// Keys. e^{s_j - lse_i} = e^{s_j - L} e^{L - lse_i} splits p_ij into a key
// factor and a row factor; with the suffix sums over the rows
//
//   U    = Σ_{i in R(j)} e^{L - lse_i} dO_i,
//   W    = Σ_{i in R(j)} e^{L - lse_i} Δ_i,
//   dV_j = e^{s_j - L} U,   dK_j = scale q e^{s_j - L} (v_j.U - W).
//
// A reverse sweep over the keys j = Skv-1 .. 0 adds row i = j - (Skv - Sq)
// (the row whose prefix ends at j) to (L, U, W) before visiting key j. With L
// the minimum of lse_i over the rows added (U and W rescaled by e^{L' - L}
// <= 1 when it falls) every exponent is <= 0: e^{L - lse_i} <= 1 by the
// choice of L, and s_j <= lse_i for every row i that sees key j (lse_i is the
// log of a sum with the term e^{s_j}), so s_j <= L. lse_i is non-decreasing
// in i -- a longer prefix adds terms, and a sink adds the same term to every
// row -- so L is the lse of the last row added; the minimum only guards
// against rounding. Rows with lse = -inf see no live key: they add nothing.
//
// Queries. dQ_i = scale (M_i dO_i - Δ_i K_i) with the prefix sums over keys
//
//   M_i = Σ_{j <= e(i)} p_ij k_j v_j^T (D x Dv),  K_i = Σ_{j <= e(i)} p_ij k_j,
//
// which a forward sweep carries re-based on the running max m of the scores,
// as the forward scan carries its numerator: Mh = Σ e^{s_j - m} k_j v_j^T and
// Kh, rescaled by e^{m - m'} when a score raises the max, and M_i =
// e^{m - lse_i} Mh with m <= lse_i. Mh is an f32 [B, Hq, Dv, D] buffer
// (transposed: Mh dO_i is a sum of D-vectors); O(D Dv) work per key.
//
// none and sigmoid: the weights w_j = f(s_j) do not depend on the row (no
// lse, Δ = 0), so the same sweeps carry the plain sums: dV_j = w_j Σ_{R(j)}
// dO_i, dK_j = scale q f'(s_j) v_j.Σ_{R(j)} dO_i, dQ_i = scale Σ_{j <= e(i)}
// f'(s_j) k_j v_j^T dO_i, with f' = 1 (none) or w (1 - w) (sigmoid), and 0
// for a masked key.
//
// Passes, each an scf.parallel: the scores [B, Hq, Skv] and Δ [B, Hq, Sq];
// per (batch, K/V head) the reverse sweeps of the query heads of the GQA
// group in order, adding to f32 dK and dV; per (batch, query head) the
// forward sweep writing dQ; d(sink) per head, summed over batches and rows in
// order; dK and dV to their element types. Every element has one writer and
// every sum a fixed order (deterministic, no atomics). Memory beyond the
// operands and results: O(B Hq (Sq + Skv + D Dv)).
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToLoops/ScanGrad.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Kernel/OnlineSoftmax.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Builds the scan form of one prefix attention_grad at the rewriter's
/// insertion point: one method per pass, sharing the sizes and buffers.
class ScanGradBuilder {
public:
  ScanGradBuilder(RewriterBase &rw, AttentionGradOp op,
                  const ScanOptions &options, const HeadDims &dims);

  /// The kernel; returns the op's results.
  SmallVector<Value> build();

private:
  /// An scf.parallel over [0, ubs) whose body `body` gets the indices.
  void parallel(ValueRange ubs, function_ref<void(ValueRange)> body);
  /// scf.if yielding thenBody()'s values, or `elseValues`.
  SmallVector<Value> ifElse(Value cond, ValueRange elseValues,
                            function_ref<SmallVector<Value>()> thenBody);
  Value headOfKey(Value hi) {
    return arith::DivUIOp::create(rw, loc, hi, k.idx(group));
  }
  /// Whether key j ends the prefix of a row (j + Sq >= Skv), and that row.
  Value hasRow(Value j) {
    return arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::uge,
                                 k.add(j, sq), skv);
  }
  Value rowOf(Value j) { return k.sub(k.add(j, sq), skv); }
  Value isLive(Value lse) {
    return arith::CmpFOp::create(rw, loc, arith::CmpFPredicate::ONE, lse, ninf);
  }
  /// `buffer`'s row `row` (f32 vectors of `width` lanes) += `terms`.
  void addTo(Value buffer, ValueRange row, int64_t width,
             ArrayRef<Value> terms);
  /// The horizontal sum of the lane-wise products of `x` and `y`.
  Value dot(ArrayRef<Value> x, ArrayRef<Value> y);

  /// 1. The score of key j for query head hi (-inf where masked).
  void storeScore(Value bi, Value hi, Value j);
  /// 1. Δ_i of softmax.
  void storeDelta(Value bi, Value hi, Value i);
  /// The weight of key score `s` in dV (relative to the reference L for
  /// softmax) and its factor in dS.
  std::pair<Value, Value> keyFactors(Value s, Value ref);
  /// 2. The reverse sweep of query head hi, adding to dK and dV of head hk.
  void reverseSweep(Value bi, Value hk, Value hi);
  /// The suffix state (L, W, U...) after one more row i.
  SmallVector<Value> addRow(ValueRange st, Value bi, Value hi, Value i);
  /// Key j's share of dK and dV from the suffix state `st`.
  void addKeyGradients(ValueRange st, Value bi, Value hk, Value hi, Value j,
                       ArrayRef<Value> q);
  /// 3. The forward sweep of query head hi, writing its dQ rows.
  void forwardSweep(Value bi, Value hi);
  /// The prefix state (m, Kh...) and Mh after one more key j.
  SmallVector<Value> addKey(ValueRange st, Value bi, Value hi, Value hk,
                            Value j);
  void writeQueryRow(ValueRange st, Value bi, Value hi, Value i);
  /// 4. d(sink) of query head hi.
  void storeSinkGradient(Value hi);

  RewriterBase &rw;
  AttentionGradOp op;
  Location loc;
  KernelBuilder k;
  OnlineSoftmax softmaxOps;
  HeadDims dims;

  int64_t group, vwDot, vwOut, numDot, numOut;
  AggregationKind kind;
  bool softmax;
  VectorType vecDot, vecOut;
  Type qElt, kElt, vElt;

  // Operands, sizes and constants.
  Value qB, kB, vB, oB, dOB, lseB, dLseB, sinksB;
  Value batch, sq, skv, hqV, hkvV, zero, one, ninf, pinf, zeroF, scale;
  // Scratch: scores [B, Hq, Skv], Δ [B, Hq, Sq], Mh [B, Hq, Dv, D], and dK,
  // dV in f32 (the results themselves when they are f32).
  Value scores, delta, mh, dKAcc, dVAcc;
  // Results.
  Value dQ, dK, dV, dSinks;
};

} // namespace

ScanGradBuilder::ScanGradBuilder(RewriterBase &rw, AttentionGradOp op,
                                 const ScanOptions &options,
                                 const HeadDims &dims)
    : rw(rw), op(op), loc(op.getLoc()), k(rw, loc), softmaxOps(k), dims(dims),
      group(dims.hq / dims.hkv) {
  const int64_t vw = resolveVectorWidth(options.vectorWidth, options.target);
  vwDot = largestDividingWidth(dims.d, vw);
  vwOut = largestDividingWidth(dims.dv, vw);
  numDot = dims.d / vwDot;
  numOut = dims.dv / vwOut;
  kind = op.getKind();
  softmax = kind == AggregationKind::softmax;
  Type f32 = rw.getF32Type();
  vecDot = VectorType::get({vwDot}, f32);
  vecOut = VectorType::get({vwOut}, f32);
  auto eltOf = [](Value v) { return getElementTypeOrSelf(v.getType()); };
  qElt = eltOf(op.getQuery());
  kElt = eltOf(op.getKey());
  vElt = eltOf(op.getValue());

  linalg::LinalgOp bcast = getQueryBroadcast(op.getQuery());
  qB = k.toBuffer(queryRow(rw, loc, bcast));
  kB = k.toBuffer(op.getKey());
  vB = k.toBuffer(op.getValue());
  oB = k.toBuffer(op.getOutput());
  dOB = k.toBuffer(op.getGradOutput());
  lseB = op.getLse() ? k.toBuffer(op.getLse()) : Value();
  dLseB = op.getGradLse() ? k.toBuffer(op.getGradLse()) : Value();
  sinksB = op.getSinks() ? k.toBuffer(op.getSinks()) : Value();
  Value init = bcast.getDpsInits()[0];
  batch = k.dimOf(init, 0);
  sq = k.dimOf(init, 2);
  skv = k.dimOf(op.getKey(), 2);
  hqV = k.idx(dims.hq);
  hkvV = k.idx(dims.hkv);
  zero = k.idx(0);
  one = k.idx(1);
  ninf = k.negInf();
  pinf = k.f32(std::numeric_limits<double>::infinity());
  zeroF = k.f32(0.0);
  scale = k.f32(op.getEffectiveScale());

  const int64_t dyn = ShapedType::kDynamic;
  auto alloc = [&](ArrayRef<int64_t> shape, ValueRange sizes) -> Value {
    return memref::AllocOp::create(rw, loc, MemRefType::get(shape, f32), sizes);
  };
  auto allocLike = [&](Value operand, ArrayRef<Value> sizes) {
    return k.allocLike(cast<RankedTensorType>(operand.getType()), sizes);
  };
  scores = alloc({dyn, dims.hq, dyn}, {batch, skv});
  if (softmax)
    delta = alloc({dyn, dims.hq, dyn}, {batch, sq});
  mh = alloc({dyn, dims.hq, dims.dv, dims.d}, {batch});
  dQ = allocLike(op.getQuery(), {batch, hqV, sq, k.idx(dims.d)});
  dK = allocLike(op.getKey(), {batch, hkvV, skv, k.idx(dims.d)});
  dV = allocLike(op.getValue(), {batch, hkvV, skv, k.idx(dims.dv)});
  dKAcc = kElt.isF32() ? dK : alloc({dyn, dims.hkv, dyn, dims.d}, {batch, skv});
  dVAcc =
      vElt.isF32() ? dV : alloc({dyn, dims.hkv, dyn, dims.dv}, {batch, skv});
  if (sinksB)
    dSinks = allocLike(op.getSinks(), {hqV});
}

void ScanGradBuilder::parallel(ValueRange ubs,
                               function_ref<void(ValueRange)> body) {
  SmallVector<Value> lbs(ubs.size(), zero), steps(ubs.size(), one);
  scf::ParallelOp::create(
      rw, loc, lbs, ubs, steps, [&](OpBuilder &nb, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard g(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        body(ivs);
      });
}

SmallVector<Value>
ScanGradBuilder::ifElse(Value cond, ValueRange elseValues,
                        function_ref<SmallVector<Value>()> thenBody) {
  auto ifOp = scf::IfOp::create(rw, loc, elseValues.getTypes(), cond,
                                /*withElseRegion=*/true);
  OpBuilder::InsertionGuard g(rw);
  rw.setInsertionPointToStart(ifOp.thenBlock());
  scf::YieldOp::create(rw, loc, thenBody());
  rw.setInsertionPointToStart(ifOp.elseBlock());
  scf::YieldOp::create(rw, loc, elseValues);
  return SmallVector<Value>(ifOp.getResults());
}

void ScanGradBuilder::addTo(Value buffer, ValueRange row, int64_t width,
                            ArrayRef<Value> terms) {
  auto type = VectorType::get({width}, rw.getF32Type());
  for (auto [n, term] : llvm::enumerate(terms)) {
    SmallVector<Value> at(row);
    at.push_back(k.idx(n * width));
    k.vstore(k.fadd(k.vload(type, buffer, at), term), buffer, at);
  }
}

Value ScanGradBuilder::dot(ArrayRef<Value> x, ArrayRef<Value> y) {
  Value acc = k.splat(cast<VectorType>(x.front().getType()), 0.0);
  for (auto [a, b] : llvm::zip(x, y))
    acc = k.fma(a, b, acc);
  return vector::ReductionOp::create(rw, loc, vector::CombiningKind::ADD, acc);
}

SmallVector<Value> ScanGradBuilder::build() {
  Value dimD = k.idx(dims.d), dimDv = k.idx(dims.dv);
  parallel({batch, hqV, skv},
           [&](ValueRange ivs) { storeScore(ivs[0], ivs[1], ivs[2]); });
  if (softmax)
    parallel({batch, hqV, sq},
             [&](ValueRange ivs) { storeDelta(ivs[0], ivs[1], ivs[2]); });
  // dK and dV: the query heads of each GQA group in order.
  parallel({batch, hkvV}, [&](ValueRange ivs) {
    k.loop(zero, skv, 1, [&](Value j) {
      k.loop(zero, dimD, 1, [&](Value d) {
        k.store(zeroF, dKAcc, {ivs[0], ivs[1], j, d});
      });
      k.loop(zero, dimDv, 1, [&](Value e) {
        k.store(zeroF, dVAcc, {ivs[0], ivs[1], j, e});
      });
    });
    k.loop(zero, k.idx(group), 1, [&](Value g) {
      Value hi = k.add(k.mul(ivs[1], k.idx(group)), g);
      reverseSweep(ivs[0], ivs[1], hi);
    });
  });
  parallel({batch, hqV}, [&](ValueRange ivs) { forwardSweep(ivs[0], ivs[1]); });
  // Rows before the first key (Sq > Skv) see nothing: dQ = 0.
  Value emptyRows = k.sub(sq, k.minI(sq, skv));
  parallel({batch, hqV, emptyRows}, [&](ValueRange ivs) {
    k.loop(zero, dimD, 1, [&](Value d) {
      k.store(k.fromF32(zeroF, qElt), dQ, {ivs[0], ivs[1], ivs[2], d});
    });
  });
  if (sinksB)
    parallel({hqV}, [&](ValueRange ivs) { storeSinkGradient(ivs[0]); });
  auto narrow = [&](Value acc, Value result, Type elt, int64_t size) {
    if (acc == result)
      return;
    parallel({batch, hkvV, skv}, [&](ValueRange ivs) {
      k.loop(zero, k.idx(size), 1, [&](Value d) {
        SmallVector<Value> at = {ivs[0], ivs[1], ivs[2], d};
        k.store(k.fromF32(k.load(acc, at), elt), result, at);
      });
    });
  };
  narrow(dKAcc, dK, kElt, dims.d);
  narrow(dVAcc, dV, vElt, dims.dv);

  auto tensorOf = [&](Value operand, Value buffer) {
    return k.toTensor(cast<RankedTensorType>(operand.getType()), buffer);
  };
  SmallVector<Value> results = {tensorOf(op.getQuery(), dQ),
                                tensorOf(op.getKey(), dK),
                                tensorOf(op.getValue(), dV)};
  if (sinksB)
    results.push_back(tensorOf(op.getSinks(), dSinks));
  return results;
}

void ScanGradBuilder::storeScore(Value bi, Value hi, Value j) {
  SmallVector<Value> q = k.loadRow(qB, {bi, hi, zero}, vwDot, numDot, scale);
  Value s = k.dotRow(q, kB, {bi, headOfKey(hi), j});
  // The query index is unused by the predicate (isPrefixAttention).
  if (!op.getPredicate().empty())
    s = k.select(inlineRegion(rw, op.getPredicate(), {bi, hi, zero, j}), s,
                 ninf);
  k.store(s, scores, {bi, hi, j});
}

void ScanGradBuilder::storeDelta(Value bi, Value hi, Value i) {
  Value d = dot(k.loadRow(dOB, {bi, hi, i}, vwOut, numOut),
                k.loadRow(oB, {bi, hi, i}, vwOut, numOut));
  if (dLseB)
    d = k.fsub(d, k.load(dLseB, {bi, hi, i}));
  Value lse = k.load(lseB, {bi, hi, i});
  k.store(k.select(isLive(lse), d, zeroF), delta, {bi, hi, i});
}

std::pair<Value, Value> ScanGradBuilder::keyFactors(Value s, Value ref) {
  if (softmax) {
    // e^{s - ref}: 0 for a masked key and while ref is +inf (no row yet).
    Value p = softmaxOps.weight(k.fsub(s, ref), zeroF);
    return {p, p};
  }
  Value w = softmaxOps.pointwiseWeight(kind, s);
  if (kind == AggregationKind::sigmoid)
    return {w, k.fmul(w, k.fsub(k.f32(1.0), w))};
  return {w, k.select(k.feq(s, ninf), zeroF, k.f32(1.0))};
}

void ScanGradBuilder::reverseSweep(Value bi, Value hk, Value hi) {
  SmallVector<Value> q = k.loadRow(qB, {bi, hi, zero}, vwDot, numDot, scale);
  // (L, W, U...): L is +inf until a live row is added; none and sigmoid
  // keep L = W = 0.
  SmallVector<Value> inits = {softmax ? pinf : zeroF, zeroF};
  inits.append(numOut, k.splat(vecOut, 0.0));
  k.reduceMany(zero, skv, 1, inits, [&](Value t, ValueRange st) {
    Value j = k.sub(k.sub(skv, one), t);
    SmallVector<Value> next =
        ifElse(hasRow(j), st, [&] { return addRow(st, bi, hi, rowOf(j)); });
    addKeyGradients(next, bi, hk, hi, j, q);
    return next;
  });
}

SmallVector<Value> ScanGradBuilder::addRow(ValueRange st, Value bi, Value hi,
                                           Value i) {
  SmallVector<Value> dO = k.loadRow(dOB, {bi, hi, i}, vwOut, numOut);
  SmallVector<Value> next = {st[0], st[1]};
  if (!softmax) {
    for (int64_t n = 0; n < numOut; ++n)
      next.push_back(k.fadd(st[2 + n], dO[n]));
    return next;
  }
  // Re-based on L' = min(L, lse_i): U' = e^{L' - L} U + e^{L' - lse_i} dO_i.
  // A dead row (lse = -inf) leaves the state as it is.
  Value lse = k.load(lseB, {bi, hi, i});
  Value live = isLive(lse);
  Value ref =
      k.select(live, arith::MinimumFOp::create(rw, loc, st[0], lse), st[0]);
  Value alpha = k.select(k.feq(st[0], pinf), zeroF, k.exp(k.fsub(ref, st[0])));
  alpha = k.select(live, alpha, k.f32(1.0));
  Value beta =
      k.select(live, k.exp(k.fsub(ref, k.select(live, lse, ref))), zeroF);
  Value d = k.load(delta, {bi, hi, i});
  next = {ref, k.fma(alpha, st[1], k.fmul(beta, d))};
  Value alphaV = k.bcast(vecOut, alpha), betaV = k.bcast(vecOut, beta);
  for (int64_t n = 0; n < numOut; ++n)
    next.push_back(k.fma(alphaV, st[2 + n], k.fmul(betaV, dO[n])));
  return next;
}

void ScanGradBuilder::addKeyGradients(ValueRange st, Value bi, Value hk,
                                      Value hi, Value j, ArrayRef<Value> q) {
  auto [p, dsFactor] = keyFactors(k.load(scores, {bi, hi, j}), st[0]);
  SmallVector<Value> u(st.drop_front(2));
  SmallVector<Value> v = k.loadRow(vB, {bi, hk, j}, vwOut, numOut);
  // Σ_i dS_ij = e^{s_j - L} (v_j.U - W) (W = 0 for none and sigmoid).
  Value ds = k.fmul(dsFactor, k.fsub(dot(v, u), st[1]));
  Value pV = k.bcast(vecOut, p), dsV = k.bcast(vecDot, ds);
  SmallVector<Value> dVTerms, dKTerms;
  for (Value un : u)
    dVTerms.push_back(k.fmul(pV, un));
  for (Value qn : q)
    dKTerms.push_back(k.fmul(dsV, qn));
  addTo(dVAcc, {bi, hk, j}, vwOut, dVTerms);
  addTo(dKAcc, {bi, hk, j}, vwDot, dKTerms);
}

void ScanGradBuilder::forwardSweep(Value bi, Value hi) {
  Value hk = headOfKey(hi);
  k.loop(zero, k.idx(dims.dv), 1, [&](Value e) {
    for (int64_t n = 0; n < numDot; ++n)
      k.vstore(k.splat(vecDot, 0.0), mh, {bi, hi, e, k.idx(n * vwDot)});
  });
  // (m, Kh...): the running max (softmax) and Σ e^{s_j - m} k_j.
  SmallVector<Value> inits = {ninf};
  inits.append(numDot, k.splat(vecDot, 0.0));
  k.reduceMany(zero, skv, 1, inits, [&](Value j, ValueRange st) {
    SmallVector<Value> next = addKey(st, bi, hi, hk, j);
    k.ifThen(hasRow(j), [&] { writeQueryRow(next, bi, hi, rowOf(j)); });
    return next;
  });
}

SmallVector<Value> ScanGradBuilder::addKey(ValueRange st, Value bi, Value hi,
                                           Value hk, Value j) {
  Value s = k.load(scores, {bi, hi, j});
  SmallVector<Value> key = k.loadRow(kB, {bi, hk, j}, vwDot, numDot);
  SmallVector<Value> next(st);
  Value p;
  if (softmax) {
    OnlineSoftmax::Step step = softmaxOps.rescale(st[0], s);
    p = softmaxOps.weight(s, step.safeMax);
    // Mh is rescaled only when the max rises (alpha < 1).
    Value raised =
        arith::CmpFOp::create(rw, loc, arith::CmpFPredicate::OGT, s, st[0]);
    k.ifThen(raised, [&] {
      Value alphaV = k.bcast(vecDot, step.alpha);
      k.loop(zero, k.idx(dims.dv), 1, [&](Value e) {
        for (int64_t n = 0; n < numDot; ++n) {
          SmallVector<Value> at = {bi, hi, e, k.idx(n * vwDot)};
          k.vstore(k.fmul(alphaV, k.vload(vecDot, mh, at)), mh, at);
        }
      });
    });
    Value alphaV = k.bcast(vecDot, step.alpha), pV = k.bcast(vecDot, p);
    next[0] = step.max;
    for (int64_t n = 0; n < numDot; ++n)
      next[1 + n] = k.fma(alphaV, st[1 + n], k.fmul(pV, key[n]));
  } else {
    p = keyFactors(s, zeroF).second;
  }
  // Mh[e] += p v_j[e] k_j.
  k.loop(zero, k.idx(dims.dv), 1, [&](Value e) {
    Value pv = k.bcast(vecDot, k.fmul(p, k.toF32(k.load(vB, {bi, hk, j, e}))));
    for (int64_t n = 0; n < numDot; ++n) {
      SmallVector<Value> at = {bi, hi, e, k.idx(n * vwDot)};
      k.vstore(k.fma(pv, key[n], k.vload(vecDot, mh, at)), mh, at);
    }
  });
  return next;
}

void ScanGradBuilder::writeQueryRow(ValueRange st, Value bi, Value hi,
                                    Value i) {
  // Mh dO_i, as Σ_e dO_i[e] Mh[e].
  SmallVector<Value> inits(numDot, k.splat(vecDot, 0.0));
  SmallVector<Value> acc =
      k.reduceMany(zero, k.idx(dims.dv), 1, inits, [&](Value e, ValueRange a) {
        Value x = k.bcast(vecDot, k.toF32(k.load(dOB, {bi, hi, i, e})));
        SmallVector<Value> next;
        for (int64_t n = 0; n < numDot; ++n)
          next.push_back(k.fma(
              x, k.vload(vecDot, mh, {bi, hi, e, k.idx(n * vwDot)}), a[n]));
        return next;
      });
  Value factor = scale;
  Value negDelta = zeroF;
  if (softmax) {
    // scale e^{m - lse_i} (Mh dO_i - Δ_i Kh); 0 for a dead row.
    Value lse = k.load(lseB, {bi, hi, i});
    Value live = isLive(lse);
    Value c = softmaxOps.weight(st[0], k.select(live, lse, zeroF));
    factor = k.fmul(scale, k.select(live, c, zeroF));
    negDelta = arith::NegFOp::create(rw, loc, k.load(delta, {bi, hi, i}));
  }
  Value factorV = k.bcast(vecDot, factor),
        negDeltaV = k.bcast(vecDot, negDelta);
  for (int64_t n = 0; n < numDot; ++n) {
    Value x = softmax ? k.fma(negDeltaV, st[1 + n], acc[n]) : acc[n];
    Value out = k.fromF32(k.fmul(factorV, x), qElt);
    k.vstore(out, dQ, {bi, hi, i, k.idx(n * vwDot)});
  }
}

void ScanGradBuilder::storeSinkGradient(Value hi) {
  // d(sink_h) = -Σ_{b,i} e^{sink_h - lse_i} Δ_i (sink_h <= lse_i).
  Value sink = k.load(sinksB, hi);
  Value total = k.reduce(zero, batch, 1, zeroF, [&](Value bi, Value acc) {
    return k.reduce(zero, sq, 1, acc, [&](Value i, Value a) {
      Value lse = k.load(lseB, {bi, hi, i});
      Value live = isLive(lse);
      Value w = k.exp(k.fsub(sink, k.select(live, lse, sink)));
      Value term = k.fmul(w, k.load(delta, {bi, hi, i}));
      return k.fadd(a, k.select(live, term, zeroF));
    });
  });
  k.store(arith::NegFOp::create(rw, loc, total), dSinks, hi);
}

FailureOr<SmallVector<Value>>
mlir::attn::scanAttentionGrad(RewriterBase &rw, AttentionGradOp op,
                              const ScanOptions &options) {
  if (!isPrefixAttention(op))
    return rw.notifyMatchFailure(op,
                                 "not the backward of one query over prefixes");
  if (!op.getScoreMod().empty())
    return rw.notifyMatchFailure(op, "score_mod: tiled backward");
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or head dimension");
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  return ScanGradBuilder(rw, op, options, *dims).build();
}

namespace {
struct ScanAttentionGrad : OpRewritePattern<AttentionGradOp> {
  ScanAttentionGrad(MLIRContext *ctx, ScanOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rewriter) const override {
    // As for the forward: the tiled backward is as cheap for a few rows.
    auto qTy = cast<RankedTensorType>(op.getQuery().getType());
    if (!qTy.isDynamicDim(2) && qTy.getDimSize(2) <= 8)
      return rewriter.notifyMatchFailure(op, "few query rows: tiled form");
    FailureOr<SmallVector<Value>> out =
        scanAttentionGrad(rewriter, op, options);
    if (failed(out))
      return failure();
    rewriter.replaceOp(op, *out);
    return success();
  }
  ScanOptions options;
};
} // namespace

void mlir::attn::populateScanGradPatterns(RewritePatternSet &patterns,
                                          const ScanOptions &options) {
  patterns.add<ScanAttentionGrad>(patterns.getContext(), options);
}
