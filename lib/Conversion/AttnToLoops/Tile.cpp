//===- Tile.cpp - tiled online-softmax form of attn.attention -------------===//
//
// FlashAttention-2 on the CPU. For each (batch, query head, query tile) --
// the iterations of one scf.parallel -- the query tile (pre-scaled) and the
// running statistics live in small stack buffers; the key tiles that the
// mask analysis does not prove empty are visited in order:
//
//   S  = Q_tile K_tile^T          vector FMAs over a transposed K tile
//   S  = score_mod(S)             the region, per element
//   S  = mask(S)                  per element, partial tiles only
//   m' = max(m, rowmax S); P = exp(S - m'); l = e^{m-m'} l + rowsum P
//   acc = e^{m-m'} acc + P V      vector FMAs, K/V head h / (Hq/Hkv)
//
// and the tile's rows are finished with the sinks, 1/l and the lse. Columns
// past the end of a key tile are treated as masked; rows past the end of the
// query tile are never computed. Everything is f32 inside.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToLoops/Tile.h"
#include "attn/Kernel/CpuTarget.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Conversion/AttnToLoops/KeyTileLists.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Transforms/MaskAnalysis.h"
#include "attn/Conversion/Passes.h"
#include "attn/Kernel/FormDriver.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNTILE
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Register-blocked outer products: for iv in [lb, ub),
/// acc[rr * vecs + v] += broadcast(rowScalar(iv, rr)) * column(iv, v),
/// with the `rows * vecs` accumulators carried in registers.
SmallVector<Value>
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

} // namespace

