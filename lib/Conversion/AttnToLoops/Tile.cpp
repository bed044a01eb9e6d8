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
#include "attn/Conversion/AttnToLoops/KeyTileLists.h"
#include "attn/Conversion/AttnToLoops/TileConfig.h"
#include "attn/Conversion/AttnToLoops/TileGrad.h"
#include "attn/Conversion/Passes.h"
#include "attn/Kernel/FormDriver.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Kernel/OnlineSoftmax.h"
#include "attn/Transforms/MaskAnalysis.h"

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

/// The state of one query tile: the iteration of the parallel loop over
/// (batch, query head, query tile[, key part]) and its stack buffers.
struct QueryTileState {
  Value bi, hi, qt, hk, i0, rows;
  QueryTile tile;
  /// Lanes: Q^T [D, Br] and S^T [Bc, Br]; rows: Q [Br, D], S [Br, Bc].
  Value qBuf, sBuf;
  /// Accumulators [Br, Dv] and the running max, sum and rescale factor.
  Value acc, mBuf, lBuf, alphaBuf;
  /// Lanes with one key interval per row: the rows' intervals [lo, hi).
  Value loBuf, hiBuf;
  /// Split keys: this part and its keys [partLo, partHi).
  Value part, partLo, partHi;
  /// entmax: the tile's masked scores S^T [keys, Br] (padded to whole key
  /// tiles, -inf where never computed) or null (recomputed); the rows'
  /// thresholds τ and the sums of the threshold search [Br]; what a key
  /// tile's scores are for while the key tiles are visited.
  Value scratch, tauBuf, fBuf, gBuf;
  function_ref<void(Value, Value, Value)> consume;
};

/// Builds the tiled kernel of one attn.attention: one method per phase.
class TiledKernel {
public:
  TiledKernel(RewriterBase &rw, AttentionOp op, const TileOptions &options,
              const TileConfig &cfg, const TileProblem &problem,
              const GradientRows *gradRows = nullptr)
      : rw(rw), op(op), cfg(cfg), problem(problem), gradRows(gradRows),
        k(rw, op.getLoc()), loc(op.getLoc()), io(k, op, !gradRows),
        useLists(options.sparse && hasTileLevelPatterns(op)),
        recomputeEntmax(options.entmaxRecompute),
        analysis(useLists ? nonTileLevelPatterns(op) : op.getPatterns(),
                 &op.getPredicate()),
        os(k) {
    if (positioned())
      analysis.setKeyBase(op.getPositions()[1]);
  }

  SmallVector<Value> build();

private:
  // Setup, once per op.
  void allocateSplitBuffers();
  // One query tile.
  void buildQueryTile(ValueRange ivs);
  void initStatistics(QueryTileState &t);
  void loadQueryTile(QueryTileState &t);
  void computeRowIntervals(QueryTileState &t);
  /// The key tiles of the run-time lists, or those the analysis keeps.
  void visitKeyTiles(QueryTileState &t) {
    if (lists.counts)
      visitListedKeyTiles(t);
    else
      visitAnalysedKeyTiles(t);
  }
  void visitListedKeyTiles(QueryTileState &t);
  void visitAnalysedKeyTiles(QueryTileState &t);
  void finishRows(QueryTileState &t);
  // One key tile [j0, j0 + cols): `full` skips the mask; `staticOnly`
  // (key-tile lists) says the tile-level patterns keep the whole tile.
  void processKeyTile(QueryTileState &t, Value j0, Value cols, Value full,
                      Value staticOnly);
  void computeScoresDirect(QueryTileState &t, Value j0, Value cols);
  void computeScoresInLanes(QueryTileState &t, Value j0, Value cols);
  void applyScoreMod(QueryTileState &t, Value j0, Value cols);
  void applyMask(QueryTileState &t, Value j0, Value cols, Value full,
                 Value staticOnly);
  void maskPerElement(QueryTileState &t, Value j0, Value cols);
  void maskLaneIntervals(QueryTileState &t, Value j0, Value cols);
  void maskRowIntervals(QueryTileState &t, Value j0);
  void updateStatisticsInLanes(QueryTileState &t, Value cols);
  void updateStatisticsPerRow(QueryTileState &t, Value cols);
  void accumulateValues(QueryTileState &t, Value j0, Value cols);
  // entmax: whole rows of scores first, then the threshold, then P V.
  using ScoreTileFn = function_ref<void(Value, Value, Value)>;
  void buildEntmaxRows(QueryTileState &t);
  /// Calls fn(scores, j0, cols) with the masked scores S^T [Bc, Br] of the
  /// key tiles: every tile of the scratch, or each live key tile's scores,
  /// computed (into the scratch, if any, else into sBuf).
  void visitScoreTiles(QueryTileState &t, bool fromScratch, ScoreTileFn fn);
  void updateRowMaxInLanes(QueryTileState &t, Value scores, Value cols);
  void entmaxThresholds(QueryTileState &t);
  void entmaxValues(QueryTileState &t);
  void accumulateEntmaxSums(QueryTileState &t, bool derivative);
  /// Row vector `rv`'s maxima (0 for a fully masked row) and thresholds,
  /// loaded once per row vector for entmaxGap.
  std::pair<Value, Value> entmaxRow(QueryTileState &t, Value rv);
  /// [(α - 1)(s - m) - τ]_+ of scores `s` of a row vector with (m, τ) `row`.
  Value entmaxGap(std::pair<Value, Value> row, Value s);
  /// t^β of one vector (β = 1/(α - 1)) and, if `lower`, t^(β-1) there.
  Value entmaxPower(Value tv, Value *lower = nullptr);
  Value scratchTile(QueryTileState &t, Value j0);
  // After the parallel loop, with split keys.
  void mergeSplits();
  /// Row i of the output (`outputAt(e)`: its f32 vector at column e) and
  /// its lse: stored, or reduced to the row of `gradRows`.
  void finishRow(Value bi, Value hi, Value i, Value lse,
                 function_ref<Value(Value)> outputAt);

  /// Applies `fn(score, i, j)` to every live score of the tile.
  void forEachScore(QueryTileState &t, Value j0, Value cols,
                    function_ref<Value(Value, Value, Value)> fn);
  /// Query and key indices of tile positions: the identity, or the sorted
  /// order of bucketed segments (key-tile lists).
  Value queryAt(QueryTileState &t, Value pos) {
    return rowOf(t, lists.queryOrder, pos);
  }
  Value keyAt(QueryTileState &t, Value pos) {
    return rowOf(t, lists.keyOrder, pos);
  }
  Value rowOf(QueryTileState &t, Value order, Value pos);
  SmallVector<Value> scoreAt(Value r, Value c) const {
    if (cfg.rowsInLanes)
      return {c, r};
    return {r, c};
  }
  Value notI(Value x) {
    return arith::XOrIOp::create(
        rw, loc, x, arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true)));
  }
  bool softmax() { return op.getKind() == AggregationKind::softmax; }
  /// Whether the op places its operands at `positions` (attn-ring).
  bool positioned() { return !op.getPositions().empty(); }
  bool entmax() { return op.getKind() == AggregationKind::entmax; }
  /// entmax's exponent β = 1/(α - 1) of the weights [(α - 1) z - τ]_+^β.
  double beta() { return 1.0 / (op.getAlpha()->convertToDouble() - 1.0); }
  int64_t splits() const { return cfg.kvSplits; }
  VectorType vecS() const {
    return VectorType::get({cfg.vectorWidth}, rw.getF32Type());
  }
  VectorType vecO() const {
    return VectorType::get({cfg.outWidth}, rw.getF32Type());
  }

  RewriterBase &rw;
  AttentionOp op;
  const TileConfig &cfg;
  const TileProblem &problem;
  const GradientRows *gradRows;
  KernelBuilder k;
  Location loc;
  AttentionIO io;
  /// With key-tile lists (attn-sparsify) the tile-level patterns are
  /// decided at run time; the analysis covers the others.
  const bool useLists;
  /// entmax recomputes the scores on every pass, whatever the scratch size.
  const bool recomputeEntmax;
  MaskAnalysis analysis;
  OnlineSoftmax os;
  KeyTileLists lists;
  Value offset;
  /// Split mode: each part writes its normalised output and lse (without
  /// sinks) to [splits, B, Hq, Sq, ...] buffers; chunks are whole key tiles.
  Value partO, partL, chunk;
};

