//===- LinearizeGrad.cpp - chunked backward of attn.linear_aggregate ------===//
//
// The vector-Jacobian product of linear attention in O(S). Per (batch, query
// head) -- the iterations of one scf.parallel -- with the aligned position
// p = i + Skv - Sq of query i, A_ij = λ^{p-j} φq_i·φk_j (j <= p),
// r_i = 1/(Σ_j A_ij + eps) and c_i = -r_i dO_i·O_i with `normalize` (r = 1,
// c = 0 without), g_i = r_i dO_i and dA_ij = g_i·v_j + c_i, two sweeps walk
// the chunks [t0, t1) of C keys of the forward form (Linearize.cpp):
//
//   forward, chunks in order, T = Σ_{j<t0} λ^{t0-1-j} v_j φk_jᵀ ([Dv, F])
//   and z = Σ_{j<t0} λ^{t0-1-j} φk_j as the forward form carries them:
//     dq_i = λ^{p-t0+1} (Tᵀ g_i + c_i z) + Σ_{t0<=j<=p} λ^{p-j} dA_ij φk_j
//     (the row's denominator comes from the same pass over the chunk's
//     keys, so r_i is known before dq_i is formed)
//   reverse, chunks last to first, U = Σ_{p_i>=t1} λ^{p_i-t1} φq_i g_iᵀ
//   ([F, Dv]) and u = Σ_{p_i>=t1} λ^{p_i-t1} c_i φq_i:
//     dk_j = λ^{t1-j} (U v_j + u) + Σ_{j<=p_i<t1} λ^{p_i-j} dA_ij φq_i
//     dv_j = λ^{t1-j} Uᵀ φk_j + Σ_{j<=p_i<t1} λ^{p_i-j} (φq_i·φk_j) g_i
//
// dλ = Σ (p-j) λ^{p-j-1} (φq_i·φk_j) dA_ij comes from the forward sweep: a
// chunk's own pairs from a table of e λ^{e-1}, the earlier keys through the
// derivatives T' = dT/dλ and z' = dz/dλ carried with T and z. Every
// exponent stays in [0, C], as in the forward form. r_i and c_i pass from the
// first sweep to the second in [Sq] rows; the states live per head on the
// heap. With a GQA group, each query head writes its dk and dv to an f32
// scratch, summed in head order afterwards; dλ's per-(batch, head) partials
// likewise: no atomics, deterministic results.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToLoops/LinearizeGrad.h"
#include "attn/Kernel/CpuTarget.h"
#include "attn/Kernel/KernelBuilder.h"

#include <numeric>

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Builds the chunked backward of one linear aggregate at the rewriter's
/// insertion point: one method per phase, sharing the sizes, the buffers and
/// the current (batch, head).
class LinearizeGradBuilder {
public:
  LinearizeGradBuilder(RewriterBase &rw, LinearAggregateGradOp op,
                       const LinearizeOptions &options, const HeadDims &dims);

  /// The kernel; returns the op's results.
  SmallVector<Value> build();

private:
  /// One (batch, head): both sweeps.
  void buildHead(Value bi, Value hi);
  /// The fixed-order sums after the heads: dk and dv over a GQA group, dλ
  /// over the batch.
  void sumGroups();
  void sumDecayGradient();

  // Loads as f32: vectors over F (or Dv) of a row, one element.
  SmallVector<Value> featureRow(Value buffer, Value head, Value pos);
  SmallVector<Value> valueRow(Value buffer, Value head, Value pos);
  Value element(Value buffer, Value head, Value pos, Value col);
  /// Σ x·y over vectors, then one horizontal sum (a halving tree).
  Value dot(ArrayRef<Value> x, ArrayRef<Value> y);
  /// The head's T (or, in the reverse sweep, Uᵀ) row e, vector c; U row ff.
  SmallVector<Value> tAt(Value e, int64_t c);
  SmallVector<Value> uAt(Value ff, int64_t c);
  SmallVector<Value> zAt(int64_t c);
  /// The head's row of z (or z') as vectors over F.
  SmallVector<Value> zVectors(Value buffer);
  /// x scaled by the f32 scalar s.
  SmallVector<Value> scaled(ArrayRef<Value> x, Value s);