FailureOr<SmallVector<Value>>
mlir::attn::tileAttention(RewriterBase &rw, AttentionOp op,
                          const TileOptions &options) {
  auto qTy = cast<RankedTensorType>(op.getQuery().getType());
  auto kTy = cast<RankedTensorType>(op.getKey().getType());
  auto vTy = cast<RankedTensorType>(op.getValue().getType());
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or head dimension");
  const int64_t hq = dims->hq, hkv = dims->hkv, d = dims->d, dv = dims->dv;
  if (options.vectorWidth < 0 || options.tileQ < 0 || options.tileKV < 0)
    return rw.notifyMatchFailure(op, "invalid tile options");

  // The cost model, where the options leave a choice: full vector registers,
  // 64 keys per tile (4 AVX-512 vectors: 16 accumulators with 4 rows), and
  // no more query rows per tile than there are queries.
  const int64_t staticSq = qTy.getDimSize(2);
  const int64_t group = hq / hkv;
  const int64_t vw =
      resolveVectorWidth(options.vectorWidth, options.target);
  const int64_t tileKV = options.tileKV ? options.tileKV : 64;
  int64_t tileQ = options.tileQ ? options.tileQ : 64;
  if (!options.tileQ && !ShapedType::isDynamic(staticSq))
    tileQ = std::clamp<int64_t>((staticSq + 3) / 4 * 4, 4, 64);
  const int64_t bc = (tileKV + vw - 1) / vw * vw;
  const int64_t vwOut = largestDividingWidth(dv, vw);
  // Register blocking: rows x vectors accumulators, at most 16 (of the 32
  // AVX-512 registers) so the loop-carried FMA chains hide their latency.
  const int64_t numKeyVectors = bc / vw, numOutVectors = dv / vwOut;
  const int64_t rowsQK = std::clamp<int64_t>(16 / numKeyVectors, 1, 4);
  int64_t rowsPV = std::clamp<int64_t>(16 / numOutVectors, 1, 4);
  const AggregationKind kind = op.getKind();
  const bool softmax = kind == AggregationKind::softmax;

  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  KernelBuilder k(rw, op.getLoc());
  Location loc = op.getLoc();
  Type f32 = rw.getF32Type();
  auto vecS = VectorType::get({vw}, f32);
  auto vecO = VectorType::get({vwOut}, f32);
  auto vecV = VectorType::get({vwOut}, vTy.getElementType());
  auto outTy = cast<RankedTensorType>(op.getOutput().getType());
  Type outElt = outTy.getElementType();

  AttentionIO io(k, op);
  Value qB = io.q, kB = io.key, vB = io.v, sinksB = io.sinks;
  Value batch = io.batch, sq = io.sq, skv = io.skv;
  Value outB = io.out, lseB = io.lse;
  Value offset = k.sub(skv, sq);
  // With key-tile lists (attn-sparsify) the tile-level patterns are
  // decided at run time; the analysis covers the others.
  const bool useLists = options.sparse && hasTileLevelPatterns(op);
  MaskAnalysis analysis(useLists ? nonTileLevelPatterns(op) : op.getPatterns(),
                        &op.getPredicate());
  const double scale = op.getEffectiveScale();
  Value zeroIdx = k.idx(0), oneIdx = k.idx(1);

  // Few query rows (decode): scores are dot products straight from the K
  // rows. Otherwise each visited key tile is transposed into f32 [D, Bc]
  // (columns past Skv are 0) on the stack, so the register-blocked FMAs
  // stream contiguous key vectors. (A transposed copy of all of K would save
  // the per-query-tile transposes but measured no faster, and costs memory.)
  const bool directScores =
      !ShapedType::isDynamic(staticSq) && staticSq <= 2 * rowsQK;
  // Otherwise the query rows of a tile lie in vector lanes: scores are kept
  // transposed, S^T [Bc, Br], computed as K_tile (Q_tile^T) with Q^T built
  // once per query tile, so K is read in place (no per-tile transposes) and
  // the softmax statistics are vertical vector operations (no horizontal
  // reductions). The tile's rows fill whole vectors.
  const bool lanes = !directScores;
  const int64_t br = lanes ? (tileQ + vw - 1) / vw * vw : (tileQ + 3) / 4 * 4;
  const int64_t numRowVectors = lanes ? br / vw : 0;
  // Register blocking of S^T: rowVecBlock row vectors x keyBlock keys, at
  // most 16 accumulators with 32 vector registers, 8 with 16 (AVX2).
  const int64_t accBudget = vw >= 16 ? 16 : 8;
  int64_t rowVecBlock = 1;
  for (int64_t rb = 4; rb > 1 && lanes; --rb)
    if (numRowVectors % rb == 0 && rb <= accBudget) {
      rowVecBlock = rb;
      break;
    }
  const int64_t keyBlock = std::clamp<int64_t>(accBudget / rowVecBlock, 1, 4);
  const int64_t vwDot = largestDividingWidth(d, vw);
  // With a handful of rows, blocking rows would mostly compute padding.
  if (directScores)
    rowsPV = 1;
  Value numQTiles = arith::CeilDivUIOp::create(rw, loc, sq, k.idx(br));
  // Decoding with few (batch, head) pairs: split the keys so that the
  // parallel loop has ~32 iterations, and merge the parts by lse.
  int64_t splits = options.kvSplits;
  const int64_t staticBatch = qTy.getDimSize(0);
  if (!splits) {
    splits = 1;
    if (directScores && !ShapedType::isDynamic(staticBatch)) {
      int64_t work = staticBatch * hq * ((staticSq + br - 1) / br);
      splits = std::clamp<int64_t>(32 / std::max<int64_t>(work, 1), 1, 16);
    }
  }
  // Split mode: each part writes its normalised output and lse (without
  // sinks) to [splits, B, Hq, Sq, ...] buffers; chunks are whole key tiles.
  Value partO, partL, chunk;
  if (splits > 1) {
    auto pOType = MemRefType::get(
        {splits, ShapedType::kDynamic, hq, ShapedType::kDynamic, dv}, f32);
    auto pLType = MemRefType::get(
        {splits, ShapedType::kDynamic, hq, ShapedType::kDynamic}, f32);
    partO = memref::AllocOp::create(rw, loc, pOType, ValueRange{batch, sq});
    partL = memref::AllocOp::create(rw, loc, pLType, ValueRange{batch, sq});
    Value perSplit = arith::CeilDivUIOp::create(rw, loc, skv, k.idx(splits));
    chunk = k.mul(arith::CeilDivUIOp::create(rw, loc, perSplit, k.idx(bc)),
                  k.idx(bc));
  }
  KeyTileLists lists;
  if (useLists)
    lists = buildKeyTileLists(k, op, analysis, br, bc, batch, hq, sq, skv);
  SmallVector<Value> lbs = {zeroIdx, zeroIdx, zeroIdx};
  SmallVector<Value> ubs = {batch, k.idx(hq), numQTiles};
  SmallVector<Value> steps = {oneIdx, oneIdx, oneIdx};
  if (splits > 1) {
    lbs.push_back(zeroIdx);
    ubs.push_back(k.idx(splits));
    steps.push_back(oneIdx);
  }

  scf::ParallelOp::create(
      rw, loc, lbs, ubs, steps, [&](OpBuilder &nb, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard g2(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        // The stack buffers below are per iteration: convert-scf-to-openmp
        // scopes them (memref.alloca_scope) when it outlines the body.

        Value bi = ivs[0], hi = ivs[1], qt = ivs[2];
        Value hk = arith::DivUIOp::create(rw, loc, hi, k.idx(group));
        Value i0 = k.mul(qt, k.idx(br));
        Value rows = k.minI(k.idx(br), k.sub(sq, i0));
        Value iLast = k.sub(k.add(i0, rows), oneIdx);
        QueryTile tile{
            bi, hi, i0, iLast, k.add(i0, offset), k.add(iLast, offset)};

        // Lanes: Q^T [D, Br] and S^T [Bc, Br]; rows: Q [Br, D], S [Br, Bc].
        // Query and key indices of positions: the identity, or the sorted
        // order of bucketed segments (key-tile lists).
        auto rowOf = [&](Value order, Value pos) -> Value {
          if (!order)
            return pos;
          Value h = lists.orderPerHead ? hi : zeroIdx;
          return arith::IndexCastOp::create(rw, loc, rw.getIndexType(),
                                            k.load(order, {bi, h, pos}));
        };
        auto queryAt = [&](Value pos) { return rowOf(lists.queryOrder, pos); };
        auto keyAt = [&](Value pos) { return rowOf(lists.keyOrder, pos); };
        Value qBuf = lanes ? k.stackBuffer({d, br}) : k.stackBuffer({br, d});
        Value sBuf = lanes ? k.stackBuffer({bc, br}) : k.stackBuffer({br, bc});
        auto sAt = [&](Value r, Value c) -> SmallVector<Value> {
          if (lanes)
            return {c, r};
          return {r, c};
        };
        Value acc = k.stackBuffer({br, dv});
        Value mBuf = k.stackBuffer({br});
        Value lBuf = k.stackBuffer({br});
        Value alphaBuf = k.stackBuffer({br});

        // Every row of the buffers starts clean (static bounds: one memset
        // rather than a loop over the live rows); padding rows of Q are 0.
        Value scaleV = k.f32(scale), ninf = k.negInf(), zero = k.f32(0.0);
        k.loop(zeroIdx, k.idx(br), 1, [&](Value r) {
          k.store(ninf, mBuf, r);
          k.store(zero, lBuf, r);
          Value zeros = k.splat(vecO, 0.0);
          k.loop(zeroIdx, k.idx(dv), vwOut,
                 [&](Value e) { k.vstore(zeros, acc, {r, e}); });
        });
        if (lanes) {
          k.loop(zeroIdx, k.idx(d), 1, [&](Value dd) {
            k.loop(zeroIdx, rows, 1, [&](Value r) {
              Value x =
                  k.toF32(k.load(qB, {bi, hi, queryAt(k.add(i0, r)), dd}));
              k.store(k.fmul(x, scaleV), qBuf, {dd, r});
            });
            k.loop(rows, k.idx(br), 1,
                   [&](Value r) { k.store(zero, qBuf, {dd, r}); });
          });
        } else {
          k.loop(zeroIdx, rows, 1, [&](Value r) {
            Value i = queryAt(k.add(i0, r));
            auto vecD = VectorType::get({vwDot}, f32);
            auto vecDQ = VectorType::get({vwDot}, qTy.getElementType());
            Value scaleD = k.bcast(vecD, scaleV);
            k.loop(zeroIdx, k.idx(d), vwDot, [&](Value dd) {
              Value x = k.toF32(k.vload(vecDQ, qB, {bi, hi, i, dd}));
              k.vstore(k.fmul(x, scaleD), qBuf, {r, dd});
            });
          });
        }
        // Lanes with one key interval per row: the intervals of the tile's
        // rows, once per query tile (padding rows see nothing).
        auto laneIdxTy = VectorType::get({vw}, rw.getIndexType());
        Value loBuf, hiBuf;
        if (lanes && analysis.hasRowIntervals()) {
          auto idxBufTy = MemRefType::get({br}, rw.getIndexType());
          loBuf = memref::AllocaOp::create(rw, loc, idxBufTy);
          hiBuf = memref::AllocaOp::create(rw, loc, idxBufTy);
          k.loop(zeroIdx, rows, 1, [&](Value r) {
            // Intervals of the tile's queries (a permutation of the rows
            // where live rows are compacted).
            Value aligned = k.add(queryAt(k.add(i0, r)), offset);
            auto [keyLo, keyHi] = analysis.rowInterval(rw, loc, aligned, hi);
            k.store(keyLo, loBuf, r);
            k.store(keyHi, hiBuf, r);
          });
          k.loop(rows, k.idx(br), 1, [&](Value r) {
            k.store(zeroIdx, loBuf, r);
            k.store(zeroIdx, hiBuf, r);
          });
        }

        auto [jLo, jHi] = analysis.keyRange(rw, loc, tile, skv);
        Value part = splits > 1 ? ivs[3] : Value();
        Value partLo, partHi;
        if (part) {
          partLo = k.mul(part, chunk);
          partHi = k.add(partLo, chunk);
          jLo = arith::MaxSIOp::create(rw, loc, jLo, partLo);
          jHi = k.minI(jHi, partHi);
        }
        // Key tiles are aligned to the transposed K; a first tile that
        // starts before jLo is partial and masked like any other.
        Value bcIdx = k.idx(bc);
        Value jStart =
            k.mul(arith::DivUIOp::create(rw, loc, jLo, bcIdx), bcIdx);
        // One visited key tile [j0, j0 + cols): `full` skips the mask;
        // `staticOnly` (key-tile lists) says the tile-level patterns keep
        // the whole tile.
        auto processTile = [&](Value j0, Value cols, Value full,
                               Value staticOnly) {
          if (directScores) {
            // S[r][c] = <q_r, k_c>: one vector dot product per key.
            auto vecD = VectorType::get({vwDot}, f32);
            auto vecDK = VectorType::get({vwDot}, kTy.getElementType());
            k.loop(zeroIdx, rows, 1, [&](Value r) {
              k.loop(zeroIdx, cols, 1, [&](Value c) {
                Value j = keyAt(k.add(j0, c));
                Value acc = k.reduce(
                    zeroIdx, k.idx(d), vwDot, k.splat(vecD, 0.0),
                    [&](Value dd, Value a) {
                      Value kv = k.toF32(k.vload(vecDK, kB, {bi, hk, j, dd}));
                      return k.fma(k.vload(vecD, qBuf, {r, dd}), kv, a);
                    });
                k.store(vector::ReductionOp::create(
                            rw, loc, vector::CombiningKind::ADD, acc),
                        sBuf, {r, c});
              });
            });
          } else {
            // S^T = K_tile Q^T in blocks of keyBlock keys x rowVecBlock
            // row vectors: each step broadcasts keyBlock K elements and
            // loads rowVecBlock Q^T vectors. Only the live keys are
            // computed; the rest of the tile is never read.
            auto qkBlock = [&](Value c0, int64_t keys) {
              k.loop(
                  zeroIdx, k.idx(numRowVectors), rowVecBlock, [&](Value rv0) {
                    Value r0 = k.mul(rv0, k.idx(vw));
                    SmallVector<Value> keyRows;
                    for (int64_t kk = 0; kk < keys; ++kk)
                      keyRows.push_back(keyAt(k.add(j0, k.add(c0, k.idx(kk)))));
                    SmallVector<Value> inits(keys * rowVecBlock,
                                             k.splat(vecS, 0.0));
                    SmallVector<Value> accs = blockedOuterProducts(
                        k, zeroIdx, k.idx(d), keys, rowVecBlock, vecS, inits,
                        [&](Value dd, int64_t rv) {
                          return k.vload(vecS, qBuf,
                                         {dd, k.add(r0, k.idx(rv * vw))});
                        },
                        [&](Value dd, int64_t kk) {
                          return k.toF32(k.load(kB, {bi, hk, keyRows[kk], dd}));
                        });
                    for (int64_t kk = 0; kk < keys; ++kk)
                      for (int64_t rv = 0; rv < rowVecBlock; ++rv)
                        k.vstore(
                            accs[kk * rowVecBlock + rv], sBuf,
                            {k.add(c0, k.idx(kk)), k.add(r0, k.idx(rv * vw))});
                  });
            };
            Value fullKeys =
                k.mul(arith::DivUIOp::create(rw, loc, cols, k.idx(keyBlock)),
                      k.idx(keyBlock));
            k.loop(zeroIdx, fullKeys, keyBlock,
                   [&](Value c0) { qkBlock(c0, keyBlock); });
            k.loop(fullKeys, cols, 1, [&](Value c) { qkBlock(c, 1); });
          }
          // score_mod, then the mask on partial tiles, per element.
          auto perElement = [&](function_ref<Value(Value, Value, Value)> fn) {
            k.loop(zeroIdx, rows, 1, [&](Value r) {
              k.loop(zeroIdx, cols, 1, [&](Value c) {
                Value s = k.load(sBuf, sAt(r, c));
                k.store(fn(s, queryAt(k.add(i0, r)), keyAt(k.add(j0, c))), sBuf,
                        sAt(r, c));
              });
            });
          };
          if (!op.getScoreMod().empty())
            perElement([&](Value s, Value i, Value j) {
              return inlineRegion(rw, op.getScoreMod(), {s, bi, hi, i, j});
            });
          if (!analysis.isTrivial() || lists.counts) {
            Value partial = arith::XOrIOp::create(
                rw, loc, full,
                arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true)));
            auto maskPerElement = [&]() {
              perElement([&](Value s, Value i, Value j) {
                MaskPredicateBuilder pb(rw, loc, sq, skv);
                pb.setIndices(bi, hi, i, j);
                Value keep = pb.buildAll(op.getPatterns(), op.getMaskOperands(),
                                         op.getPredicate());
                return k.select(keep, s, ninf);
              });
            };
            auto maskLaneIntervals = [&]() {
              // keep = lo[r] <= j < hi[r], a vector of rows per key.
              Value ninfV = k.splat(vecS, -INFINITY);
              k.loop(zeroIdx, cols, 1, [&](Value c) {
                Value jv = k.bcast(laneIdxTy, k.add(j0, c));
                for (int64_t rv = 0; rv < numRowVectors; ++rv) {
                  Value r = k.idx(rv * vw);
                  Value keep = arith::AndIOp::create(
                      rw, loc,
                      arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::sge,
                                            jv, k.vload(laneIdxTy, loBuf, {r})),
                      arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::slt,
                                            jv,
                                            k.vload(laneIdxTy, hiBuf, {r})));
                  Value sv = k.vload(vecS, sBuf, {c, r});
                  k.vstore(k.select(keep, sv, ninfV), sBuf, {c, r});
                }
              });
            };
            k.ifThen(partial, [&]() {
              if (lanes && analysis.hasRowIntervals()) {
                // With key-tile lists the intervals (static patterns)
                // are the whole mask only where the tile-level patterns
                // keep the tile.
                if (staticOnly)
                  k.ifThenElse(staticOnly, maskLaneIntervals, maskPerElement);
                else
                  maskLaneIntervals();
                return;
              }
              if (!lists.counts && analysis.hasRowIntervals()) {
                // Each row sees one interval of keys: mask whole vectors.
                SmallVector<int64_t> lanes(vw);
                for (int64_t l = 0; l < vw; ++l)
                  lanes[l] = l;
                auto laneTy = VectorType::get({vw}, rw.getIndexType());
                Value iota = arith::ConstantOp::create(
                    rw, loc,
                    DenseElementsAttr::get(laneTy, ArrayRef<int64_t>(lanes)));
                Value ninfV = k.splat(vecS, -INFINITY);
                k.loop(zeroIdx, rows, 1, [&](Value r) {
                  Value aligned = k.add(k.add(i0, r), offset);
                  auto [keyLo, keyHi] =
                      analysis.rowInterval(rw, loc, aligned, hi);
                  Value loV = k.bcast(laneTy, keyLo),
                        hiV = k.bcast(laneTy, keyHi);
                  k.loop(zeroIdx, k.idx(bc), vw, [&](Value cb) {
                    Value j = arith::AddIOp::create(
                        rw, loc, k.bcast(laneTy, k.add(j0, cb)), iota);
                    Value keep = arith::AndIOp::create(
                        rw, loc,
                        arith::CmpIOp::create(
                            rw, loc, arith::CmpIPredicate::sge, j, loV),
                        arith::CmpIOp::create(
                            rw, loc, arith::CmpIPredicate::slt, j, hiV));
                    Value sv = k.vload(vecS, sBuf, {r, cb});
                    k.vstore(k.select(keep, sv, ninfV), sBuf, {r, cb});
                  });
                });
                return;
              }
              maskPerElement();
            });
          }
          if (lanes) {
            // Vertical statistics: numRowVectors vectors of rows carried
            // over the live keys.
            Value ninfV = k.splat(vecS, -INFINITY), zv = k.splat(vecS, 0.0);
            auto rowVec = [&](int64_t rv) { return k.idx(rv * vw); };
            if (softmax) {
              SmallVector<Value> mx = k.reduceMany(
                  zeroIdx, cols, 1, SmallVector<Value>(numRowVectors, ninfV),
                  [&](Value c, ValueRange a) {
                    SmallVector<Value> next;
                    for (int64_t rv = 0; rv < numRowVectors; ++rv)
                      next.push_back(
                          k.fmax(a[rv], k.vload(vecS, sBuf, {c, rowVec(rv)})));
                    return next;
                  });
              SmallVector<Value> mSafe, alpha;
              for (int64_t rv = 0; rv < numRowVectors; ++rv) {
                Value mOld = k.vload(vecS, mBuf, rowVec(rv));
                Value mNew = k.fmax(mOld, mx[rv]);
                mSafe.push_back(k.select(k.feq(mNew, ninfV), zv, mNew));
                alpha.push_back(k.exp(k.fsub(mOld, mSafe.back())));
                k.vstore(mNew, mBuf, rowVec(rv));
                k.vstore(alpha.back(), alphaBuf, rowVec(rv));
              }
              SmallVector<Value> sums = k.reduceMany(
                  zeroIdx, cols, 1, SmallVector<Value>(numRowVectors, zv),
                  [&](Value c, ValueRange a) {
                    SmallVector<Value> next;
                    for (int64_t rv = 0; rv < numRowVectors; ++rv) {
                      // The polynomial exp clamps its input, so masked
                      // scores are zeroed explicitly.
                      Value s = k.vload(vecS, sBuf, {c, rowVec(rv)});
                      Value p = k.select(k.feq(s, ninfV), zv,
                                         k.exp(k.fsub(s, mSafe[rv])));
                      k.vstore(p, sBuf, {c, rowVec(rv)});
                      next.push_back(k.fadd(a[rv], p));
                    }
                    return next;
                  });
              for (int64_t rv = 0; rv < numRowVectors; ++rv) {
                Value l = k.vload(vecS, lBuf, rowVec(rv));
                k.vstore(k.fma(alpha[rv], l, sums[rv]), lBuf, rowVec(rv));
              }
            } else {
              Value one = k.splat(vecS, 1.0);
              k.loop(zeroIdx, cols, 1, [&](Value c) {
                for (int64_t rv = 0; rv < numRowVectors; ++rv) {
                  Value s = k.vload(vecS, sBuf, {c, rowVec(rv)});
                  Value w = s;
                  if (kind == AggregationKind::sigmoid)
                    w = k.fdiv(
                        one,
                        k.fadd(one, k.exp(arith::NegFOp::create(rw, loc, s))));
                  w = k.select(k.feq(s, ninfV), zv, w);
                  k.vstore(w, sBuf, {c, rowVec(rv)});
                }
              });
            }
          } else {
            // Columns past the end of the keys are masked.
            k.loop(zeroIdx, rows, 1, [&](Value r) {
              k.loop(cols, k.idx(bc), 1,
                     [&](Value c) { k.store(ninf, sBuf, {r, c}); });
            });

            k.loop(zeroIdx, rows, 1, [&](Value r) {
              Value alpha;
              if (softmax) {
                Value mv =
                    k.reduce(zeroIdx, k.idx(bc), vw, k.splat(vecS, -INFINITY),
                             [&](Value cb, Value a) {
                               return k.fmax(a, k.vload(vecS, sBuf, {r, cb}));
                             });
                Value mx = vector::ReductionOp::create(
                    rw, loc, vector::CombiningKind::MAXIMUMF, mv);
                Value mOld = k.load(mBuf, r);
                Value mNew = k.fmax(mOld, mx);
                Value mSafe = k.safeMax(mNew);
                alpha = k.exp(k.fsub(mOld, mSafe));
                Value mSafeV = k.bcast(vecS, mSafe);
                Value ninfV = k.splat(vecS, -INFINITY), zv = k.splat(vecS, 0.0);
                Value sum = k.reduce(
                    zeroIdx, k.idx(bc), vw, zv, [&](Value cb, Value a) {
                      // The polynomial exp clamps its input, so masked
                      // scores are zeroed explicitly.
                      Value s = k.vload(vecS, sBuf, {r, cb});
                      Value p = k.select(k.feq(s, ninfV), zv,
                                         k.exp(k.fsub(s, mSafeV)));
                      k.vstore(p, sBuf, {r, cb});
                      return k.fadd(a, p);
                    });
                Value rowSum = vector::ReductionOp::create(
                    rw, loc, vector::CombiningKind::ADD, sum);
                k.store(k.fadd(k.fmul(alpha, k.load(lBuf, r)), rowSum), lBuf,
                        r);
                k.store(mNew, mBuf, r);
              } else {
                // Pointwise weights; masked (-inf) scores weigh 0.
                Value one = k.splat(vecS, 1.0), zv = k.splat(vecS, 0.0);
                Value ninfV = k.splat(vecS, -INFINITY);
                k.loop(zeroIdx, k.idx(bc), vw, [&](Value cb) {
                  Value s = k.vload(vecS, sBuf, {r, cb});
                  Value w;
                  if (kind == AggregationKind::sigmoid)
                    w = k.fdiv(
                        one,
                        k.fadd(one, k.exp(arith::NegFOp::create(rw, loc, s))));
                  else
                    w = s;
                  w = k.select(k.feq(s, ninfV), zv, w);
                  k.vstore(w, sBuf, {r, cb});
                });
              }
              if (alpha)
                k.store(alpha, alphaBuf, r);
            });
          }
          // acc = alpha * acc + P V in blocks of rowsPV rows x all output
          // vectors; each V row is loaded once per block.
          k.loop(zeroIdx, rows, rowsPV, [&](Value r0) {
            SmallVector<Value> inits;
            for (int64_t rr = 0; rr < rowsPV; ++rr) {
              Value r = k.add(r0, k.idx(rr));
              Value alphaV =
                  softmax ? k.bcast(vecO, k.load(alphaBuf, r)) : Value();
              for (int64_t eb = 0; eb < numOutVectors; ++eb) {
                Value a = k.vload(vecO, acc, {r, k.idx(eb * vwOut)});
                inits.push_back(alphaV ? k.fmul(a, alphaV) : a);
              }
            }
            SmallVector<Value> accs = blockedOuterProducts(
                k, zeroIdx, cols, rowsPV, numOutVectors, vecO, inits,
                [&](Value c, int64_t eb) {
                  return k.toF32(k.vload(
                      vecV, vB,
                      {bi, hk, keyAt(k.add(j0, c)), k.idx(eb * vwOut)}));
                },
                [&](Value c, int64_t rr) {
                  return k.load(sBuf, sAt(k.add(r0, k.idx(rr)), c));
                });
            for (int64_t rr = 0; rr < rowsPV; ++rr)
              for (int64_t eb = 0; eb < numOutVectors; ++eb)
                k.vstore(accs[rr * numOutVectors + eb], acc,
                         {k.add(r0, k.idx(rr)), k.idx(eb * vwOut)});
          });
        };
        if (lists.counts) {
          // The run-time list of this query tile's key tiles.
          Value count = arith::IndexCastOp::create(
              rw, loc, rw.getIndexType(), k.load(lists.counts, {bi, hi, qt}));
          k.loop(zeroIdx, count, 1, [&](Value n) {
            Value code = arith::IndexCastOp::create(
                rw, loc, rw.getIndexType(),
                k.load(lists.tiles, {bi, hi, qt, n}));
            Value j0 =
                k.mul(arith::DivUIOp::create(rw, loc, code, k.idx(4)), bcIdx);
            Value state = arith::RemUIOp::create(rw, loc, code, k.idx(4));
            auto is = [&](KeyTileState s) {
              return arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq,
                                           state, k.idx((int64_t)s));
            };
            Value cols = k.minI(bcIdx, k.sub(skv, j0));
            Value inPart =
                arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true));
            if (part)
              inPart = arith::AndIOp::create(
                  rw, loc,
                  arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::sge, j0,
                                        partLo),
                  arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::slt, j0,
                                        partHi));
            k.ifThen(inPart, [&]() {
              processTile(j0, cols, is(KeyTileState::Full),
                          is(KeyTileState::StaticPartial));
            });
          });
        } else {
          k.loop(jStart, jHi, bc, [&](Value j0) {
            Value cols = k.minI(bcIdx, k.sub(skv, j0));
            Value jLast = k.sub(k.add(j0, cols), oneIdx);
            TileClass cls = analysis.classify(rw, loc, tile, j0, jLast);
            Value visit = arith::XOrIOp::create(
                rw, loc, cls.empty,
                arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true)));
            k.ifThen(visit,
                     [&]() { processTile(j0, cols, cls.full, Value()); });
          });
        }

        // Finish the rows: sinks, normalisation, lse.
        k.loop(zeroIdx, rows, 1, [&](Value r) {
          Value i = queryAt(k.add(i0, r));
          if (part) {
            // A partial result: normalised by its own sum, sinks later.
            Value factor = k.f32(1.0);
            if (softmax) {
              Value m = k.load(mBuf, r), l = k.load(lBuf, r);
              m = k.safeMax(m);
              factor = k.select(k.feq(l, zero), zero, k.fdiv(k.f32(1.0), l));
              k.store(k.fadd(m, math::LogOp::create(rw, loc, l)), partL,
                      {part, bi, hi, i});
            }
            Value factorV = k.bcast(vecO, factor);
            k.loop(zeroIdx, k.idx(dv), vwOut, [&](Value e) {
              k.vstore(k.fmul(k.vload(vecO, acc, {r, e}), factorV), partO,
                       {part, bi, hi, i, e});
            });
            return;
          }
          Value factor = k.f32(1.0), lse;
          if (softmax)
            std::tie(factor, lse) =
                k.finishSoftmax(k.load(mBuf, r), k.load(lBuf, r),
                                sinksB ? k.load(sinksB, hi) : Value());
          Value factorV = k.bcast(vecO, factor);
          k.loop(zeroIdx, k.idx(dv), vwOut, [&](Value e) {
            Value o = k.fmul(k.vload(vecO, acc, {r, e}), factorV);
            k.vstore(k.fromF32(o, outElt), outB, {bi, hi, i, e});
          });
          if (lseB)
            k.store(lse, lseB, {bi, hi, i});
        });
      });

  if (splits > 1) {
    // Merge the parts: O = Σ e^{lse_p - m} O_p / (Σ e^{lse_p - m} [+ e^{sink -
    // m}]), lse = m + log(...), as attn.merge does; other kinds just add.
    scf::ParallelOp::create(
        rw, loc, ValueRange{zeroIdx, zeroIdx, zeroIdx},
        ValueRange{batch, k.idx(hq), sq}, ValueRange{oneIdx, oneIdx, oneIdx},
        [&](OpBuilder &nb, Location, ValueRange ivs) {
          OpBuilder::InsertionGuard g2(rw);
          rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value bi = ivs[0], hi = ivs[1], i = ivs[2];
          Value ninf = k.negInf(), zero = k.f32(0.0);
          SmallVector<Value> weights;
          Value m = ninf, mSafe = zero, l = zero;
          if (softmax) {
            SmallVector<Value> lses;
            for (int64_t p = 0; p < splits; ++p) {
              lses.push_back(k.load(partL, {k.idx(p), bi, hi, i}));
              m = k.fmax(m, lses.back());
            }
            Value sink = sinksB ? k.load(sinksB, hi) : Value();
            if (sink)
              m = k.fmax(m, sink);
            mSafe = k.safeMax(m);
            for (Value lse : lses) {
              // exp may be a clamped polynomial: empty parts weigh 0.
              Value w =
                  k.select(k.feq(lse, ninf), zero, k.exp(k.fsub(lse, mSafe)));
              weights.push_back(w);
              l = k.fadd(l, w);
            }
            if (sink)
              l = k.fadd(l, k.exp(k.fsub(sink, mSafe)));
          }
          Value inv =
              softmax ? k.select(k.feq(l, zero), zero, k.fdiv(k.f32(1.0), l))
                      : Value();
          k.loop(zeroIdx, k.idx(dv), vwOut, [&](Value e) {
            Value o = k.splat(vecO, 0.0);
            for (int64_t p = 0; p < splits; ++p) {
              Value po = k.vload(vecO, partO, {k.idx(p), bi, hi, i, e});
              o = softmax ? k.fma(k.bcast(vecO, weights[p]), po, o)
                          : k.fadd(o, po);
            }
            if (softmax)
              o = k.fmul(o, k.bcast(vecO, inv));
            k.vstore(k.fromF32(o, outElt), outB, {bi, hi, i, e});
          });
          if (lseB)
            k.store(k.fadd(mSafe, math::LogOp::create(rw, loc, l)), lseB,
                    {bi, hi, i});
        });
  }

  return io.results(k);
}

namespace {
struct TileAttention : OpRewritePattern<AttentionOp> {
  TileAttention(MLIRContext *ctx, TileOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Value>> results =
        tileAttention(rewriter, op, options);
    if (failed(results))
      return failure();
    rewriter.replaceOp(op, *results);
    return success();
  }
  TileOptions options;
};

struct AttnTilePass : attn::impl::AttnTileBase<AttnTilePass> {
  using AttnTileBase::AttnTileBase;
  void runOnOperation() override {
    FailureOr<CpuTarget> target =
        getCpuTargetOrEmitError(getOperation(), targetCpu, targetFeatures);
    if (failed(target))
      return signalPassFailure();
    TileOptions options{tileQ, tileKV, vectorWidth, kvSplits};
    options.target = *target;
    RewritePatternSet patterns(&getContext());
    populateTilePatterns(patterns, options);
    if (failed(applyFormPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::attn::populateTilePatterns(RewritePatternSet &patterns,
                                      const TileOptions &options) {
  patterns.add<TileAttention>(patterns.getContext(), options);
}