SmallVector<Value> TiledKernel::build() {
  offset = positioned() ? op.getPositions()[0] : k.sub(io.skv, io.sq);
  const int64_t br = cfg.queryTile, bc = cfg.keyTile;
  Value zeroIdx = k.idx(0), oneIdx = k.idx(1);
  Value numQTiles = arith::CeilDivUIOp::create(rw, loc, io.sq, k.idx(br));
  allocateSplitBuffers();
  if (useLists)
    lists = buildKeyTileLists(k, op, analysis, br, bc, io.batch,
                              problem.queryHeads, io.sq, io.skv);
  SmallVector<Value> lbs = {zeroIdx, zeroIdx, zeroIdx};
  SmallVector<Value> ubs = {io.batch, k.idx(problem.queryHeads), numQTiles};
  SmallVector<Value> steps = {oneIdx, oneIdx, oneIdx};
  if (splits() > 1) {
    lbs.push_back(zeroIdx);
    ubs.push_back(k.idx(splits()));
    steps.push_back(oneIdx);
  }
  scf::ParallelOp::create(
      rw, loc, lbs, ubs, steps, [&](OpBuilder &nb, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard guard(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        // The stack buffers are per iteration: convert-scf-to-openmp
        // scopes them (memref.alloca_scope) when it outlines the body.
        buildQueryTile(ivs);
      });
  if (splits() > 1)
    mergeSplits();
  if (gradRows)
    return {};
  return io.results(k);
}

void TiledKernel::allocateSplitBuffers() {
  if (splits() <= 1)
    return;
  Type f32 = rw.getF32Type();
  const int64_t hq = problem.queryHeads, dv = problem.valueDim;
  auto pOType = MemRefType::get(
      {splits(), ShapedType::kDynamic, hq, ShapedType::kDynamic, dv}, f32);
  auto pLType = MemRefType::get(
      {splits(), ShapedType::kDynamic, hq, ShapedType::kDynamic}, f32);
  partO = memref::AllocOp::create(rw, loc, pOType, ValueRange{io.batch, io.sq});
  partL = memref::AllocOp::create(rw, loc, pLType, ValueRange{io.batch, io.sq});
  Value perSplit = arith::CeilDivUIOp::create(rw, loc, io.skv, k.idx(splits()));
  Value bc = k.idx(cfg.keyTile);
  chunk = k.mul(arith::CeilDivUIOp::create(rw, loc, perSplit, bc), bc);
}

Value TiledKernel::rowOf(QueryTileState &t, Value order, Value pos) {
  if (!order)
    return pos;
  Value h = lists.orderPerHead ? t.hi : k.idx(0);
  return arith::IndexCastOp::create(rw, loc, rw.getIndexType(),
                                    k.load(order, {t.bi, h, pos}));
}

void TiledKernel::buildQueryTile(ValueRange ivs) {
  const int64_t br = cfg.queryTile, bc = cfg.keyTile, d = problem.headDim;
  QueryTileState t;
  t.bi = ivs[0];
  t.hi = ivs[1];
  t.qt = ivs[2];
  t.hk = arith::DivUIOp::create(rw, loc, t.hi,
                                k.idx(problem.queryHeads / problem.keyHeads));
  t.i0 = k.mul(t.qt, k.idx(br));
  t.rows = k.minI(k.idx(br), k.sub(io.sq, t.i0));
  Value iLast = k.sub(k.add(t.i0, t.rows), k.idx(1));
  t.tile = QueryTile{
      t.bi, t.hi, t.i0, iLast, k.add(t.i0, offset), k.add(iLast, offset)};
  t.qBuf = cfg.rowsInLanes ? k.stackBuffer({d, br}) : k.stackBuffer({br, d});
  t.sBuf = cfg.rowsInLanes ? k.stackBuffer({bc, br}) : k.stackBuffer({br, bc});
  t.acc = k.stackBuffer({br, problem.valueDim});
  t.mBuf = k.stackBuffer({br});
  t.lBuf = k.stackBuffer({br});
  t.alphaBuf = k.stackBuffer({br});
  initStatistics(t);
  loadQueryTile(t);
  computeRowIntervals(t);
  if (splits() > 1) {
    t.part = ivs[3];
    t.partLo = k.mul(t.part, chunk);
    t.partHi = k.add(t.partLo, chunk);
  }
  if (entmax()) {
    buildEntmaxRows(t);
    return;
  }
  visitKeyTiles(t);
  finishRows(t);
}

void TiledKernel::initStatistics(QueryTileState &t) {
  // Every row of the buffers starts clean (static bounds: one memset rather
  // than a loop over the live rows).
  Value ninf = k.negInf(), zero = k.f32(0.0);
  k.loop(k.idx(0), k.idx(cfg.queryTile), 1, [&](Value r) {
    k.store(ninf, t.mBuf, r);
    k.store(zero, t.lBuf, r);
    Value zeros = k.splat(vecO(), 0.0);
    k.loop(k.idx(0), k.idx(problem.valueDim), cfg.outWidth, [&](Value e) {
      k.vstore(zeros, t.acc, {r, e});
    });
  });
}

void TiledKernel::loadQueryTile(QueryTileState &t) {
  // The query rows, pre-scaled, in f32; padding rows of Q^T are 0.
  Value scaleV = k.f32(op.getEffectiveScale()), zero = k.f32(0.0);
  Value zeroIdx = k.idx(0);
  const int64_t d = problem.headDim;
  if (cfg.rowsInLanes) {
    k.loop(zeroIdx, k.idx(d), 1, [&](Value dd) {
      k.loop(zeroIdx, t.rows, 1, [&](Value r) {
        Value x =
            k.toF32(k.load(io.q, {t.bi, t.hi, queryAt(t, k.add(t.i0, r)), dd}));
        k.store(k.fmul(x, scaleV), t.qBuf, {dd, r});
      });
      k.loop(t.rows, k.idx(cfg.queryTile), 1, [&](Value r) {
        k.store(zero, t.qBuf, {dd, r});
      });
    });
    return;
  }
  auto qElt = cast<RankedTensorType>(op.getQuery().getType()).getElementType();
  k.loop(zeroIdx, t.rows, 1, [&](Value r) {
    Value i = queryAt(t, k.add(t.i0, r));
    auto vecD = VectorType::get({cfg.dotWidth}, rw.getF32Type());
    auto vecDQ = VectorType::get({cfg.dotWidth}, qElt);
    Value scaleD = k.bcast(vecD, scaleV);
    k.loop(zeroIdx, k.idx(d), cfg.dotWidth, [&](Value dd) {
      Value x = k.toF32(k.vload(vecDQ, io.q, {t.bi, t.hi, i, dd}));
      k.vstore(k.fmul(x, scaleD), t.qBuf, {r, dd});
    });
  });
}

void TiledKernel::computeRowIntervals(QueryTileState &t) {
  // Lanes with one key interval per row: the intervals of the tile's rows,
  // once per query tile (padding rows see nothing).
  if (!cfg.rowsInLanes || !analysis.hasRowIntervals())
    return;
  Value zeroIdx = k.idx(0);
  auto idxBufTy = MemRefType::get({cfg.queryTile}, rw.getIndexType());
  t.loBuf = memref::AllocaOp::create(rw, loc, idxBufTy);
  t.hiBuf = memref::AllocaOp::create(rw, loc, idxBufTy);
  k.loop(zeroIdx, t.rows, 1, [&](Value r) {
    // Intervals of the tile's queries (a permutation of the rows where live
    // rows are compacted).
    Value aligned = k.add(queryAt(t, k.add(t.i0, r)), offset);
    auto [keyLo, keyHi] = analysis.rowInterval(rw, loc, aligned, t.hi);
    k.store(keyLo, t.loBuf, r);
    k.store(keyHi, t.hiBuf, r);
  });
  k.loop(t.rows, k.idx(cfg.queryTile), 1, [&](Value r) {
    k.store(zeroIdx, t.loBuf, r);
    k.store(zeroIdx, t.hiBuf, r);
  });
}

void TiledKernel::visitListedKeyTiles(QueryTileState &t) {
  // The run-time list of this query tile's key tiles.
  Value bcIdx = k.idx(cfg.keyTile);
  Value count = arith::IndexCastOp::create(
      rw, loc, rw.getIndexType(), k.load(lists.counts, {t.bi, t.hi, t.qt}));
  k.loop(k.idx(0), count, 1, [&](Value n) {
    Value code = arith::IndexCastOp::create(
        rw, loc, rw.getIndexType(), k.load(lists.tiles, {t.bi, t.hi, t.qt, n}));
    Value j0 = k.mul(decodeKeyTile(k, code), bcIdx);
    Value state = decodeKeyTileState(k, code);
    auto is = [&](KeyTileState s) {
      return arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, state,
                                   k.idx((int64_t)s));
    };
    Value cols = k.minI(bcIdx, k.sub(io.skv, j0));
    Value inPart = arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true));
    if (t.part)
      inPart = arith::AndIOp::create(
          rw, loc,
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::sge, j0,
                                t.partLo),
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::slt, j0,
                                t.partHi));
    k.ifThen(inPart, [&]() {
      processKeyTile(t, j0, cols, is(KeyTileState::Full),
                     is(KeyTileState::StaticPartial));
    });
  });
}