  // Forward sweep.
  void zeroForwardStates();
  /// Queries that see no key (causal, p < 0): dq = 0.
  void buildRowsBeforeKeys();
  void forwardChunk(Value t0);
  /// dq of row `i` (and its r, c, dλ share) in the chunk from `t0`, or, with
  /// no `t0` (non-causal), against the state over all keys.
  void forwardRow(Value i, Value t0);
  /// Tᵀ dO (and T'ᵀ dO with decay) for the row's cotangent.
  SmallVector<Value> readForwardState(Value i);
  /// Σ over the chunk's keys j <= p of the row's sums, see forwardRow.
  SmallVector<Value> forwardChunkPairs(Value i, Value p, Value t0,
                                       ArrayRef<Value> qv, ArrayRef<Value> dov);
  /// The row's dλ share, added to the chunk's (dlChunk).
  void addDecayGradient(ArrayRef<Value> qv, ArrayRef<Value> fromState,
                        ArrayRef<Value> pairs, Value e1, Value r, Value c);
  /// T, z (and T', z') re-based from t0 - 1 to t1 - 1 (with decay), plus
  /// the keys [t0, t1) at weights λ^{t1-1-j} (and (t1-1-j) λ^{t1-2-j}).
  void addKeys(Value t0, Value t1);
  /// The weights of key `j` in addKeys: 1 (and none) without decay.
  std::pair<Value, Value> keyWeights(Value j, Value t1);

  // Reverse sweep.
  /// U = 0 and u = 0 (z's buffer).
  void zeroReverseStates();
  void reverseChunk(Value t0, Value t1);
  /// Uᵀ into the T buffer, for the row-wise reads of U v_j.
  void transposeU();
  /// dk and dv of key `j`: from U (times λ^{t1-j}) and, with `t1`, the
  /// chunk's queries up to t1.
  void keyRow(Value j, Value t1);
  /// U, u re-based from t1 to t0 (with decay), plus the queries [iLo, iHi)
  /// at weights λ^{p-t0} (1 without `t0`, non-causal): U += w r φq_i dO_iᵀ,
  /// u += w c φq_i.
  void addQueries(Value iLo, Value iHi, Value t0, Value t1);
  /// r_i and c_i (1 and 0 without normalize).
  std::pair<Value, Value> rowFactors(Value i);

  void buildNonCausal();
  void storeKeyGradients(Value j, ArrayRef<Value> dk, ArrayRef<Value> dvv);

  RewriterBase &rw;
  LinearAggregateGradOp op;
  Location loc;
  KernelBuilder k;

  // Configuration: vectors of vwF (vwO) lanes, nF (nO) of them per row.
  int64_t hq, hkv, group, f, dv, chunk, vwF, vwO, nF, nO;
  bool causal, normalize, decay;
  VectorType vecF, vecO;

  // Inputs, sizes, results, scratch and constants.
  Value qB, kB, vB, oB, doB, lamB, batch, sq, skv, offset, zero, one, eps;
  Value dqB, dkB, dvB, dlB;
  /// f32 per query head dk and dv (with a GQA group; else dkB and dvB), the
  /// per-(batch, head) dλ partials, the rows' r and c.
  Value dkHeads, dvHeads, dlPart, rAll, cAll;
  /// Per-head states: T [Dv, F] (Uᵀ in the reverse sweep), T' [Dv, F],
  /// U [F, Dv], z [F] (u in the reverse sweep), z' [F].
  Value tAll, tdAll, uAll, zAll, zdAll;

  // The current head: indices, λ^e and e λ^{e-1} for e = 0..C.
  Value bi, hi, hk, powers, dpowers;
  /// The current chunk's dλ share: added to the head's partial per chunk, so
  /// that no f32 sum runs over more than max(C, S / C) terms.
  Value dlChunk;
};

} // namespace

LinearizeGradBuilder::LinearizeGradBuilder(RewriterBase &rw,
                                           LinearAggregateGradOp op,
                                           const LinearizeOptions &options,
                                           const HeadDims &dims)
    : rw(rw), op(op), loc(op.getLoc()), k(rw, loc), hq(dims.hq), hkv(dims.hkv),
      group(dims.hq / dims.hkv), f(dims.d), dv(dims.dv),
      chunk(options.chunk ? options.chunk : 64), causal(op.getCausal()),
      normalize(op.getNormalize()), decay(static_cast<bool>(op.getDecay())) {
  const int64_t vw = resolveVectorWidth(options.vectorWidth, options.target);
  vwF = largestDividingWidth(f, vw);
  vwO = largestDividingWidth(dv, vw);
  nF = f / vwF;
  nO = dv / vwO;
  Type f32 = rw.getF32Type();
  vecF = VectorType::get({vwF}, f32);
  vecO = VectorType::get({vwO}, f32);

  qB = k.toBuffer(op.getQuery());
  kB = k.toBuffer(op.getKey());
  vB = k.toBuffer(op.getValue());
  oB = k.toBuffer(op.getOutput());
  doB = k.toBuffer(op.getGradOutput());
  lamB = decay ? k.toBuffer(op.getDecay()) : Value();
  batch = k.dimOf(op.getQuery(), 0);
  sq = k.dimOf(op.getQuery(), 2);
  skv = k.dimOf(op.getKey(), 2);
  zero = k.idx(0);
  one = k.idx(1);
  offset = k.sub(skv, sq);
  eps = k.f32(op.getEps().convertToDouble());

  auto typeOf = [](Value v) { return cast<RankedTensorType>(v.getType()); };
  Value hqIdx = k.idx(hq), hkvIdx = k.idx(hkv);
  dqB = k.allocLike(typeOf(op.getGradQuery()), {batch, hqIdx, sq, k.idx(f)});
  dkB = k.allocLike(typeOf(op.getGradKey()), {batch, hkvIdx, skv, k.idx(f)});
  dvB = k.allocLike(typeOf(op.getGradValue()), {batch, hkvIdx, skv, k.idx(dv)});
  auto heap = [&](ArrayRef<int64_t> trailing, ArrayRef<Value> dynamic) {
    SmallVector<int64_t> shape = {ShapedType::kDynamic};
    shape.append(trailing.begin(), trailing.end());
    return memref::AllocOp::create(rw, loc, MemRefType::get(shape, f32),
                                   dynamic)
        .getResult();
  };
  const int64_t dyn = ShapedType::kDynamic;
  dkHeads = group > 1 ? heap({hq, dyn, f}, {batch, skv}) : dkB;
  dvHeads = group > 1 ? heap({hq, dyn, dv}, {batch, skv}) : dvB;
  if (decay) {
    dlB = k.allocLike(typeOf(op.getGradDecay()), {hqIdx});
    dlPart = heap({hq}, {batch});
    tdAll = heap({hq, dv, f}, {batch});
    zdAll = heap({hq, f}, {batch});
  }
  if (normalize) {
    rAll = heap({hq, dyn}, {batch, sq});
    cAll = heap({hq, dyn}, {batch, sq});
  }
  tAll = heap({hq, dv, f}, {batch});
  uAll = heap({hq, f, dv}, {batch});
  zAll = heap({hq, f}, {batch});
}