void TiledKernel::visitAnalysedKeyTiles(QueryTileState &t) {
  auto [jLo, jHi] = analysis.keyRange(rw, loc, t.tile, io.skv);
  if (t.part) {
    jLo = arith::MaxSIOp::create(rw, loc, jLo, t.partLo);
    jHi = k.minI(jHi, t.partHi);
  }
  // Key tiles are aligned to the tile size; a first tile that starts before
  // jLo is partial and masked like any other.
  Value bcIdx = k.idx(cfg.keyTile);
  Value jStart = k.mul(arith::DivUIOp::create(rw, loc, jLo, bcIdx), bcIdx);
  k.loop(jStart, jHi, cfg.keyTile, [&](Value j0) {
    Value cols = k.minI(bcIdx, k.sub(io.skv, j0));
    Value jLast = k.sub(k.add(j0, cols), k.idx(1));
    TileClass cls = analysis.classify(rw, loc, t.tile, j0, jLast);
    k.ifThen(notI(cls.empty),
             [&]() { processKeyTile(t, j0, cols, cls.full, Value()); });
  });
}

void TiledKernel::processKeyTile(QueryTileState &t, Value j0, Value cols,
                                 Value full, Value staticOnly) {
  if (t.consume) {
    // entmax: the scores go to the scratch rows [j0, j0 + Bc) if it exists.
    Value tileBuf = t.sBuf;
    if (t.scratch)
      t.sBuf = scratchTile(t, j0);
    computeScoresInLanes(t, j0, cols);
    applyScoreMod(t, j0, cols);
    applyMask(t, j0, cols, full, staticOnly);
    t.consume(t.sBuf, j0, cols);
    t.sBuf = tileBuf;
    return;
  }
  if (cfg.rowsInLanes)
    computeScoresInLanes(t, j0, cols);
  else
    computeScoresDirect(t, j0, cols);
  applyScoreMod(t, j0, cols);
  applyMask(t, j0, cols, full, staticOnly);
  if (cfg.rowsInLanes)
    updateStatisticsInLanes(t, cols);
  else
    updateStatisticsPerRow(t, cols);
  accumulateValues(t, j0, cols);
}

void TiledKernel::computeScoresDirect(QueryTileState &t, Value j0, Value cols) {
  // S[r][c] = <q_r, k_c>: one vector dot product per key.
  Value zeroIdx = k.idx(0);
  auto vecD = VectorType::get({cfg.dotWidth}, rw.getF32Type());
  auto vecDK = VectorType::get(
      {cfg.dotWidth},
      cast<RankedTensorType>(op.getKey().getType()).getElementType());
  k.loop(zeroIdx, t.rows, 1, [&](Value r) {
    k.loop(zeroIdx, cols, 1, [&](Value c) {
      Value j = keyAt(t, k.add(j0, c));
      Value acc = k.reduce(
          zeroIdx, k.idx(problem.headDim), cfg.dotWidth, k.splat(vecD, 0.0),
          [&](Value dd, Value a) {
            Value kv = k.toF32(k.vload(vecDK, io.key, {t.bi, t.hk, j, dd}));
            return k.fma(k.vload(vecD, t.qBuf, {r, dd}), kv, a);
          });
      k.store(
          vector::ReductionOp::create(rw, loc, vector::CombiningKind::ADD, acc),
          t.sBuf, {r, c});
    });
  });
}

void TiledKernel::computeScoresInLanes(QueryTileState &t, Value j0,
                                       Value cols) {
  // S^T = K_tile Q^T in blocks of keyBlock keys x rowVectorBlock row
  // vectors: each step broadcasts keyBlock K elements and loads
  // rowVectorBlock Q^T vectors. Only the live keys are computed; the rest
  // of the tile is never read.
  const int64_t vw = cfg.vectorWidth, rowBlock = cfg.rowVectorBlock;
  Value zeroIdx = k.idx(0);
  auto qkBlock = [&](Value c0, int64_t keys) {
    k.loop(zeroIdx, k.idx(cfg.numRowVectors()), rowBlock, [&](Value rv0) {
      Value r0 = k.mul(rv0, k.idx(vw));
      SmallVector<Value> keyRows;
      for (int64_t kk = 0; kk < keys; ++kk)
        keyRows.push_back(keyAt(t, k.add(j0, k.add(c0, k.idx(kk)))));
      SmallVector<Value> inits(keys * rowBlock, k.splat(vecS(), 0.0));
      SmallVector<Value> accs = blockedOuterProducts(
          k, zeroIdx, k.idx(problem.headDim), keys, rowBlock, vecS(), inits,
          [&](Value dd, int64_t rv) {
            return k.vload(vecS(), t.qBuf, {dd, k.add(r0, k.idx(rv * vw))});
          },
          [&](Value dd, int64_t kk) {
            return k.toF32(k.load(io.key, {t.bi, t.hk, keyRows[kk], dd}));
          });
      for (int64_t kk = 0; kk < keys; ++kk)
        for (int64_t rv = 0; rv < rowBlock; ++rv)
          k.vstore(accs[kk * rowBlock + rv], t.sBuf,
                   {k.add(c0, k.idx(kk)), k.add(r0, k.idx(rv * vw))});
    });
  };
  Value keyBlock = k.idx(cfg.keyBlock);
  Value fullKeys =
      k.mul(arith::DivUIOp::create(rw, loc, cols, keyBlock), keyBlock);
  k.loop(zeroIdx, fullKeys, cfg.keyBlock,
         [&](Value c0) { qkBlock(c0, cfg.keyBlock); });
  k.loop(fullKeys, cols, 1, [&](Value c) { qkBlock(c, 1); });
}

void TiledKernel::forEachScore(QueryTileState &t, Value j0, Value cols,
                               function_ref<Value(Value, Value, Value)> fn) {
  Value zeroIdx = k.idx(0);
  k.loop(zeroIdx, t.rows, 1, [&](Value r) {
    k.loop(zeroIdx, cols, 1, [&](Value c) {
      Value s = k.load(t.sBuf, scoreAt(r, c));
      k.store(fn(s, queryAt(t, k.add(t.i0, r)), keyAt(t, k.add(j0, c))), t.sBuf,
              scoreAt(r, c));
    });
  });
}

void TiledKernel::applyScoreMod(QueryTileState &t, Value j0, Value cols) {
  if (op.getScoreMod().empty())
    return;
  forEachScore(t, j0, cols, [&](Value s, Value i, Value j) {
    // A positioned attention's region sees positions.
    if (positioned()) {
      i = k.add(i, op.getPositions()[0]);
      j = k.add(j, op.getPositions()[1]);
    }
    return inlineRegion(rw, op.getScoreMod(), {s, t.bi, t.hi, i, j});
  });
}

void TiledKernel::applyMask(QueryTileState &t, Value j0, Value cols, Value full,
                            Value staticOnly) {
  if (analysis.isTrivial() && !lists.counts)
    return;
  k.ifThen(notI(full), [&]() {
    if (cfg.rowsInLanes && analysis.hasRowIntervals()) {
      // With key-tile lists the intervals (static patterns) are the whole
      // mask only where the tile-level patterns keep the tile.
      if (staticOnly)
        k.ifThenElse(
            staticOnly, [&]() { maskLaneIntervals(t, j0, cols); },
            [&]() { maskPerElement(t, j0, cols); });
      else
        maskLaneIntervals(t, j0, cols);
      return;
    }
    if (!lists.counts && analysis.hasRowIntervals()) {
      maskRowIntervals(t, j0);
      return;
    }
    maskPerElement(t, j0, cols);
  });
}

void TiledKernel::maskPerElement(QueryTileState &t, Value j0, Value cols) {
  Value ninf = k.negInf();
  forEachScore(t, j0, cols, [&](Value s, Value i, Value j) {
    MaskPredicateBuilder pb(rw, loc, io.sq, io.skv);
    pb.setPositions(op.getPositions());
    pb.setIndices(t.bi, t.hi, i, j);
    Value keep =
        pb.buildAll(op.getPatterns(), op.getMaskOperands(), op.getPredicate());
    return k.select(keep, s, ninf);
  });
}

void TiledKernel::maskLaneIntervals(QueryTileState &t, Value j0, Value cols) {
  // keep = lo[r] <= j < hi[r], a vector of rows per key.
  auto laneIdxTy = VectorType::get({cfg.vectorWidth}, rw.getIndexType());
  Value ninfV = k.splat(vecS(), -INFINITY);
  k.loop(k.idx(0), cols, 1, [&](Value c) {
    Value jv = k.bcast(laneIdxTy, k.add(j0, c));
    for (int64_t rv = 0; rv < cfg.numRowVectors(); ++rv) {
      Value r = k.idx(rv * cfg.vectorWidth);
      Value keep = arith::AndIOp::create(
          rw, loc,
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::sge, jv,
                                k.vload(laneIdxTy, t.loBuf, {r})),
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::slt, jv,
                                k.vload(laneIdxTy, t.hiBuf, {r})));
      Value sv = k.vload(vecS(), t.sBuf, {c, r});
      k.vstore(k.select(keep, sv, ninfV), t.sBuf, {c, r});
    }
  });
}

void TiledKernel::maskRowIntervals(QueryTileState &t, Value j0) {
  // Each row sees one interval of keys: mask whole vectors of keys.
  const int64_t vw = cfg.vectorWidth;
  SmallVector<int64_t> lanes(vw);
  for (int64_t l = 0; l < vw; ++l)
    lanes[l] = l;
  auto laneTy = VectorType::get({vw}, rw.getIndexType());
  Value iota = arith::ConstantOp::create(
      rw, loc, DenseElementsAttr::get(laneTy, ArrayRef<int64_t>(lanes)));
  Value ninfV = k.splat(vecS(), -INFINITY);
  k.loop(k.idx(0), t.rows, 1, [&](Value r) {
    Value aligned = k.add(k.add(t.i0, r), offset);
    auto [keyLo, keyHi] = analysis.rowInterval(rw, loc, aligned, t.hi);
    Value loV = k.bcast(laneTy, keyLo), hiV = k.bcast(laneTy, keyHi);
    k.loop(k.idx(0), k.idx(cfg.keyTile), vw, [&](Value cb) {
      Value j =
          arith::AddIOp::create(rw, loc, k.bcast(laneTy, k.add(j0, cb)), iota);
      Value keep = arith::AndIOp::create(
          rw, loc,
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::sge, j, loV),
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::slt, j, hiV));
      Value sv = k.vload(vecS(), t.sBuf, {r, cb});
      k.vstore(k.select(keep, sv, ninfV), t.sBuf, {r, cb});
    });
  });
}