SmallVector<Value> LinearizeGradBuilder::build() {
  scf::ParallelOp::create(
      rw, loc, ValueRange{zero, zero}, ValueRange{batch, k.idx(hq)},
      ValueRange{one, one}, [&](OpBuilder &nb, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard g(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        buildHead(ivs[0], ivs[1]);
      });
  if (group > 1)
    sumGroups();
  if (decay)
    sumDecayGradient();
  auto tensorOf = [&](Value result, Value buffer) {
    return k.toTensor(cast<RankedTensorType>(result.getType()), buffer);
  };
  SmallVector<Value> results = {tensorOf(op.getGradQuery(), dqB),
                                tensorOf(op.getGradKey(), dkB),
                                tensorOf(op.getGradValue(), dvB)};
  if (decay)
    results.push_back(tensorOf(op.getGradDecay(), dlB));
  return results;
}

void LinearizeGradBuilder::buildHead(Value headB, Value headH) {
  bi = headB;
  hi = headH;
  hk = arith::DivUIOp::create(rw, loc, hi, k.idx(group));
  zeroForwardStates();
  if (!causal)
    return buildNonCausal();
  Value lambda = decay ? k.load(lamB, hi) : k.f32(1.0);
  powers = buildDecayPowers(k, lambda, chunk);
  if (decay) {
    // e λ^{e-1} from λ^{e-1}: never a negative power (λ may be 0).
    dpowers = k.stackBuffer({chunk + 1});
    k.store(k.f32(0.0), dpowers, zero);
    k.loop(one, k.idx(chunk + 1), 1, [&](Value e) {
      Value ef = arith::UIToFPOp::create(
          rw, loc, rw.getF32Type(),
          arith::IndexCastOp::create(rw, loc, rw.getI64Type(), e));
      k.store(k.fmul(ef, k.load(powers, k.sub(e, one))), dpowers, e);
    });
    k.store(k.f32(0.0), dlPart, {bi, hi});
    dlChunk = k.stackBuffer({1});
  }
  buildRowsBeforeKeys();
  k.loop(zero, skv, chunk, [&](Value t0) { forwardChunk(t0); });
  // The reverse sweep: chunk m from the end starts at (count - 1 - m) C.
  zeroReverseStates();
  Value count = arith::CeilDivUIOp::create(rw, loc, skv, k.idx(chunk));
  k.loop(zero, count, 1, [&](Value m) {
    Value t0 = k.mul(k.sub(k.sub(count, one), m), k.idx(chunk));
    reverseChunk(t0, k.minI(k.add(t0, k.idx(chunk)), skv));
  });
}

//===----------------------------------------------------------------------===//
// Loads and state indices
//===----------------------------------------------------------------------===//

static Type elementTypeOf(Value buffer) {
  return cast<MemRefType>(buffer.getType()).getElementType();
}

SmallVector<Value> LinearizeGradBuilder::featureRow(Value buffer, Value head,
                                                    Value pos) {
  return k.loadRow(buffer, {bi, head, pos}, vwF, nF);
}

SmallVector<Value> LinearizeGradBuilder::valueRow(Value buffer, Value head,
                                                  Value pos) {
  return k.loadRow(buffer, {bi, head, pos}, vwO, nO);
}

Value LinearizeGradBuilder::element(Value buffer, Value head, Value pos,
                                    Value col) {
  return k.toF32(k.load(buffer, {bi, head, pos, col}));
}

Value LinearizeGradBuilder::dot(ArrayRef<Value> x, ArrayRef<Value> y) {
  Value acc = k.splat(cast<VectorType>(x.front().getType()), 0.0);
  for (auto [a, b] : llvm::zip(x, y))
    acc = k.fma(a, b, acc);
  // A fixed tree of halvings: log2(lanes) dependent adds where the ordered
  // vector.reduction chains one add per lane; the same order on every run.
  for (int64_t w = cast<VectorType>(acc.getType()).getNumElements() / 2; w >= 1;
       w /= 2) {
    // vector.shuffle, not extract_strided_slice: the NVVM lowering has no
    // pattern for the latter.
    SmallVector<int64_t> low(w), high(w);
    std::iota(low.begin(), low.end(), 0);
    std::iota(high.begin(), high.end(), w);
    Value lo = vector::ShuffleOp::create(rw, loc, acc, acc, low);
    Value hi = vector::ShuffleOp::create(rw, loc, acc, acc, high);
    acc = k.fadd(lo, hi);
  }
  return vector::ExtractOp::create(rw, loc, acc, 0);
}

SmallVector<Value> LinearizeGradBuilder::tAt(Value e, int64_t c) {
  return {bi, hi, e, k.idx(c * vwF)};
}

SmallVector<Value> LinearizeGradBuilder::uAt(Value ff, int64_t c) {
  return {bi, hi, ff, k.idx(c * vwO)};
}

SmallVector<Value> LinearizeGradBuilder::zAt(int64_t c) {
  return {bi, hi, k.idx(c * vwF)};
}

SmallVector<Value> LinearizeGradBuilder::zVectors(Value buffer) {
  SmallVector<Value> vecs;
  for (int64_t c = 0; c < nF; ++c)
    vecs.push_back(k.vload(vecF, buffer, zAt(c)));
  return vecs;
}

SmallVector<Value> LinearizeGradBuilder::scaled(ArrayRef<Value> x, Value s) {
  Value sv = k.bcast(cast<VectorType>(x.front().getType()), s);
  SmallVector<Value> out;
  for (Value v : x)
    out.push_back(k.fmul(v, sv));
  return out;
}

//===----------------------------------------------------------------------===//
// Forward sweep: dq, r, c and dλ
//===----------------------------------------------------------------------===//

void LinearizeGradBuilder::zeroForwardStates() {
  Value zf = k.splat(vecF, 0.0);
  k.loop(zero, k.idx(dv), 1, [&](Value e) {
    for (int64_t c = 0; c < nF; ++c) {
      k.vstore(zf, tAll, tAt(e, c));
      if (decay)
        k.vstore(zf, tdAll, tAt(e, c));
    }
  });
  for (int64_t c = 0; c < nF; ++c) {
    k.vstore(zf, zAll, zAt(c));
    if (decay)
      k.vstore(zf, zdAll, zAt(c));
  }
}

void LinearizeGradBuilder::buildRowsBeforeKeys() {
  Value firstSeeing =
      k.minI(arith::MaxSIOp::create(rw, loc, zero, k.sub(zero, offset)), sq);
  Type qElt = elementTypeOf(dqB);
  Value zq = k.fromF32(k.splat(vecF, 0.0), qElt);
  k.loop(zero, firstSeeing, 1, [&](Value i) {
    for (int64_t c = 0; c < nF; ++c)
      k.vstore(zq, dqB, {bi, hi, i, k.idx(c * vwF)});
  });
}

void LinearizeGradBuilder::forwardChunk(Value t0) {
  Value t1 = k.minI(k.add(t0, k.idx(chunk)), skv);
  // Queries whose aligned position p = i + offset lies in [t0, t1).
  Value iLo = arith::MaxSIOp::create(rw, loc, k.sub(t0, offset), zero);
  Value iHi = k.minI(k.sub(t1, offset), sq);
  if (decay)
    k.store(k.f32(0.0), dlChunk, zero);
  k.loop(iLo, iHi, 1, [&](Value i) { forwardRow(i, t0); });
  if (decay)
    k.store(k.fadd(k.load(dlPart, {bi, hi}), k.load(dlChunk, zero)), dlPart,
            {bi, hi});
  addKeys(t0, t1);
}

SmallVector<Value> LinearizeGradBuilder::readForwardState(Value i) {
  SmallVector<Value> init((decay ? 2 : 1) * nF, k.splat(vecF, 0.0));
  return k.reduceMany(
      zero, k.idx(dv), 1, init,
      [&](Value e, ValueRange a) -> SmallVector<Value> {
        Value d = k.bcast(vecF, element(doB, hi, i, e));
        SmallVector<Value> next;
        for (int64_t c = 0; c < nF; ++c)
          next.push_back(k.fma(d, k.vload(vecF, tAll, tAt(e, c)), a[c]));
        for (int64_t c = 0; decay && c < nF; ++c)
          next.push_back(k.fma(d, k.vload(vecF, tdAll, tAt(e, c)), a[nF + c]));
        return next;
      });
}

SmallVector<Value> LinearizeGradBuilder::forwardChunkPairs(
    Value i, Value p, Value t0, ArrayRef<Value> qv, ArrayRef<Value> dov) {
  // Accumulators: Σ w (dO·v_j) φk_j; with normalize Σ w φk_j and Σ w a_j
  // (the denominator); with decay Σ wd a_j (dO·v_j) and with normalize
  // Σ wd a_j, for the weights w = λ^{p-j}, wd = (p-j) λ^{p-j-1}.
  SmallVector<Value> init((normalize ? 2 : 1) * nF, k.splat(vecF, 0.0));
  const size_t den = init.size();
  if (normalize)
    init.push_back(k.f32(0.0));
  const size_t dl = init.size();
  if (decay)
    init.append(normalize ? 2 : 1, k.f32(0.0));
  return k.reduceMany(t0, k.add(p, one), 1, init,
                      [&](Value j, ValueRange a) -> SmallVector<Value> {
                        SmallVector<Value> kv = featureRow(kB, hk, j);
                        Value s = dot(qv, kv),
                              b = dot(dov, valueRow(vB, hk, j));
                        Value dist = k.sub(p, j);
                        Value w = k.load(powers, dist);
                        SmallVector<Value> next;
                        Value wb = k.bcast(vecF, k.fmul(w, b)),
                              wv = k.bcast(vecF, w);
                        for (int64_t c = 0; c < nF; ++c)
                          next.push_back(k.fma(wb, kv[c], a[c]));
                        for (int64_t c = 0; normalize && c < nF; ++c)
                          next.push_back(k.fma(wv, kv[c], a[nF + c]));
                        if (normalize)
                          next.push_back(k.fma(w, s, a[den]));
                        if (decay) {
                          Value wds = k.fmul(k.load(dpowers, dist), s);
                          next.push_back(k.fma(wds, b, a[dl]));
                          if (normalize)
                            next.push_back(k.fadd(wds, a[dl + 1]));
                        }
                        return next;
                      });
}

void LinearizeGradBuilder::forwardRow(Value i, Value t0) {
  SmallVector<Value> qv = featureRow(qB, hi, i);
  SmallVector<Value> dov = valueRow(doB, hi, i);
  SmallVector<Value> fromState = readForwardState(i);
  // Without a chunk (non-causal) the state holds every key at weight 1.
  Value e1 = t0 ? k.add(k.sub(k.add(i, offset), t0), one) : Value();
  Value pw = t0 ? k.load(powers, e1) : k.f32(1.0);
  SmallVector<Value> pairs;
  if (t0)
    pairs = forwardChunkPairs(i, k.add(i, offset), t0, qv, dov);
  else
    pairs.assign((normalize ? 2 : 1) * nF + (normalize ? 1 : 0),
                 Value()); // no chunk terms
  auto pairVec = [&](int64_t n) {
    return pairs[n] ? pairs[n] : k.splat(vecF, 0.0);
  };
  Value r = k.f32(1.0), c = k.f32(0.0);
  SmallVector<Value> zv;
  if (normalize) {
    zv = zVectors(zAll);
    Value chunkDen = pairs[2 * nF] ? pairs[2 * nF] : k.f32(0.0);
    Value den = k.fadd(k.fma(pw, dot(qv, zv), chunkDen), eps);
    // A row without keys at eps = 0 has den = 0: r = 0 keeps it out.
    r = k.select(k.feq(den, k.f32(0.0)), k.f32(0.0), k.fdiv(k.f32(1.0), den));
    c = arith::NegFOp::create(rw, loc,
                              k.fmul(r, dot(dov, valueRow(oB, hi, i))));
    k.store(r, rAll, {bi, hi, i});
    k.store(c, cAll, {bi, hi, i});
  }
  Value pwV = k.bcast(vecF, pw), rV = k.bcast(vecF, r), cV = k.bcast(vecF, c);
  Type qElt = elementTypeOf(dqB);
  for (int64_t n = 0; n < nF; ++n) {
    Value g = k.fmul(rV, k.fma(pwV, fromState[n], pairVec(n)));
    if (normalize)
      g = k.fma(cV, k.fma(pwV, zv[n], pairVec(nF + n)), g);
    k.vstore(k.fromF32(g, qElt), dqB, {bi, hi, i, k.idx(n * vwF)});
  }
  if (decay)
    addDecayGradient(qv, fromState, pairs, e1, r, c);
}

void LinearizeGradBuilder::addDecayGradient(ArrayRef<Value> qv,
                                            ArrayRef<Value> fromState,
                                            ArrayRef<Value> pairs, Value e1,
                                            Value r, Value c) {
  // d/dλ of λ^{e1} X(λ), X = r q·Tᵀ dO + c q·z: e1 λ^{e1-1} X + λ^{e1} X'.
  Value pw = k.load(powers, e1), dpw = k.load(dpowers, e1);
  const size_t dl = (normalize ? 2 * nF + 1 : nF);
  Value fromT = dot(qv, ArrayRef<Value>(fromState).take_front(nF));
  Value fromTd = dot(qv, ArrayRef<Value>(fromState).drop_front(nF));
  Value share = k.fmul(r, k.fma(dpw, fromT, k.fma(pw, fromTd, pairs[dl])));
  if (normalize) {
    Value qz = dot(qv, zVectors(zAll)), qzd = dot(qv, zVectors(zdAll));
    share = k.fma(c, k.fma(dpw, qz, k.fma(pw, qzd, pairs[dl + 1])), share);
  }
  k.store(k.fadd(k.load(dlChunk, zero), share), dlChunk, zero);
}

std::pair<Value, Value> LinearizeGradBuilder::keyWeights(Value j, Value t1) {
  if (!decay)
    return {k.f32(1.0), Value()};
  Value dist = k.sub(k.sub(t1, one), j);
  return {k.load(powers, dist), k.load(dpowers, dist)};
}

void LinearizeGradBuilder::addKeys(Value t0, Value t1) {
  // Row by row of the state, in registers: its loads and stores happen once
  // per chunk, not once per key.
  Value pw, dpw;
  if (decay) {
    Value len = k.sub(t1, t0);
    pw = k.bcast(vecF, k.load(powers, len));
    dpw = k.bcast(vecF, k.load(dpowers, len));
  }
  // One row: `scale(j)` is v_j[e] for T, 1 for z.
  auto addRow = [&](Value t, Value td,
                    function_ref<SmallVector<Value>(int64_t)> at,
                    function_ref<Value(Value)> scale) {
    SmallVector<Value> acc;
    for (int64_t c = 0; c < nF; ++c)
      acc.push_back(k.vload(vecF, t, at(c)));
    for (int64_t c = 0; decay && c < nF; ++c) {
      // T' <- L λ^{L-1} T + λ^L T', T <- λ^L T, L = t1 - t0.
      acc.push_back(k.fma(dpw, acc[c], k.fmul(pw, k.vload(vecF, td, at(c)))));
      acc[c] = k.fmul(pw, acc[c]);
    }
    acc = k.reduceMany(t0, t1, 1, acc,
                       [&](Value j, ValueRange a) -> SmallVector<Value> {
                         SmallVector<Value> kv = featureRow(kB, hk, j);
                         auto [w, wd] = keyWeights(j, t1);
                         Value x = scale(j);
                         Value wx = k.bcast(vecF, k.fmul(w, x));
                         SmallVector<Value> next;
                         for (int64_t c = 0; c < nF; ++c)
                           next.push_back(k.fma(wx, kv[c], a[c]));
                         if (!wd)
                           return next;
                         Value wdx = k.bcast(vecF, k.fmul(wd, x));
                         for (int64_t c = 0; c < nF; ++c)
                           next.push_back(k.fma(wdx, kv[c], a[nF + c]));
                         return next;
                       });
    for (int64_t c = 0; c < nF; ++c) {
      k.vstore(acc[c], t, at(c));
      if (decay)
        k.vstore(acc[nF + c], td, at(c));
    }
  };
  k.loop(zero, k.idx(dv), 1, [&](Value e) {
    addRow(
        tAll, tdAll, [&](int64_t c) { return tAt(e, c); },
        [&](Value j) { return element(vB, hk, j, e); });
  });
  if (normalize)
    addRow(
        zAll, zdAll, [&](int64_t c) { return zAt(c); },
        [&](Value) { return k.f32(1.0); });
}

//===----------------------------------------------------------------------===//
// Reverse sweep: dk and dv
//===----------------------------------------------------------------------===//

void LinearizeGradBuilder::zeroReverseStates() {
  Value zo = k.splat(vecO, 0.0), zf = k.splat(vecF, 0.0);
  k.loop(zero, k.idx(f), 1, [&](Value ff) {
    for (int64_t c = 0; c < nO; ++c)
      k.vstore(zo, uAll, uAt(ff, c));
  });
  for (int64_t c = 0; normalize && c < nF; ++c)
    k.vstore(zf, zAll, zAt(c));
}

std::pair<Value, Value> LinearizeGradBuilder::rowFactors(Value i) {
  if (!normalize)
    return {k.f32(1.0), k.f32(0.0)};
  return {k.load(rAll, {bi, hi, i}), k.load(cAll, {bi, hi, i})};
}

void LinearizeGradBuilder::reverseChunk(Value t0, Value t1) {
  transposeU();
  k.loop(t0, t1, 1, [&](Value j) { keyRow(j, t1); });
  Value iLo = arith::MaxSIOp::create(rw, loc, k.sub(t0, offset), zero);
  addQueries(iLo, k.sub(t1, offset), t0, t1);
}

void LinearizeGradBuilder::transposeU() {
  k.loop(zero, k.idx(f), 1, [&](Value ff) {
    k.loop(zero, k.idx(dv), 1, [&](Value e) {
      k.store(k.load(uAll, {bi, hi, ff, e}), tAll, {bi, hi, e, ff});
    });
  });
}

void LinearizeGradBuilder::keyRow(Value j, Value t1) {
  SmallVector<Value> kv = featureRow(kB, hk, j);
  SmallVector<Value> vv = valueRow(vB, hk, j);
  // Σ_r x_j[r] M[r, :] for row j of `x` ([.., depth]) and the matrix whose
  // row r, vector c, is at `at(r, c)` in `m`: n vectors of type `vec`.
  auto rowTimesMatrix =
      [&](Value x, int64_t depth, VectorType vec, int64_t n, Value m,
          function_ref<SmallVector<Value>(Value, int64_t)> at) {
        return k.reduceMany(
            zero, k.idx(depth), 1, SmallVector<Value>(n, k.splat(vec, 0.0)),
            [&](Value r, ValueRange a) -> SmallVector<Value> {
              Value xr = k.bcast(vec, element(x, hk, j, r));
              SmallVector<Value> next;
              for (int64_t c = 0; c < n; ++c)
                next.push_back(k.fma(xr, k.vload(vec, m, at(r, c)), a[c]));
              return next;
            });
      };
  // From U: U v_j + u (Uᵀ rows, over F) and Uᵀ φk_j (U rows, over Dv).
  SmallVector<Value> dk = rowTimesMatrix(
      vB, dv, vecF, nF, tAll, [&](Value e, int64_t c) { return tAt(e, c); });
  for (int64_t c = 0; normalize && c < nF; ++c)
    dk[c] = k.fadd(dk[c], k.vload(vecF, zAll, zAt(c)));
  SmallVector<Value> dvv = rowTimesMatrix(
      kB, f, vecO, nO, uAll, [&](Value ff, int64_t c) { return uAt(ff, c); });
  if (!t1)
    return storeKeyGradients(j, dk, dvv);
  Value pw = k.load(powers, k.sub(t1, j));
  dk = scaled(dk, pw);
  dvv = scaled(dvv, pw);
  // The chunk's queries at p in [j, t1).
  Value iLo = arith::MaxSIOp::create(rw, loc, k.sub(j, offset), zero);
  SmallVector<Value> acc(dk);
  acc.append(dvv);
  acc = k.reduceMany(iLo, k.sub(t1, offset), 1, acc,
                     [&](Value i, ValueRange a) -> SmallVector<Value> {
                       SmallVector<Value> qv = featureRow(qB, hi, i);
                       SmallVector<Value> dov = valueRow(doB, hi, i);
                       Value w = k.load(powers, k.sub(k.add(i, offset), j));
                       auto [r, c] = rowFactors(i);
                       Value wr = k.fmul(w, r);
                       Value coefK = k.fmul(w, k.fma(r, dot(dov, vv), c));
                       Value coefV = k.fmul(wr, dot(qv, kv));
                       Value cK = k.bcast(vecF, coefK),
                             cV = k.bcast(vecO, coefV);
                       SmallVector<Value> next;
                       for (int64_t n = 0; n < nF; ++n)
                         next.push_back(k.fma(cK, qv[n], a[n]));
                       for (int64_t n = 0; n < nO; ++n)
                         next.push_back(k.fma(cV, dov[n], a[nF + n]));
                       return next;
                     });
  storeKeyGradients(j, ArrayRef<Value>(acc).take_front(nF),
                    ArrayRef<Value>(acc).drop_front(nF));
}

void LinearizeGradBuilder::storeKeyGradients(Value j, ArrayRef<Value> dk,
                                             ArrayRef<Value> dvv) {
  // Without a group, the query head's gradient is the key head's.
  Type kElt = elementTypeOf(dkHeads), vElt = elementTypeOf(dvHeads);
  for (int64_t c = 0; c < nF; ++c)
    k.vstore(k.fromF32(dk[c], kElt), dkHeads, {bi, hi, j, k.idx(c * vwF)});
  for (int64_t c = 0; c < nO; ++c)
    k.vstore(k.fromF32(dvv[c], vElt), dvHeads, {bi, hi, j, k.idx(c * vwO)});
}

void LinearizeGradBuilder::addQueries(Value iLo, Value iHi, Value t0,
                                      Value t1) {
  // Row by row of U in registers, as addKeys does for T.
  Value pw = decay ? k.load(powers, k.sub(t1, t0)) : Value();
  auto weight = [&](Value i) {
    return decay ? k.load(powers, k.sub(k.add(i, offset), t0)) : k.f32(1.0);
  };
  k.loop(zero, k.idx(f), 1, [&](Value ff) {
    SmallVector<Value> acc;
    for (int64_t c = 0; c < nO; ++c) {
      Value u = k.vload(vecO, uAll, uAt(ff, c));
      acc.push_back(pw ? k.fmul(k.bcast(vecO, pw), u) : u);
    }
    acc = k.reduceMany(
        iLo, iHi, 1, acc, [&](Value i, ValueRange a) -> SmallVector<Value> {
          Value r = rowFactors(i).first;
          Value x = k.fmul(k.fmul(weight(i), r), element(qB, hi, i, ff));
          Value xv = k.bcast(vecO, x);
          SmallVector<Value> dov = valueRow(doB, hi, i);
          SmallVector<Value> next;
          for (int64_t c = 0; c < nO; ++c)
            next.push_back(k.fma(xv, dov[c], a[c]));
          return next;
        });
    for (int64_t c = 0; c < nO; ++c)
      k.vstore(acc[c], uAll, uAt(ff, c));
  });
  if (!normalize)
    return;
  SmallVector<Value> acc;
  for (int64_t c = 0; c < nF; ++c) {
    Value u = k.vload(vecF, zAll, zAt(c));
    acc.push_back(pw ? k.fmul(k.bcast(vecF, pw), u) : u);
  }
  acc = k.reduceMany(iLo, iHi, 1, acc,
                     [&](Value i, ValueRange a) -> SmallVector<Value> {
                       Value x = k.fmul(weight(i), rowFactors(i).second);
                       Value xv = k.bcast(vecF, x);
                       SmallVector<Value> qv = featureRow(qB, hi, i);
                       SmallVector<Value> next;
                       for (int64_t c = 0; c < nF; ++c)
                         next.push_back(k.fma(xv, qv[c], a[c]));
                       return next;
                     });
  for (int64_t c = 0; c < nF; ++c)
    k.vstore(acc[c], zAll, zAt(c));
}

//===----------------------------------------------------------------------===//
// Non-causal, and the sums after the heads
//===----------------------------------------------------------------------===//

void LinearizeGradBuilder::buildNonCausal() {
  // T and z over every key, then each query's dq; z turns into u.
  addKeys(zero, skv);
  k.loop(zero, sq, 1, [&](Value i) { forwardRow(i, Value()); });
  zeroReverseStates();
  addQueries(zero, sq, Value(), Value());
  transposeU();
  k.loop(zero, skv, 1, [&](Value j) { keyRow(j, Value()); });
}

void LinearizeGradBuilder::sumGroups() {
  // dk[b, hk, j] = Σ_m dkHeads[b, hk·group + m, j] in m order (and dv).
  auto sum = [&](Value heads, Value out, int64_t width, int64_t count, Value b,
                 Value h, Value j) {
    auto vecT = VectorType::get({width}, rw.getF32Type());
    Type elt = elementTypeOf(out);
    for (int64_t c = 0; c < count; ++c) {
      Value col = k.idx(c * width);
      Value acc = k.splat(vecT, 0.0);
      for (int64_t m = 0; m < group; ++m) {
        Value head = k.add(k.mul(h, k.idx(group)), k.idx(m));
        acc = k.fadd(acc, k.vload(vecT, heads, {b, head, j, col}));
      }
      k.vstore(k.fromF32(acc, elt), out, {b, h, j, col});
    }
  };
  scf::ParallelOp::create(
      rw, loc, ValueRange{zero, zero, zero}, ValueRange{batch, k.idx(hkv), skv},
      ValueRange{one, one, one}, [&](OpBuilder &nb, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard g(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        sum(dkHeads, dkB, vwF, nF, ivs[0], ivs[1], ivs[2]);
        sum(dvHeads, dvB, vwO, nO, ivs[0], ivs[1], ivs[2]);
      });
}

void LinearizeGradBuilder::sumDecayGradient() {
  k.loop(zero, k.idx(hq), 1, [&](Value h) {
    Value total = k.reduce(zero, batch, 1, k.f32(0.0), [&](Value b, Value a) {
      return k.fadd(a, k.load(dlPart, {b, h}));
    });
    k.store(total, dlB, h);
  });
}

FailureOr<SmallVector<Value>>
mlir::attn::linearizeAggregateGrad(RewriterBase &rw, LinearAggregateGradOp op,
                                   const LinearizeOptions &options) {
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or feature size");
  if (options.chunk < 0 || options.vectorWidth < 0)
    return rw.notifyMatchFailure(op, "invalid options");
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  return LinearizeGradBuilder(rw, op, options, *dims).build();
}