void TiledKernel::updateStatisticsInLanes(QueryTileState &t, Value cols) {
  // Vertical statistics: numRowVectors vectors of rows carried over the
  // live keys; the scores become weights in place.
  const int64_t numRowVectors = cfg.numRowVectors();
  Value zeroIdx = k.idx(0);
  Value ninfV = k.splat(vecS(), -INFINITY), zv = k.splat(vecS(), 0.0);
  auto rowVec = [&](int64_t rv) { return k.idx(rv * cfg.vectorWidth); };
  if (!softmax()) {
    k.loop(zeroIdx, cols, 1, [&](Value c) {
      for (int64_t rv = 0; rv < numRowVectors; ++rv) {
        Value s = k.vload(vecS(), t.sBuf, {c, rowVec(rv)});
        k.vstore(os.pointwiseWeight(op.getKind(), s), t.sBuf, {c, rowVec(rv)});
      }
    });
    return;
  }
  SmallVector<Value> mx =
      k.reduceMany(zeroIdx, cols, 1, SmallVector<Value>(numRowVectors, ninfV),
                   [&](Value c, ValueRange a) {
                     SmallVector<Value> next;
                     for (int64_t rv = 0; rv < numRowVectors; ++rv)
                       next.push_back(k.fmax(
                           a[rv], k.vload(vecS(), t.sBuf, {c, rowVec(rv)})));
                     return next;
                   });
  SmallVector<OnlineSoftmax::Step> steps;
  for (int64_t rv = 0; rv < numRowVectors; ++rv) {
    Value mOld = k.vload(vecS(), t.mBuf, rowVec(rv));
    steps.push_back(os.rescale(mOld, mx[rv]));
    k.vstore(steps.back().max, t.mBuf, rowVec(rv));
    k.vstore(steps.back().alpha, t.alphaBuf, rowVec(rv));
  }
  SmallVector<Value> sums =
      k.reduceMany(zeroIdx, cols, 1, SmallVector<Value>(numRowVectors, zv),
                   [&](Value c, ValueRange a) {
                     SmallVector<Value> next;
                     for (int64_t rv = 0; rv < numRowVectors; ++rv) {
                       Value s = k.vload(vecS(), t.sBuf, {c, rowVec(rv)});
                       Value p = os.weight(s, steps[rv].safeMax);
                       k.vstore(p, t.sBuf, {c, rowVec(rv)});
                       next.push_back(k.fadd(a[rv], p));
                     }
                     return next;
                   });
  for (int64_t rv = 0; rv < numRowVectors; ++rv) {
    Value l = k.vload(vecS(), t.lBuf, rowVec(rv));
    k.vstore(os.sum(steps[rv].alpha, l, sums[rv]), t.lBuf, rowVec(rv));
  }
}

void TiledKernel::updateStatisticsPerRow(QueryTileState &t, Value cols) {
  // Columns past the end of the keys are masked.
  const int64_t vw = cfg.vectorWidth;
  Value zeroIdx = k.idx(0), ninf = k.negInf();
  k.loop(zeroIdx, t.rows, 1, [&](Value r) {
    k.loop(cols, k.idx(cfg.keyTile), 1, [&](Value c) {
      k.store(ninf, t.sBuf, {r, c});
    });
  });
  k.loop(zeroIdx, t.rows, 1, [&](Value r) {
    if (!softmax()) {
      k.loop(zeroIdx, k.idx(cfg.keyTile), vw, [&](Value cb) {
        Value s = k.vload(vecS(), t.sBuf, {r, cb});
        k.vstore(os.pointwiseWeight(op.getKind(), s), t.sBuf, {r, cb});
      });
      return;
    }
    Value mv = k.reduce(zeroIdx, k.idx(cfg.keyTile), vw,
                        k.splat(vecS(), -INFINITY), [&](Value cb, Value a) {
                          return k.fmax(a, k.vload(vecS(), t.sBuf, {r, cb}));
                        });
    Value mx = vector::ReductionOp::create(rw, loc,
                                           vector::CombiningKind::MAXIMUMF, mv);
    OnlineSoftmax::Step step = os.rescale(k.load(t.mBuf, r), mx);
    Value mSafeV = k.bcast(vecS(), step.safeMax);
    Value sum = k.reduce(zeroIdx, k.idx(cfg.keyTile), vw, k.splat(vecS(), 0.0),
                         [&](Value cb, Value a) {
                           Value s = k.vload(vecS(), t.sBuf, {r, cb});
                           Value p = os.weight(s, mSafeV);
                           k.vstore(p, t.sBuf, {r, cb});
                           return k.fadd(a, p);
                         });
    Value rowSum =
        vector::ReductionOp::create(rw, loc, vector::CombiningKind::ADD, sum);
    k.store(os.sum(step.alpha, k.load(t.lBuf, r), rowSum), t.lBuf, r);
    k.store(step.max, t.mBuf, r);
    k.store(step.alpha, t.alphaBuf, r);
  });
}

void TiledKernel::accumulateValues(QueryTileState &t, Value j0, Value cols) {
  // acc = alpha * acc + P V in blocks of rowsPerPVBlock rows x all output
  // vectors; each V row is loaded once per block.
  const int64_t rowsPV = cfg.rowsPerPVBlock, vwOut = cfg.outWidth;
  const int64_t numOut = cfg.numOutVectors(problem.valueDim);
  auto vecV = VectorType::get(
      {vwOut},
      cast<RankedTensorType>(op.getValue().getType()).getElementType());
  Value zeroIdx = k.idx(0);
  k.loop(zeroIdx, t.rows, rowsPV, [&](Value r0) {
    SmallVector<Value> inits;
    for (int64_t rr = 0; rr < rowsPV; ++rr) {
      Value r = k.add(r0, k.idx(rr));
      Value alphaV =
          softmax() ? k.bcast(vecO(), k.load(t.alphaBuf, r)) : Value();
      for (int64_t eb = 0; eb < numOut; ++eb) {
        Value a = k.vload(vecO(), t.acc, {r, k.idx(eb * vwOut)});
        inits.push_back(alphaV ? k.fmul(a, alphaV) : a);
      }
    }
    SmallVector<Value> accs = blockedOuterProducts(
        k, zeroIdx, cols, rowsPV, numOut, vecO(), inits,
        [&](Value c, int64_t eb) {
          return k.toF32(
              k.vload(vecV, io.v,
                      {t.bi, t.hk, keyAt(t, k.add(j0, c)), k.idx(eb * vwOut)}));
        },
        [&](Value c, int64_t rr) {
          return k.load(t.sBuf, scoreAt(k.add(r0, k.idx(rr)), c));
        });
    for (int64_t rr = 0; rr < rowsPV; ++rr)
      for (int64_t eb = 0; eb < numOut; ++eb)
        k.vstore(accs[rr * numOut + eb], t.acc,
                 {k.add(r0, k.idx(rr)), k.idx(eb * vwOut)});
  });
}

//===----------------------------------------------------------------------===//
// entmax: no weight is known before the row's threshold, so there is no
// online form. Per query tile: the row maxima over every live key tile; each
// row's τ, by passes over the tile's scores; one more pass turning scores
// into weights and accumulating P V over the key tiles where some weight is
// non-zero. The scores are kept in a scratch S^T [keys, Br] when it fits
// (kEntmaxScratchBytes), and recomputed tile by tile on every pass when not.
//===----------------------------------------------------------------------===//

/// The largest scratch of one query tile; past it the scores are recomputed.
constexpr int64_t kEntmaxScratchBytes = 16 << 20;

void TiledKernel::buildEntmaxRows(QueryTileState &t) {
  const int64_t br = cfg.queryTile, bc = cfg.keyTile;
  Value bcIdx = k.idx(bc);
  Value keys = k.mul(arith::CeilDivUIOp::create(rw, loc, io.skv, bcIdx), bcIdx);
  t.tauBuf = k.stackBuffer({br});
  t.fBuf = k.stackBuffer({br});
  t.gBuf = k.stackBuffer({br});
  auto rows = [&](bool keep) {
    t.scratch = Value();
    if (keep) {
      t.scratch = memref::AllocOp::create(
          rw, loc, MemRefType::get({ShapedType::kDynamic, br}, rw.getF32Type()),
          ValueRange{keys});
      // Key tiles the mask proves empty, and keys past Skv, stay -inf. The
      // ownership-based deallocation pipeline frees it after the iteration.
      Value ninfV = k.splat(vecS(), -INFINITY);
      k.loop(k.idx(0), keys, 1, [&](Value c) {
        k.loop(k.idx(0), k.idx(br), cfg.vectorWidth, [&](Value r0) {
          k.vstore(ninfV, t.scratch, {c, r0});
        });
      });
    }
    visitScoreTiles(t, /*fromScratch=*/false,
                    [&](Value scores, Value, Value cols) {
                      updateRowMaxInLanes(t, scores, cols);
                    });
    entmaxThresholds(t);
    entmaxValues(t);
    finishRows(t);
  };
  // The cost model: static key counts decide here, dynamic ones at run time.
  if (recomputeEntmax) {
    rows(false);
    return;
  }
  if (!ShapedType::isDynamic(problem.keys)) {
    rows((problem.keys + bc - 1) / bc * bc * br * 4 <= kEntmaxScratchBytes);
    return;
  }
  Value fits = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ule,
                                     k.mul(keys, k.idx(br * 4)),
                                     k.idx(kEntmaxScratchBytes));
  k.ifThenElse(
      fits, [&]() { rows(true); }, [&]() { rows(false); });
}

void TiledKernel::visitScoreTiles(QueryTileState &t, bool fromScratch,
                                  ScoreTileFn fn) {
  if (fromScratch) {
    Value bcIdx = k.idx(cfg.keyTile);
    Value keys = memref::DimOp::create(rw, loc, t.scratch, 0);
    k.loop(k.idx(0), keys, cfg.keyTile, [&](Value j0) {
      fn(scratchTile(t, j0), j0, k.minI(bcIdx, k.sub(io.skv, j0)));
    });
    return;
  }
  t.consume = fn;
  visitKeyTiles(t);
  t.consume = nullptr;
}

Value TiledKernel::scratchTile(QueryTileState &t, Value j0) {
  SmallVector<OpFoldResult> offsets = {j0, rw.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {rw.getIndexAttr(cfg.keyTile),
                                     rw.getIndexAttr(cfg.queryTile)};
  SmallVector<OpFoldResult> strides = {rw.getIndexAttr(1), rw.getIndexAttr(1)};
  return memref::SubViewOp::create(rw, loc, t.scratch, offsets, sizes, strides);
}

void TiledKernel::updateRowMaxInLanes(QueryTileState &t, Value scores,
                                      Value cols) {
  const int64_t numRowVectors = cfg.numRowVectors();
  auto rowVec = [&](int64_t rv) { return k.idx(rv * cfg.vectorWidth); };
  SmallVector<Value> inits;
  for (int64_t rv = 0; rv < numRowVectors; ++rv)
    inits.push_back(k.vload(vecS(), t.mBuf, rowVec(rv)));
  SmallVector<Value> mx =
      k.reduceMany(k.idx(0), cols, 1, inits, [&](Value c, ValueRange a) {
        SmallVector<Value> next;
        for (int64_t rv = 0; rv < numRowVectors; ++rv)
          next.push_back(
              k.fmax(a[rv], k.vload(vecS(), scores, {c, rowVec(rv)})));
        return next;
      });
  for (int64_t rv = 0; rv < numRowVectors; ++rv)
    k.vstore(mx[rv], t.mBuf, rowVec(rv));
}

Value TiledKernel::entmaxPower(Value tv, Value *lower) {
  // α = 2 (sparsemax) and α = 1.5 need no transcendental.
  Value zv = k.splat(vecS(), 0.0);
  Value positive =
      arith::CmpFOp::create(rw, loc, arith::CmpFPredicate::OGT, tv, zv);
  if (beta() == 1.0) {
    if (lower)
      *lower = k.select(positive, k.splat(vecS(), 1.0), zv);
    return tv;
  }
  if (beta() == 2.0) {
    if (lower)
      *lower = tv;
    return k.fmul(tv, tv);
  }
  // t^(β-1) = exp((β-1) log t), then t^β = t^(β-1) t: one log, one exp.
  Value safe = k.select(positive, tv, k.splat(vecS(), 1.0));
  Value pw = k.select(positive,
                      k.exp(k.fmul(k.splat(vecS(), beta() - 1.0),
                                   math::LogOp::create(rw, loc, safe))),
                      zv);
  if (lower)
    *lower = pw;
  return k.fmul(pw, tv);
}

std::pair<Value, Value> TiledKernel::entmaxRow(QueryTileState &t, Value rv) {
  // A fully masked row has m = -inf: its x are -inf (weight 0), never NaN.
  Value m = k.vload(vecS(), t.mBuf, rv);
  Value mSafe =
      k.select(k.feq(m, k.splat(vecS(), -INFINITY)), k.splat(vecS(), 0.0), m);
  return {mSafe, k.vload(vecS(), t.tauBuf, rv)};
}

Value TiledKernel::entmaxGap(std::pair<Value, Value> row, Value s) {
  Value x = k.fmul(k.fsub(s, row.first),
                   k.splat(vecS(), op.getAlpha()->convertToDouble() - 1.0));
  return k.fmax(k.fsub(x, row.second), k.splat(vecS(), 0.0));
}

void TiledKernel::accumulateEntmaxSums(QueryTileState &t, bool derivative) {
  // fBuf += Σ t^β and, with `derivative`, gBuf += Σ t^(β-1) at the rows' τ.
  Value zv = k.splat(vecS(), 0.0);
  visitScoreTiles(t, bool(t.scratch), [&](Value scores, Value, Value cols) {
    k.loop(k.idx(0), k.idx(cfg.queryTile), cfg.vectorWidth, [&](Value rv) {
      std::pair<Value, Value> row = entmaxRow(t, rv);
      SmallVector<Value> sums =
          k.reduceMany(k.idx(0), cols, 1, {zv, zv}, [&](Value c, ValueRange a) {
            Value lower;
            Value p =
                entmaxPower(entmaxGap(row, k.vload(vecS(), scores, {c, rv})),
                            derivative ? &lower : nullptr);
            return SmallVector<Value>{k.fadd(a[0], p),
                                      derivative ? k.fadd(a[1], lower) : a[1]};
          });
      k.vstore(k.fadd(k.vload(vecS(), t.fBuf, rv), sums[0]), t.fBuf, rv);
      if (derivative)
        k.vstore(k.fadd(k.vload(vecS(), t.gBuf, rv), sums[1]), t.gBuf, rv);
    });
  });
}

void TiledKernel::entmaxThresholds(QueryTileState &t) {
  // With x = (α - 1)(s - m), τ solves Σ [x - τ]_+^β = 1 and lies in [-1, 0].
  // For α <= 2 (β >= 1) the β-norm of t = [x - τ]_+ is convex in τ, so
  // Newton's method on ‖t‖_β = 1 from τ = -1 rises monotonically to the
  // root; on the norm rather than the sum it is exact while the support has
  // one key, and for sparsemax exact once the support stops shrinking. The
  // rows of the tile step together, until no row moves. Otherwise bisection,
  // as the naive form does (gBuf holds the upper bounds).
  constexpr int64_t kMaxNewtonSteps = 64, kBisectionSteps = 32;
  const int64_t br = cfg.queryTile, vw = cfg.vectorWidth;
  Value zv = k.splat(vecS(), 0.0), onev = k.splat(vecS(), 1.0);
  auto forRows = [&](function_ref<void(Value)> fn) {
    k.loop(k.idx(0), k.idx(br), vw, fn);
  };
  auto clearSums = [&]() {
    forRows([&](Value rv) {
      k.vstore(zv, t.fBuf, rv);
      if (beta() >= 1.0)
        k.vstore(zv, t.gBuf, rv);
    });
  };
  forRows([&](Value rv) { k.vstore(k.splat(vecS(), -1.0), t.tauBuf, rv); });
  if (beta() < 1.0) {
    forRows([&](Value rv) { k.vstore(zv, t.gBuf, rv); });
    Value half = k.splat(vecS(), 0.5);
    auto midpoint = [&](Value rv) {
      return k.fmul(
          k.fadd(k.vload(vecS(), t.tauBuf, rv), k.vload(vecS(), t.gBuf, rv)),
          half);
    };
    Value lo = k.stackBuffer({br});
    k.loop(k.idx(0), k.idx(kBisectionSteps), 1, [&](Value) {
      // τ holds the lower bounds: evaluate at the midpoints, then restore.
      clearSums();
      forRows([&](Value rv) {
        k.vstore(k.vload(vecS(), t.tauBuf, rv), lo, rv);
        k.vstore(midpoint(rv), t.tauBuf, rv);
      });
      accumulateEntmaxSums(t, /*derivative=*/false);
      forRows([&](Value rv) {
        Value mid = k.vload(vecS(), t.tauBuf, rv);
        Value above = arith::CmpFOp::create(rw, loc, arith::CmpFPredicate::OGE,
                                            k.vload(vecS(), t.fBuf, rv), onev);
        k.vstore(k.select(above, mid, k.vload(vecS(), lo, rv)), t.tauBuf, rv);
        k.vstore(k.select(above, k.vload(vecS(), t.gBuf, rv), mid), t.gBuf, rv);
      });
    });
    forRows([&](Value rv) { k.vstore(midpoint(rv), t.tauBuf, rv); });
    return;
  }
  Value init[] = {k.idx(0),
                  arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true))};
  scf::WhileOp::create(
      rw, loc, TypeRange{rw.getIndexType(), rw.getI1Type()}, init,
      [&](OpBuilder &nb, Location, ValueRange a) {
        OpBuilder::InsertionGuard guard(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value more = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ult,
                                           a[0], k.idx(kMaxNewtonSteps));
        scf::ConditionOp::create(rw, loc,
                                 arith::AndIOp::create(rw, loc, more, a[1]), a);
      },
      [&](OpBuilder &nb, Location, ValueRange a) {
        OpBuilder::InsertionGuard guard(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        clearSums();
        accumulateEntmaxSums(t, /*derivative=*/true);
        Value moved = k.reduce(
            k.idx(0), k.idx(br), vw,
            arith::ConstantOp::create(rw, loc, rw.getBoolAttr(false)),
            [&](Value rv, Value any) {
              Value tau = k.vload(vecS(), t.tauBuf, rv);
              Value f = k.vload(vecS(), t.fBuf, rv);
              Value g = k.vload(vecS(), t.gBuf, rv);
              // (‖t‖ - 1) / -d‖t‖/dτ = (f - f^(1 - 1/β)) / Σ t^(β-1).
              Value fPow = onev;
              if (beta() == 2.0)
                fPow = math::SqrtOp::create(rw, loc, f);
              else if (beta() != 1.0)
                fPow = k.exp(k.fmul(k.splat(vecS(), 1.0 - 1.0 / beta()),
                                    math::LogOp::create(rw, loc, f)));
              Value step = k.fdiv(k.fsub(f, fPow), g);
              Value live = arith::CmpFOp::create(
                  rw, loc, arith::CmpFPredicate::OGT, g, zv);
              // Rounding may give a step below 0 at the root: never go back.
              Value next = k.select(live, k.fmax(tau, k.fadd(tau, step)), tau);
              k.vstore(next, t.tauBuf, rv);
              Value rose = vector::ReductionOp::create(
                  rw, loc, vector::CombiningKind::OR,
                  arith::CmpFOp::create(rw, loc, arith::CmpFPredicate::OGT,
                                        next, tau));
              return arith::OrIOp::create(rw, loc, any, rose).getResult();
            });
        scf::YieldOp::create(rw, loc, ValueRange{k.add(a[0], k.idx(1)), moved});
      });
}

void TiledKernel::entmaxValues(QueryTileState &t) {
  Value zv = k.splat(vecS(), 0.0);
  visitScoreTiles(t, bool(t.scratch), [&](Value scores, Value j0, Value cols) {
    // Weights in place, their row sums, and the tile's largest weight.
    Value top = k.reduce(
        k.idx(0), k.idx(cfg.queryTile), cfg.vectorWidth, zv,
        [&](Value rv, Value topSoFar) {
          std::pair<Value, Value> row = entmaxRow(t, rv);
          SmallVector<Value> acc = k.reduceMany(
              k.idx(0), cols, 1, {zv, topSoFar}, [&](Value c, ValueRange a) {
                Value p = entmaxPower(
                    entmaxGap(row, k.vload(vecS(), scores, {c, rv})));
                k.vstore(p, scores, {c, rv});
                return SmallVector<Value>{k.fadd(a[0], p), k.fmax(a[1], p)};
              });
          k.vstore(k.fadd(k.vload(vecS(), t.lBuf, rv), acc[0]), t.lBuf, rv);
          return acc[1];
        });
    // A key tile below every row's threshold contributes nothing.
    Value live = arith::CmpFOp::create(
        rw, loc, arith::CmpFPredicate::OGT,
        vector::ReductionOp::create(rw, loc, vector::CombiningKind::MAXIMUMF,
                                    top),
        k.f32(0.0));
    k.ifThen(live, [&]() {
      Value tileBuf = t.sBuf;
      t.sBuf = scores;
      accumulateValues(t, j0, cols);
      t.sBuf = tileBuf;
    });
  });
}

void TiledKernel::finishRows(QueryTileState &t) {
  // Sinks, normalisation, lse; a part of split keys is normalised by its
  // own sum and gets the sinks when the parts are merged.
  k.loop(k.idx(0), t.rows, 1, [&](Value r) {
    Value i = queryAt(t, k.add(t.i0, r));
    Value sink = io.sinks && !t.part ? k.load(io.sinks, t.hi) : Value();
    Value factor = k.f32(1.0), lse;
    if (softmax())
      std::tie(factor, lse) =
          os.finish(k.load(t.mBuf, r), k.load(t.lBuf, r), sink);
    if (entmax()) {
      // Renormalised (the threshold is found to f32 precision); a fully
      // masked row has l = 0 and output 0.
      Value l = k.load(t.lBuf, r);
      Value positive = arith::CmpFOp::create(rw, loc, arith::CmpFPredicate::OGT,
                                             l, k.f32(0.0));
      factor = k.select(positive, k.fdiv(k.f32(1.0), l), k.f32(0.0));
    }
    Value factorV = k.bcast(vecO(), factor);
    auto outputAt = [&](Value e) {
      return k.fmul(k.vload(vecO(), t.acc, {r, e}), factorV);
    };
    if (!t.part) {
      finishRow(t.bi, t.hi, i, lse, outputAt);
      return;
    }
    if (softmax())
      k.store(lse, partL, {t.part, t.bi, t.hi, i});
    k.loop(k.idx(0), k.idx(problem.valueDim), cfg.outWidth, [&](Value e) {
      k.vstore(outputAt(e), partO, {t.part, t.bi, t.hi, i, e});
    });
  });
}

void TiledKernel::finishRow(Value bi, Value hi, Value i, Value lse,
                            function_ref<Value(Value)> outputAt) {
  Value zeroIdx = k.idx(0), dv = k.idx(problem.valueDim);
  if (!gradRows) {
    Type outElt = io.outTy.getElementType();
    k.loop(zeroIdx, dv, cfg.outWidth, [&](Value e) {
      k.vstore(k.fromF32(outputAt(e), outElt), io.out, {bi, hi, i, e});
    });
    if (io.lse)
      k.store(lse, io.lse, {bi, hi, i});
    return;
  }
  // Δ from the f32 row, never rounded to O's type; a fully masked row (lse
  // -inf) contributes nothing, its lse cotangent included.
  Value dOut = gradRows->gradOutput;
  auto vecDOut = VectorType::get(
      {cfg.outWidth}, cast<MemRefType>(dOut.getType()).getElementType());
  Value dot = k.reduce(
      zeroIdx, dv, cfg.outWidth, k.splat(vecO(), 0.0), [&](Value e, Value acc) {
        Value g = k.toF32(k.vload(vecDOut, dOut, {bi, hi, i, e}));
        return k.fma(g, outputAt(e), acc);
      });
  Value delta =
      vector::ReductionOp::create(rw, loc, vector::CombiningKind::ADD, dot);
  if (gradRows->gradLse)
    delta = k.fsub(delta, k.load(gradRows->gradLse, {bi, hi, i}));
  k.store(k.select(k.feq(lse, k.negInf()), k.f32(0.0), delta), gradRows->delta,
          {bi, hi, i});
  k.store(lse, gradRows->lse, {bi, hi, i});
}

void TiledKernel::mergeSplits() {
  // O = Σ_p w_p O_p with the weights of attn.merge (OnlineSoftmax::merge,
  // sinks in the denominator); the other aggregations just add the parts.
  Value zeroIdx = k.idx(0), oneIdx = k.idx(1);
  scf::ParallelOp::create(
      rw, loc, ValueRange{zeroIdx, zeroIdx, zeroIdx},
      ValueRange{io.batch, k.idx(problem.queryHeads), io.sq},
      ValueRange{oneIdx, oneIdx, oneIdx},
      [&](OpBuilder &nb, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard guard(rw);
        rw.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value bi = ivs[0], hi = ivs[1], i = ivs[2];
        OnlineSoftmax::Merge merge;
        if (softmax()) {
          SmallVector<Value> lses;
          for (int64_t p = 0; p < splits(); ++p)
            lses.push_back(k.load(partL, {k.idx(p), bi, hi, i}));
          merge = os.merge(lses, io.sinks ? k.load(io.sinks, hi) : Value());
        }
        finishRow(bi, hi, i, merge.lse, [&](Value e) {
          Value o = k.splat(vecO(), 0.0);
          for (int64_t p = 0; p < splits(); ++p) {
            Value po = k.vload(vecO(), partO, {k.idx(p), bi, hi, i, e});
            o = softmax() ? k.fma(k.bcast(vecO(), merge.weights[p]), po, o)
                          : k.fadd(o, po);
          }
          if (softmax())
            o = k.fmul(o, k.bcast(vecO(), merge.factor));
          return o;
        });
      });
}

} // namespace

FailureOr<SmallVector<Value>>
mlir::attn::tileAttention(RewriterBase &rw, AttentionOp op,
                          const TileOptions &options) {
  std::optional<TileProblem> problem = TileProblem::of(op);
  if (!problem)
    return rw.notifyMatchFailure(op, "dynamic head count or head dimension");
  FailureOr<TileConfig> cfg = chooseTileConfig(*problem, options);
  if (failed(cfg))
    return rw.notifyMatchFailure(op, "invalid tile options");
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  return TiledKernel(rw, op, options, *cfg, *problem).build();
}

bool mlir::attn::canTileAttention(AttentionOp op, const TileOptions &options) {
  std::optional<TileProblem> problem = TileProblem::of(op);
  return problem && succeeded(chooseTileConfig(*problem, options));
}

LogicalResult mlir::attn::tileAttentionForGradient(RewriterBase &rw,
                                                   AttentionOp op,
                                                   const TileOptions &options,
                                                   const GradientRows &rows) {
  std::optional<TileProblem> problem = TileProblem::of(op);
  if (!problem || op.getKind() != AggregationKind::softmax)
    return failure();
  FailureOr<TileConfig> cfg = chooseTileConfig(*problem, options);
  if (failed(cfg))
    return failure();
  TiledKernel(rw, op, options, *cfg, *problem, &rows).build();
  return success();
}

namespace {
struct TileAttention : OpRewritePattern<AttentionOp> {
  TileAttention(MLIRContext *ctx, TileOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (isRecomputedByGradient(op))
      return rewriter.notifyMatchFailure(op, "its gradient recomputes it");
    FailureOr<SmallVector<Value>> results =
        tileAttention(rewriter, op, options);
    if (failed(results))
      return failure();
    rewriter.replaceOp(op, *results);
    return success();
  }
  /// Whether the only user of `op`'s results is a gradient that will
  /// recompute it (TileAttentionGrad), which then erases it.
  bool isRecomputedByGradient(AttentionOp op) const {
    if (op->use_empty())
      return false;
    auto grad = dyn_cast<AttentionGradOp>(*op->user_begin());
    return grad && recomputedForward(grad) == op &&
           (op.getKind() != AggregationKind::softmax ||
            canTileAttention(op, options));
  }
  TileOptions options;
};

struct TileAttentionGrad : OpRewritePattern<AttentionGradOp> {
  TileAttentionGrad(MLIRContext *ctx, TileOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rewriter) const override {
    AttentionOp forward = recomputedForward(op);
    FailureOr<SmallVector<Value>> results =
        tileAttentionGrad(rewriter, op, options);
    if (failed(results))
      return failure();
    rewriter.replaceOp(op, *results);
    if (forward && forward->use_empty())
      rewriter.eraseOp(forward);
    return success();
  }
  TileOptions options;
};

struct AttnTilePass : attn::impl::AttnTileBase<AttnTilePass> {
  using AttnTileBase::AttnTileBase;
  void runOnOperation() override {
    FailureOr<TileOptions> options =
        getTileOptions(getOperation(), tileQ, tileKV, vectorWidth, kvSplits,
                       targetCpu, targetFeatures);
    if (failed(options))
      return signalPassFailure();
    options->entmaxRecompute = entmaxRecompute;
    RewritePatternSet patterns(&getContext());
    populateTilePatterns(patterns, *options);
    if (failed(applyFormPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

FailureOr<TileOptions>
mlir::attn::getTileOptions(Operation *op, int64_t tileQ, int64_t tileKV,
                           int64_t vectorWidth, int64_t kvSplits,
                           StringRef targetCpu, StringRef targetFeatures) {
  if (failed(verifyFormOptions(op, {{"tile-q", tileQ},
                                    {"tile-kv", tileKV},
                                    {"vector-width", vectorWidth},
                                    {"kv-splits", kvSplits}})))
    return failure();
  FailureOr<CpuTarget> target =
      getCpuTargetOrEmitError(op, targetCpu, targetFeatures);
  if (failed(target))
    return failure();
  TileOptions options;
  options.tileQ = tileQ;
  options.tileKV = tileKV;
  options.vectorWidth = vectorWidth;
  options.kvSplits = kvSplits;
  options.target = *target;
  return options;
}

void mlir::attn::populateTilePatterns(RewritePatternSet &patterns,
                                      const TileOptions &options) {
  patterns.add<TileAttention, TileAttentionGrad>(patterns.getContext(),
                                                 options);
}
