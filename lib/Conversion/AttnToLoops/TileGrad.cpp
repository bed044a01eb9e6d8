//===- TileGrad.cpp - tiled backward of attn.attention_grad ---------------===//
//
// FlashAttention-2's backward without atomics, in three parallel passes:
//
//   rows       Δ_i = rowsum(dO_i ∘ O_i) - dlse_i (0 where lse_i = -inf);
//              then d(sink_h) = -Σ_{b,i} e^{sink_h - lse_i} Δ_i, one head
//              per iteration, summed in order. When the forward's results
//              serve only this gradient (as in @F_grad), the forward is
//              tiled here with an epilogue that leaves Δ and lse instead of
//              O, so O is never stored;
//   key tiles  per (batch, K/V head, query part): first Q^T (scaled) and
//              dO^T of the part's query tiles in f32, each tile contiguous,
//              in a buffer of this iteration; then the key tiles in order;
//              for each, every query tile of the part (query tiles are
//              dealt to the parts in turn) of every query head of the GQA
//              group that can see it (the mask analysis, or with run-time
//              masks the query-tile lists of KeyTileLists.h, built first):
//              S^T = K Q^T, P^T, dP^T = V dO^T, dS^T;
//              dV += P^T dO and dK += dS^T Q in stack accumulators, dQ +=
//              dS K in f32 rows only this part writes (dQ itself when it
//              is f32);
//   finish     dQ, and dK and dV as the parts' shares summed in part order.
//
// With a recomputed softmax forward, one query part and no captures the
// backward needs no forward pass at all: the row-tile pass (below) gets lse
// and Δ per query tile from a first sweep over its key tiles that keeps
// S^T and dP^T, and the gradients from a second sweep over the kept tiles.
//
// Memory beyond inputs and outputs: per row Δ and lse; per running
// iteration its query tiles' Q^T and dO^T; with several query parts their
// dK and dV shares; an f32 dQ unless dQ is f32.
//
// Scores are kept transposed, [Bc, Br], with the query rows of a tile in
// vector lanes (the forward's rowsInLanes layout); K and V are read in place
// and broadcast. P = e^{S' - lse} (sigmoid(S'), or S' itself, for the other
// kinds) and dS' = P ∘ (dP - Δ) (dP ∘ P(1 - P), dP), with S' = score_mod(S)
// masked to -inf; dS = dS' · ∂score_mod/∂x through the region's adjoint,
// which also yields the gradients of captured tensors. Masked scores, rows
// with lse = -inf and padding never contribute, so they give exact zeros.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToLoops/TileGrad.h"
#include "attn/Conversion/AttnToLoops/KeyTileLists.h"
#include "attn/Kernel/GradBuffers.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Kernel/OnlineSoftmax.h"
#include "attn/Transforms/MaskAnalysis.h"
#include "attn/Transforms/RegionAdjoint.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The backward kernel's shape.
struct GradConfig {
  /// f32 lanes of the score vectors, whose lanes are query rows.
  int64_t vectorWidth;
  /// Query rows per tile (Br, a multiple of vectorWidth), keys per tile (Bc).
  int64_t queryTile, keyTile;
  /// Lanes of the vectors over D and over Dv.
  int64_t dotWidth, outWidth;
  /// Register blocking of S^T and dP^T: row vectors x keys per step.
  int64_t rowVectorBlock, keyBlock;
  /// Keys per register block of dV and of dK; query rows per block of dQ.
  int64_t keysPerValueBlock, keysPerKeyBlock, rowsPerQueryBlock;
  /// Parts of the query tiles (interleaved) walked in parallel for one
  /// (batch, K/V head); their dK and dV shares are summed in order.
  int64_t queryParts;
  /// Private copies of the captured tensors' gradients: the key-tile pass
  /// runs in this many chunks whatever the thread count, so their sums are
  /// deterministic.
  int64_t captureChunks;

  int64_t numRowVectors() const { return queryTile / vectorWidth; }
};

/// Elements of tensor type `t`, counting a dynamic size as 4096.
int64_t staticElements(Type t) {
  int64_t n = 1;
  for (int64_t d : cast<RankedTensorType>(t).getShape())
    n *= ShapedType::isDynamic(d) ? 4096 : d;
  return n;
}

/// The forward's defaults (64 x 64 tiles, fewer query rows for a short
/// static query length) with every query tile in vector lanes, and register
/// blocks of at most half the vector registers.
FailureOr<GradConfig> chooseGradConfig(AttentionGradOp op, const HeadDims &h,
                                       const TileOptions &options) {
  if (options.vectorWidth < 0 || options.tileQ < 0 || options.tileKV < 0)
    return failure();
  GradConfig c;
  const int64_t vw = resolveVectorWidth(options.vectorWidth, options.target);
  c.vectorWidth = vw;
  int64_t queries =
      cast<RankedTensorType>(op.getQuery().getType()).getDimSize(2);
  int64_t tileQ = options.tileQ ? options.tileQ : 64;
  if (!options.tileQ && !ShapedType::isDynamic(queries))
    tileQ = std::clamp<int64_t>(queries, 1, 64);
  c.queryTile = (tileQ + vw - 1) / vw * vw;
  const int64_t tileKV = options.tileKV ? options.tileKV : 64;
  c.keyTile = (tileKV + vw - 1) / vw * vw;
  c.dotWidth = largestDividingWidth(h.d, vw);
  c.outWidth = largestDividingWidth(h.dv, vw);
  const int64_t accBudget = vw >= 16 ? 16 : 8;
  c.rowVectorBlock = 1;
  for (int64_t rb = 4; rb > 1; --rb)
    if (c.numRowVectors() % rb == 0 && rb <= accBudget) {
      c.rowVectorBlock = rb;
      break;
    }
  c.keyBlock = std::clamp<int64_t>(accBudget / c.rowVectorBlock, 1, 4);
  auto perBlock = [&](int64_t vectors) {
    return std::clamp<int64_t>(accBudget / vectors, 1, 4);
  };
  c.keysPerValueBlock = perBlock(h.dv / c.outWidth);
  c.keysPerKeyBlock = perBlock(h.d / c.dotWidth);
  c.rowsPerQueryBlock = c.keysPerKeyBlock;
  // At least 8 parallel iterations (a dynamic batch counts as 1), but no
  // more parts than query tiles: each part beyond the first costs a dK and
  // a dV share.
  auto qTy = cast<RankedTensorType>(op.getQuery().getType());
  int64_t pairs = qTy.isDynamicDim(0) ? h.hkv : qTy.getDimSize(0) * h.hkv;
  c.queryParts =
      std::clamp<int64_t>((8 + pairs - 1) / std::max<int64_t>(pairs, 1), 1, 8);
  if (!ShapedType::isDynamic(queries))
    c.queryParts = std::min(
        c.queryParts,
        std::max<int64_t>((queries + c.queryTile - 1) / c.queryTile, 1));
  int64_t captured = 0;
  for (Value t : op.getCaptures())
    captured += staticElements(t.getType());
  c.captureChunks = captured <= (int64_t(1) << 18) ? 16 : 4;
  return c;
}

/// `body(start, count)` over [0, n): blocks of `block` positions, then the
/// rest one position at a time.
void forBlocks(KernelBuilder &k, Value n, int64_t block,
               function_ref<void(Value, int64_t)> body) {
  Value blockIdx = k.idx(block);
  Value whole =
      k.mul(arith::DivUIOp::create(k.b, k.loc, n, blockIdx), blockIdx);
  k.loop(k.idx(0), whole, block, [&](Value s) { body(s, block); });
  if (block > 1)
    k.loop(whole, n, 1, [&](Value s) { body(s, 1); });
}

/// scf.parallel over [0, ubs) with unit steps.
void parallelLoop(KernelBuilder &k, ValueRange ubs,
                  function_ref<void(ValueRange)> body) {
  SmallVector<Value> lbs(ubs.size(), k.idx(0)), steps(ubs.size(), k.idx(1));
  scf::ParallelOp::create(k.b, k.loc, lbs, ubs, steps,
                          [&](OpBuilder &nb, Location, ValueRange ivs) {
                            OpBuilder::InsertionGuard guard(k.b);
                            k.b.setInsertionPoint(nb.getInsertionBlock(),
                                                  nb.getInsertionPoint());
                            body(ivs);
                          });
}

/// Nested loops over the index space `sizes`.
void forEachIndex(KernelBuilder &k, ArrayRef<Value> sizes,
                  function_ref<void(ValueRange)> body,
                  SmallVector<Value> prefix = {}) {
  if (prefix.size() == sizes.size()) {
    body(prefix);
    return;
  }
  k.loop(k.idx(0), sizes[prefix.size()], 1, [&](Value iv) {
    SmallVector<Value> next = prefix;
    next.push_back(iv);
    forEachIndex(k, sizes, body, next);
  });
}

/// A binary search that only ever moves to indices `proven` holds for (an
/// i1 of an index), so its answer is proven even where `proven` is not
/// monotone. `fromBelow`: the largest n in [lo, hi] found proven, given
/// proven(lo); otherwise the smallest, given proven(hi).
Value searchProvenBound(KernelBuilder &k, Value lo, Value hi, bool fromBelow,
                        function_ref<Value(Value)> proven) {
  OpBuilder &b = k.b;
  Type idx = b.getIndexType();
  auto loop = scf::WhileOp::create(
      b, k.loc, TypeRange{idx, idx}, ValueRange{lo, hi},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value more = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                           args[0], args[1]);
        scf::ConditionOp::create(nb, l, more, args);
      },
      [&](OpBuilder &nb, Location, ValueRange args) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value a = args[0], z = args[1], one = k.idx(1);
        Value sum = fromBelow ? k.add(k.add(a, z), one) : k.add(a, z);
        Value mid = arith::DivUIOp::create(b, k.loc, sum, k.idx(2));
        Value p = proven(mid);
        Value newLo =
            fromBelow ? k.select(p, mid, a) : k.select(p, a, k.add(mid, one));
        Value newHi =
            fromBelow ? k.select(p, z, k.sub(mid, one)) : k.select(p, mid, z);
        scf::YieldOp::create(b, k.loc, ValueRange{newLo, newHi});
      });
  return loop.getResult(0);
}

/// One query tile of one (batch, query head).
struct RowTile {
  Value bi, hi, hk, qt, i0, rows;
  /// Where its Q^T and dO^T are in the iteration's buffers: the head within
  /// the GQA group and the tile within the part (empty with row tiles: the
  /// buffers hold this tile only).
  Value group, slot;
  SmallVector<Value> lanePrefix;
  QueryTile tile;
};

/// The stack buffers of one parallel iteration: S^T [Bc, Br]; S'^T and then
/// P^T (S^T itself without score_mod); dP^T and then dS^T; the key
/// intervals [lo, hi) of the tile's rows (row-interval masks).
struct Scratch {
  Value s, p, ds, lo, hi;
};

/// Row tiles: per visited key tile of one query tile, S^T, S'^T then P^T, dP^T
/// then dS^T as [NKT * Bc, Br] buffers, and the running max of each row
/// when the tile was seen [NKT, Br]; the running statistics of the rows
/// (max, sum, Σ e^{s-m} dP) and then their lse and Δ, each [Br].
struct RowScratch {
  Value s, p, ds, maxAt, lo, hi;
  Value m, l, a, lse, delta;
  /// The query tile's dQ [Br, D]; the K/V head's f32 dK and dV, rows at
  /// {dKAt..., j} and {dVAt..., j}.
  Value dQ, dK, dV;
  SmallVector<Value> dKAt, dVAt;
};

/// Builds the backward of one attn.attention_grad: one method per phase.
class GradKernel : AttentionGradBuffers {
public:
  GradKernel(RewriterBase &rw, AttentionGradOp op, const GradConfig &cfg,
             const HeadDims &dims, AttentionOp forward,
             const TileOptions &options)
      : rw(rw), op(op), cfg(cfg), dims(dims), forward(forward),
        options(options), k(rw, op.getLoc()), os(k), loc(op.getLoc()),
        useLists(hasTileLevelPatterns(op.getPatterns()) ||
                 hasKeyListPatterns(op.getPatterns())),
        analysis(useLists ? nonTileLevelPatterns(op.getPatterns())
                          : op.getPatterns(),
                 &op.getPredicate()) {
    if (!op.getPositions().empty())
      analysis.setKeyBase(op.getPositions()[1]);
  }

  SmallVector<Value> build();

private:
  /// Where row p of an accumulator is: an index prefix.
  using RowIndex = function_ref<SmallVector<Value>(Value)>;

  void setUp();
  // The rows pass.
  void prepareQueryTile(ValueRange ivs);
  void prepareRow(Value bi, Value hi, Value qt, Value i0, Value r);
  void padRow(Value bi, Value hi, Value qt, Value i0, Value r);
  void reduceSinkGradients();
  // The key-tile pass.
  void keyTilePass();
  void transposeQueryTiles(Value bi, Value hk, Value part);
  /// Q^T (scaled) and dO^T of query rows [i0, i0 + rows) of head hi into
  /// qT and dOutT at index prefix `at`, padding rows 0.
  void transposeTile(Value bi, Value hi, Value i0, Value rows, ValueRange at);
  // The row-tile pass (recomputed softmax forward, one query part, no
  // captures, no run-time lists).
  bool useRowTiles();
  void rowTilePass();
  void visitRowTile(RowTile &t, RowScratch &rs);
  void forEachVisibleKeyTile(RowTile &t,
                             function_ref<void(Value, Value, Value)> body);
  Scratch slotOf(RowScratch &rs, Value j0);
  void updateRowStatistics(RowScratch &rs, Scratch &sc, Value j0, Value cols);
  void finishRowStatistics(RowTile &t, RowScratch &rs);
  void rowWeights(RowScratch &rs, Scratch &sc, Value j0, Value cols);
  void accumulateProducts(RowTile &t, Scratch &sc, Value j0, Value cols,
                          Value dK, RowIndex dKRow, Value dV, RowIndex dVRow,
                          Value dQ, RowIndex dQRow);
  void visitKeyTile(Value bi, Value hk, Value part, Value kt, Scratch &sc,
                    Value dK, Value dV, Value chunk);
  std::pair<Value, Value> queryTileRange(Value bi, Value hi, Value j0,
                                         Value jLast);
  void visitListedQueryTiles(Value bi, Value hi, Value part, Value kt,
                             Scratch &sc, Value j0, Value cols, Value dK,
                             Value dV, Value chunk);
  void visitPair(RowTile &t, Scratch &sc, Value j0, Value cols, Value jLast,
                 Value dK, Value dV, Value chunk);
  void accumulatePair(RowTile &t, Scratch &sc, Value j0, Value cols, Value full,
                      Value staticOnly, Value dK, Value dV, Value chunk);
  void storeKeyTile(Value bi, Value hk, Value part, Value j0, Value cols,
                    Value dK, Value dV);
  void finishGradients();
  // One (query tile, key tile) pair: P^T in sc.p, dS^T in sc.ds. `full`
  // skips the mask; `staticOnly` (query-tile lists) says the tile-level
  // patterns keep the whole pair.
  void processPair(RowTile &t, Scratch &sc, Value j0, Value cols, Value full,
                   Value staticOnly, Value chunk);
  void transposedProducts(RowTile &t, Value out, Value keyRows, Value lanes,
                          int64_t depth, Value j0, Value cols);
  void applyScoreMod(RowTile &t, Scratch &sc, Value j0, Value cols);
  void applyMask(RowTile &t, Scratch &sc, Value j0, Value cols, Value full,
                 Value staticOnly);
  void maskLaneIntervals(RowTile &t, Scratch &sc, Value j0, Value cols);
  void maskPerElement(RowTile &t, Scratch &sc, Value j0, Value cols);
  void computeWeights(RowTile &t, Scratch &sc, Value cols);
  void chainScoreMod(RowTile &t, Scratch &sc, Value j0, Value cols,
                     Value chunk);
  void accumulateCapture(Value tensor, ValueRange indices, Value adjoint,
                         Value skip, Value chunk);
  // Accumulators: rows of f32 vectors.
  void accumulateOuter(Value acc, RowIndex accRow, Value count,
                       int64_t perBlock, Value inner, int64_t width,
                       int64_t numVectors,
                       function_ref<Value(Value, int64_t)> row,
                       function_ref<Value(Value, Value)> weight);
  void zeroRows(Value acc, int64_t rows, int64_t depth, int64_t width);
  void storeRows(Value count, int64_t depth, int64_t width, double scale,
                 Value dest, RowIndex destRow,
                 function_ref<Value(Value, Value)> value);
  // Captured tensors.
  void initCaptureParts();
  SmallVector<Value> reduceCaptureParts();

  RowTile rowTile(Value bi, Value hi, Value qt);
  Scratch allocateScratch();
  Value notI(Value x) {
    return arith::XOrIOp::create(
        rw, loc, x, arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true)));
  }
  Value ceilDiv(Value x, int64_t y) {
    return arith::CeilDivUIOp::create(rw, loc, x, k.idx(y));
  }
  Value remU(Value x, Value y) { return arith::RemUIOp::create(rw, loc, x, y); }
  Value divU(Value x, Value y) { return arith::DivUIOp::create(rw, loc, x, y); }
  Type eltOf(Value buffer) {
    return cast<MemRefType>(buffer.getType()).getElementType();
  }
  VectorType vecF32(int64_t width) {
    return VectorType::get({width}, rw.getF32Type());
  }
  bool hasScoreMod() { return !op.getScoreMod().empty(); }
  /// What a region sees of query i and key j: the indices, or a positioned
  /// block's positions.
  std::pair<Value, Value> regionIndices(Value i, Value j) {
    if (op.getPositions().empty())
      return {i, j};
    return {k.add(i, op.getPositions()[0]), k.add(j, op.getPositions()[1])};
  }
  AggregationKind kind() { return op.getKind(); }

  RewriterBase &rw;
  AttentionGradOp op;
  const GradConfig &cfg;
  const HeadDims &dims;
  /// The forward whose results only this op uses, recomputed here (null:
  /// the operands O and lse are read).
  AttentionOp forward;
  const TileOptions &options;
  KernelBuilder k;
  OnlineSoftmax os;
  Location loc;
  /// With tile-level patterns (block_mask, segments, rows) or key lists
  /// (csr, indices) the query tiles of each key tile come from run-time
  /// lists; the analysis covers the patterns that are not tile-level.
  const bool useLists;
  MaskAnalysis analysis;
  QueryTileLists lists;
  // Tiles (operands, sizes and results: AttentionGradBuffers).
  Value numQT, numKT;
  // Row data: for softmax Δ and lse [B, Hq, NQT * Br] (padding rows: 0 and
  // -inf); in each key-tile iteration, per query tile of its part, Q^T
  // [group, tiles, D, Br] (scaled) and dO^T [group, tiles, Dv, Br], each
  // tile one contiguous block (a row stride of Sq would make the loads of a
  // tile collide in the cache).
  Value delta, lsePad, qT, dOutT;
  // dQ in f32 [B, Hq, Sq, D], unscaled (dq itself when it is f32); with
  // several query parts, each part's dK and dV [parts, B, Hkv, Skv, D|Dv],
  // unscaled.
  Value dQAcc, dKParts, dVParts;
  // The private gradients [chunks, ...] of the captures.
  SmallVector<Value> captureParts;
};

SmallVector<Value> GradKernel::build() {
  setUp();
  if (useRowTiles()) {
    rowTilePass();
    if (sinks)
      reduceSinkGradients();
  } else {
    parallelLoop(k, {batch, k.idx(dims.hq), numQT},
                 [&](ValueRange ivs) { prepareQueryTile(ivs); });
    if (sinks)
      reduceSinkGradients();
    initCaptureParts();
    keyTilePass();
    finishGradients();
  }
  auto tensorOf = [&](Value operand, Value buffer) {
    return k.toTensor(cast<RankedTensorType>(operand.getType()), buffer);
  };
  SmallVector<Value> results = {tensorOf(op.getQuery(), dq),
                                tensorOf(op.getKey(), dk),
                                tensorOf(op.getValue(), dv)};
  if (sinks)
    results.push_back(tensorOf(op.getSinks(), dSinks));
  llvm::append_range(results, reduceCaptureParts());
  return results;
}

void GradKernel::setUp() {
  const bool softmax = kind() == AggregationKind::softmax;
  // Only softmax reads O and lse (for Δ), and not from a forward it
  // recomputes.
  loadOperands(k, op, /*readOutput=*/softmax && !forward,
               /*readLse=*/!forward);
  allocateGradients(k, op, dims);
  numQT = ceilDiv(sq, cfg.queryTile);
  numKT = ceilDiv(skv, cfg.keyTile);
  const int64_t dyn = ShapedType::kDynamic, br = cfg.queryTile;
  auto alloc = [&](ArrayRef<int64_t> shape, Value size) {
    return memref::AllocOp::create(rw, loc,
                                   MemRefType::get(shape, rw.getF32Type()),
                                   ValueRange{batch, size});
  };
  // Row tiles keep Δ and lse per query tile; the sinks' gradient reads
  // them afterwards.
  if (softmax && (!useRowTiles() || sinks)) {
    Value sqPad = k.mul(numQT, k.idx(br));
    delta = alloc({dyn, dims.hq, dyn}, sqPad);
    lsePad = alloc({dyn, dims.hq, dyn}, sqPad);
    if (forward && !useRowTiles()) {
      GradientRows rows{dOut, dLse, delta, lsePad};
      // The pattern checked canTileAttention.
      LogicalResult tiled =
          tileAttentionForGradient(rw, forward, options, rows);
      assert(succeeded(tiled) && "forward cannot be tiled");
      (void)tiled;
    }
  }
  if (!useRowTiles())
    dQAcc = eltOf(dq).isF32() ? dq : alloc({dyn, dims.hq, dyn, dims.d}, sq);
  const int64_t parts = cfg.queryParts;
  if (parts > 1) {
    dKParts = alloc({parts, dyn, dims.hkv, dyn, dims.d}, skv);
    dVParts = alloc({parts, dyn, dims.hkv, dyn, dims.dv}, skv);
  }
  // Tile-level patterns decide the lists where there are some; key lists
  // (csr, indices) are then evaluated per element on the listed pairs.
  if (hasTileLevelPatterns(op.getPatterns()))
    lists = buildQueryTileLists(k, op.getPatterns(), op.getMaskOperands(),
                                analysis, br, cfg.keyTile, batch, dims.hq, sq,
                                skv, op.getPositions());
  else if (useLists)
    lists = buildKeyListQueryTileLists(k, op.getPatterns(),
                                       op.getMaskOperands(), analysis, br,
                                       cfg.keyTile, batch, dims.hq, sq, skv);
}

RowTile GradKernel::rowTile(Value bi, Value hi, Value qt) {
  const int64_t group = dims.hq / dims.hkv;
  RowTile t;
  t.bi = bi;
  t.hi = hi;
  t.qt = qt;
  t.hk = divU(hi, k.idx(group));
  t.group = k.sub(hi, k.mul(t.hk, k.idx(group)));
  t.slot = divU(qt, k.idx(cfg.queryParts));
  if (!useRowTiles())
    t.lanePrefix = {t.group, t.slot};
  t.i0 = k.mul(qt, k.idx(cfg.queryTile));
  t.rows = k.minI(k.idx(cfg.queryTile), k.sub(sq, t.i0));
  Value iLast = k.sub(k.add(t.i0, t.rows), k.idx(1));
  t.tile =
      QueryTile{bi, hi, t.i0, iLast, k.add(t.i0, offset), k.add(iLast, offset)};
  return t;
}

Scratch GradKernel::allocateScratch() {
  const int64_t br = cfg.queryTile, bc = cfg.keyTile;
  Scratch sc;
  sc.s = k.stackBuffer({bc, br});
  sc.p = hasScoreMod() ? k.stackBuffer({bc, br}) : sc.s;
  sc.ds = k.stackBuffer({bc, br});
  if (analysis.hasRowIntervals()) {
    auto idxBufTy = MemRefType::get({br}, rw.getIndexType());
    sc.lo = memref::AllocaOp::create(rw, loc, idxBufTy);
    sc.hi = memref::AllocaOp::create(rw, loc, idxBufTy);
  }
  return sc;
}

//===----------------------------------------------------------------------===//
// The rows pass
//===----------------------------------------------------------------------===//

void GradKernel::prepareQueryTile(ValueRange ivs) {
  Value i0 = k.mul(ivs[2], k.idx(cfg.queryTile));
  Value rows = k.minI(k.idx(cfg.queryTile), k.sub(sq, i0));
  k.loop(k.idx(0), rows, 1,
         [&](Value r) { prepareRow(ivs[0], ivs[1], ivs[2], i0, r); });
  k.loop(rows, k.idx(cfg.queryTile), 1,
         [&](Value r) { padRow(ivs[0], ivs[1], ivs[2], i0, r); });
}

void GradKernel::prepareRow(Value bi, Value hi, Value qt, Value i0, Value r) {
  Value i = k.add(i0, r);
  Value zeros = k.splat(vecF32(cfg.dotWidth), 0.0);
  k.loop(k.idx(0), k.idx(dims.d), cfg.dotWidth, [&](Value e) {
    k.vstore(zeros, dQAcc, {bi, hi, i, e});
  });
  // A recomputed forward has left Δ and lse.
  if (kind() != AggregationKind::softmax || forward)
    return;
  const int64_t ow = cfg.outWidth;
  auto vecOut = VectorType::get({ow}, eltOf(out));
  auto vecDOut = VectorType::get({ow}, eltOf(dOut));
  Value dot = k.reduce(
      k.idx(0), k.idx(dims.dv), ow, k.splat(vecF32(ow), 0.0),
      [&](Value e, Value acc) {
        return k.fma(k.toF32(k.vload(vecDOut, dOut, {bi, hi, i, e})),
                     k.toF32(k.vload(vecOut, out, {bi, hi, i, e})), acc);
      });
  Value d =
      vector::ReductionOp::create(rw, loc, vector::CombiningKind::ADD, dot);
  if (dLse)
    d = k.fsub(d, k.load(dLse, {bi, hi, i}));
  // A fully masked row (lse -inf) contributes nothing, its dlse included.
  Value l = k.load(lse, {bi, hi, i});
  k.store(k.select(k.feq(l, k.negInf()), k.f32(0.0), d), delta, {bi, hi, i});
  k.store(l, lsePad, {bi, hi, i});
}

void GradKernel::padRow(Value bi, Value hi, Value qt, Value i0, Value r) {
  Value zero = k.f32(0.0), i = k.add(i0, r);
  if (kind() != AggregationKind::softmax)
    return;
  k.store(zero, delta, {bi, hi, i});
  k.store(k.negInf(), lsePad, {bi, hi, i});
}

void GradKernel::reduceSinkGradients() {
  // d(sink_h) = -Σ_{b,i} e^{sink_h - lse_i} Δ_i, each head summed in order.
  Value zero = k.f32(0.0);
  parallelLoop(k, {k.idx(dims.hq)}, [&](ValueRange ivs) {
    Value hi = ivs[0];
    Value sink = k.load(sinks, hi);
    Value total = k.reduce(k.idx(0), batch, 1, zero, [&](Value bi, Value acc) {
      return k.reduce(k.idx(0), sq, 1, acc, [&](Value i, Value a) {
        Value l = k.load(lsePad, {bi, hi, i});
        Value term = k.fmul(k.exp(k.fsub(sink, l)), k.load(delta, {bi, hi, i}));
        return k.fadd(a, k.select(k.feq(l, k.negInf()), zero, term));
      });
    });
    k.store(arith::NegFOp::create(rw, loc, total), dSinks, hi);
  });
}

//===----------------------------------------------------------------------===//
// The key-tile pass
//===----------------------------------------------------------------------===//

void GradKernel::keyTilePass() {
  // One iteration per (batch, K/V head, query part) walks the key tiles in
  // order; part p takes the query tiles qt = p (mod parts), so it alone
  // writes their dQ rows. With captures, chunk c takes the iterations c,
  // c + chunks, ... in order instead: a static assignment, so each chunk's
  // private capture gradients are deterministic.
  const int64_t bc = cfg.keyTile, chunks = cfg.captureChunks;
  const bool chunked = !op.getCaptures().empty();
  Value hkv = k.idx(dims.hkv), parts = k.idx(cfg.queryParts);
  Value total = k.mul(k.mul(batch, hkv), parts);
  SmallVector<Value> ubs = {batch, hkv, parts};
  if (chunked)
    ubs = {k.idx(chunks)};
  parallelLoop(k, ubs, [&](ValueRange ivs) {
    Scratch sc = allocateScratch();
    Value dK = k.stackBuffer({bc, dims.d}), dV = k.stackBuffer({bc, dims.dv});
    auto walk = [&](Value bi, Value hk, Value part, Value chunk) {
      transposeQueryTiles(bi, hk, part);
      k.loop(k.idx(0), numKT, 1, [&](Value kt) {
        visitKeyTile(bi, hk, part, kt, sc, dK, dV, chunk);
      });
    };
    if (!chunked) {
      walk(ivs[0], ivs[1], ivs[2], Value());
      return;
    }
    k.loop(ivs[0], total, chunks, [&](Value n) {
      Value rest = divU(n, parts);
      walk(divU(rest, hkv), remU(rest, hkv), remU(n, parts), ivs[0]);
    });
  });
}

void GradKernel::transposeQueryTiles(Value bi, Value hk, Value part) {
  // Q^T (scaled) and dO^T of the query tiles qt = part (mod parts) of the
  // group's heads, tile qt at slot qt / parts; padding rows are 0.
  const int64_t group = dims.hq / dims.hkv, br = cfg.queryTile;
  const int64_t parts = cfg.queryParts, dyn = ShapedType::kDynamic;
  Value tiles = divU(k.add(numQT, k.sub(k.idx(parts - 1), part)), k.idx(parts));
  auto alloc = [&](int64_t depth) {
    return memref::AllocOp::create(
        rw, loc, MemRefType::get({group, dyn, depth, br}, rw.getF32Type()),
        ValueRange{tiles});
  };
  qT = alloc(dims.d);
  dOutT = alloc(dims.dv);
  k.loop(k.idx(0), k.idx(group), 1, [&](Value g) {
    Value hi = k.add(k.mul(hk, k.idx(group)), g);
    k.loop(k.idx(0), tiles, 1, [&](Value slot) {
      Value i0 = k.mul(k.add(part, k.mul(slot, k.idx(parts))), k.idx(br));
      Value rows = k.minI(k.idx(br), k.sub(sq, i0));
      transposeTile(bi, hi, i0, rows, {g, slot});
    });
  });
}

void GradKernel::transposeTile(Value bi, Value hi, Value i0, Value rows,
                               ValueRange at) {
  // qT[at..., d, r] = scale * Q[i0 + r, d] and dOutT[at..., e, r] =
  // dO[i0 + r, e] in f32; padding rows r >= rows are 0.
  Value scale = k.f32(op.getEffectiveScale()), zero = k.f32(0.0);
  auto index = [&](Value x, Value r) {
    SmallVector<Value> ivs(at);
    ivs.append({x, r});
    return ivs;
  };
  k.loop(k.idx(0), rows, 1, [&](Value r) {
    Value i = k.add(i0, r);
    k.loop(k.idx(0), k.idx(dims.d), 1, [&](Value dd) {
      Value x = k.toF32(k.load(q, {bi, hi, i, dd}));
      k.store(k.fmul(x, scale), qT, index(dd, r));
    });
    k.loop(k.idx(0), k.idx(dims.dv), 1, [&](Value e) {
      k.store(k.toF32(k.load(dOut, {bi, hi, i, e})), dOutT, index(e, r));
    });
  });
  k.loop(rows, k.idx(cfg.queryTile), 1, [&](Value r) {
    k.loop(k.idx(0), k.idx(dims.d), 1,
           [&](Value dd) { k.store(zero, qT, index(dd, r)); });
    k.loop(k.idx(0), k.idx(dims.dv), 1,
           [&](Value e) { k.store(zero, dOutT, index(e, r)); });
  });
}

void GradKernel::visitKeyTile(Value bi, Value hk, Value part, Value kt,
                              Scratch &sc, Value dK, Value dV, Value chunk) {
  const int64_t bc = cfg.keyTile, group = dims.hq / dims.hkv;
  Value j0 = k.mul(kt, k.idx(bc));
  Value cols = k.minI(k.idx(bc), k.sub(skv, j0));
  Value jLast = k.sub(k.add(j0, cols), k.idx(1));
  zeroRows(dK, bc, dims.d, cfg.dotWidth);
  zeroRows(dV, bc, dims.dv, cfg.outWidth);
  Value parts = k.idx(cfg.queryParts);
  k.loop(k.idx(0), k.idx(group), 1, [&](Value g) {
    Value hi = k.add(k.mul(hk, k.idx(group)), g);
    if (useLists) {
      visitListedQueryTiles(bi, hi, part, kt, sc, j0, cols, dK, dV, chunk);
      return;
    }
    auto [qtLo, qtHi] = queryTileRange(bi, hi, j0, jLast);
    // The part's first tile at or after qtLo.
    Value first = part;
    if (getConstantIntValue(qtLo) != 0)
      first = k.add(qtLo,
                    remU(k.sub(k.add(part, parts), remU(qtLo, parts)), parts));
    k.loop(first, qtHi, cfg.queryParts, [&](Value qt) {
      RowTile t = rowTile(bi, hi, qt);
      visitPair(t, sc, j0, cols, jLast, dK, dV, chunk);
    });
  });
  storeKeyTile(bi, hk, part, j0, cols, dK, dV);
}

std::pair<Value, Value> GradKernel::queryTileRange(Value bi, Value hi, Value j0,
                                                   Value jLast) {
  // The transposed relation of the forward's key range: the query tiles
  // outside [lo, hi) are proven empty for keys [j0, jLast] as blocks of
  // rows -- all rows before tile lo, all rows from tile hi on.
  if (analysis.isTrivial())
    return {k.idx(0), numQT};
  auto emptyRows = [&](Value iLo, Value iEnd) {
    Value iHi = k.sub(iEnd, k.idx(1));
    QueryTile rows{bi, hi, iLo, iHi, k.add(iLo, offset), k.add(iHi, offset)};
    return analysis.classify(rw, loc, rows, j0, jLast).empty;
  };
  Value br = k.idx(cfg.queryTile);
  Value lo =
      searchProvenBound(k, k.idx(0), numQT, /*fromBelow=*/true, [&](Value n) {
        return emptyRows(k.idx(0), k.minI(k.mul(n, br), sq));
      });
  Value hiTile =
      searchProvenBound(k, lo, numQT, /*fromBelow=*/false,
                        [&](Value n) { return emptyRows(k.mul(n, br), sq); });
  return {lo, hiTile};
}

void GradKernel::visitListedQueryTiles(Value bi, Value hi, Value part, Value kt,
                                       Scratch &sc, Value j0, Value cols,
                                       Value dK, Value dV, Value chunk) {
  // The run-time list of head hi's query tiles that key tile kt may see,
  // ascending; the part takes its own (qt = part mod parts).
  auto toIdx = [&](Value v) -> Value {
    return arith::IndexCastOp::create(rw, loc, rw.getIndexType(), v);
  };
  Value count = toIdx(k.load(lists.counts, {bi, hi, kt}));
  k.loop(k.idx(0), count, 1, [&](Value n) {
    Value entry = toIdx(k.load(lists.tiles, {bi, hi, kt, n}));
    Value qt = decodeKeyTile(k, entry), state = decodeKeyTileState(k, entry);
    auto is = [&](KeyTileState s) {
      return arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, state,
                                   k.idx((int64_t)s));
    };
    auto visit = [&]() {
      RowTile t = rowTile(bi, hi, qt);
      accumulatePair(t, sc, j0, cols, is(KeyTileState::Full),
                     is(KeyTileState::StaticPartial), dK, dV, chunk);
    };
    if (cfg.queryParts == 1) {
      visit();
      return;
    }
    k.ifThen(arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq,
                                   remU(qt, k.idx(cfg.queryParts)), part),
             visit);
  });
}

void GradKernel::visitPair(RowTile &t, Scratch &sc, Value j0, Value cols,
                           Value jLast, Value dK, Value dV, Value chunk) {
  TileClass cls = analysis.classify(rw, loc, t.tile, j0, jLast);
  k.ifThen(notI(cls.empty), [&]() {
    accumulatePair(t, sc, j0, cols, cls.full, Value(), dK, dV, chunk);
  });
}

void GradKernel::accumulatePair(RowTile &t, Scratch &sc, Value j0, Value cols,
                                Value full, Value staticOnly, Value dK,
                                Value dV, Value chunk) {
  processPair(t, sc, j0, cols, full, staticOnly, chunk);
  auto stackRow = [&](Value p) -> SmallVector<Value> { return {p}; };
  accumulateProducts(t, sc, j0, cols, dK, stackRow, dV, stackRow, dQAcc,
                     [&](Value r) -> SmallVector<Value> {
                       return {t.bi, t.hi, k.add(t.i0, r)};
                     });
}

void GradKernel::accumulateProducts(RowTile &t, Scratch &sc, Value j0,
                                    Value cols, Value dK, RowIndex dKRow,
                                    Value dV, RowIndex dVRow, Value dQ,
                                    RowIndex dQRow) {
  // Rows of Q, dO (query tile) and K (key tile) as vectors of `width`.
  auto rowsOf = [&](Value buffer, Value head, Value first, int64_t width) {
    auto type = VectorType::get({width}, eltOf(buffer));
    return [&, buffer, head, first, type](Value x, int64_t e) {
      return k.toF32(k.vload(
          type, buffer,
          {t.bi, head, k.add(first, x), k.idx(e * type.getNumElements())}));
    };
  };
  auto weightsOf = [&](Value buffer, bool transposed) {
    return [&, buffer, transposed](Value x, Value p) {
      return transposed ? k.load(buffer, {x, p}) : k.load(buffer, {p, x});
    };
  };
  const int64_t dw = cfg.dotWidth, ow = cfg.outWidth;
  // dV += P^T dO and dK += dS^T Q over the tile's rows.
  accumulateOuter(dV, dVRow, cols, cfg.keysPerValueBlock, t.rows, ow,
                  dims.dv / ow, rowsOf(dOut, t.hi, t.i0, ow),
                  weightsOf(sc.p, false));
  accumulateOuter(dK, dKRow, cols, cfg.keysPerKeyBlock, t.rows, dw, dims.d / dw,
                  rowsOf(q, t.hi, t.i0, dw), weightsOf(sc.ds, false));
  // dQ += dS K over the tile's keys.
  accumulateOuter(dQ, dQRow, t.rows, cfg.rowsPerQueryBlock, cols, dw,
                  dims.d / dw, rowsOf(key, t.hk, j0, dw),
                  weightsOf(sc.ds, true));
}

void GradKernel::storeKeyTile(Value bi, Value hk, Value part, Value j0,
                              Value cols, Value dK, Value dV) {
  // One part: the gradients; several: this part's share, summed later.
  auto fromStack = [&](Value acc, int64_t width) {
    return [&, acc, width](Value c, Value e) {
      return k.vload(vecF32(width), acc, {c, e});
    };
  };
  const int64_t dw = cfg.dotWidth, ow = cfg.outWidth;
  if (cfg.queryParts == 1) {
    auto keyRow = [&](Value c) -> SmallVector<Value> {
      return {bi, hk, k.add(j0, c)};
    };
    storeRows(cols, dims.d, dw, op.getEffectiveScale(), dk, keyRow,
              fromStack(dK, dw));
    storeRows(cols, dims.dv, ow, 1.0, dv, keyRow, fromStack(dV, ow));
    return;
  }
  auto partRow = [&](Value c) -> SmallVector<Value> {
    return {part, bi, hk, k.add(j0, c)};
  };
  storeRows(cols, dims.d, dw, 1.0, dKParts, partRow, fromStack(dK, dw));
  storeRows(cols, dims.dv, ow, 1.0, dVParts, partRow, fromStack(dV, ow));
}

void GradKernel::finishGradients() {
  // dQ from its f32 accumulator; with several parts, dK and dV as the sum
  // of the parts' shares in part order.
  const int64_t dw = cfg.dotWidth, ow = cfg.outWidth;
  const double scale = op.getEffectiveScale();
  parallelLoop(k, {batch, k.idx(dims.hq), numQT}, [&](ValueRange ivs) {
    RowTile t = rowTile(ivs[0], ivs[1], ivs[2]);
    auto row = [&](Value r) -> SmallVector<Value> {
      return {t.bi, t.hi, k.add(t.i0, r)};
    };
    storeRows(t.rows, dims.d, dw, scale, dq, row, [&](Value r, Value e) {
      SmallVector<Value> at = row(r);
      at.push_back(e);
      return k.vload(vecF32(dw), dQAcc, at);
    });
  });
  if (cfg.queryParts == 1)
    return;
  parallelLoop(k, {batch, k.idx(dims.hkv), numKT}, [&](ValueRange ivs) {
    Value j0 = k.mul(ivs[2], k.idx(cfg.keyTile));
    Value cols = k.minI(k.idx(cfg.keyTile), k.sub(skv, j0));
    auto keyRow = [&](Value c) -> SmallVector<Value> {
      return {ivs[0], ivs[1], k.add(j0, c)};
    };
    auto sumParts = [&](Value parts, int64_t width) {
      return [&, parts, width](Value c, Value e) {
        Value total = k.splat(vecF32(width), 0.0);
        for (int64_t p = 0; p < cfg.queryParts; ++p)
          total = k.fadd(total,
                         k.vload(vecF32(width), parts,
                                 {k.idx(p), ivs[0], ivs[1], k.add(j0, c), e}));
        return total;
      };
    };
    storeRows(cols, dims.d, dw, scale, dk, keyRow, sumParts(dKParts, dw));
    storeRows(cols, dims.dv, ow, 1.0, dv, keyRow, sumParts(dVParts, ow));
  });
}

//===----------------------------------------------------------------------===//
// The row-tile pass
//===----------------------------------------------------------------------===//
//
// When the backward recomputes its softmax forward, each query tile can
// produce its own statistics: a first sweep over its visible key tiles
// computes S^T and dP^T, keeps them, and runs the online softmax with
// Σ e^{s-m} dP next to the sum, which gives lse and Δ = Σ P ∘ dP (= dO · O)
// without O; a second sweep turns the kept e^{s - m_j} into P by one
// factor e^{m_j - lse} per row and key tile (no exponential per score) and
// accumulates dV, dK (per K/V head, in place) and dQ (per tile, on the
// stack). Five products per pair instead of the forward's two and the key
// tiles' five, one exponential per score instead of two. Parallel over
// (batch, K/V head): each iteration owns its dK and dV rows, so there are
// no shares to sum.

bool GradKernel::useRowTiles() {
  return forward && op.getKind() == AggregationKind::softmax &&
         cfg.queryParts == 1 && op.getCaptures().empty() && !useLists;
}

void GradKernel::rowTilePass() {
  const int64_t br = cfg.queryTile, bc = cfg.keyTile;
  const int64_t group = dims.hq / dims.hkv, dyn = ShapedType::kDynamic;
  parallelLoop(k, {batch, k.idx(dims.hkv)}, [&](ValueRange ivs) {
    Value bi = ivs[0], hk = ivs[1];
    RowScratch rs;
    // dK and dV accumulate unscaled in f32: in the results themselves when
    // they are f32, else in [1, 1, Skv, D|Dv] buffers of the iteration.
    auto accumulator = [&](Value result, int64_t depth, int64_t width,
                           Value &acc, SmallVector<Value> &at) {
      acc = result;
      at = {bi, hk};
      if (!eltOf(result).isF32()) {
        acc = memref::AllocOp::create(
            rw, loc, MemRefType::get({1, 1, dyn, depth}, rw.getF32Type()),
            ValueRange{skv});
        at = {k.idx(0), k.idx(0)};
      }
      Value zero = k.splat(vecF32(width), 0.0);
      k.loop(k.idx(0), skv, 1, [&](Value j) {
        k.loop(k.idx(0), k.idx(depth), width, [&](Value e) {
          k.vstore(zero, acc, {at[0], at[1], j, e});
        });
      });
    };
    accumulator(dk, dims.d, cfg.dotWidth, rs.dK, rs.dKAt);
    accumulator(dv, dims.dv, cfg.outWidth, rs.dV, rs.dVAt);
    auto slots = [&](Value rows) -> Value {
      return memref::AllocOp::create(
          rw, loc, MemRefType::get({dyn, br}, rw.getF32Type()),
          ValueRange{rows});
    };
    Value keysPad = k.mul(numKT, k.idx(bc));
    rs.s = slots(keysPad);
    rs.p = hasScoreMod() ? slots(keysPad) : rs.s;
    rs.ds = slots(keysPad);
    rs.maxAt = slots(numKT);
    for (Value *buffer : {&rs.m, &rs.l, &rs.a, &rs.lse, &rs.delta})
      *buffer = k.stackBuffer({br});
    if (analysis.hasRowIntervals()) {
      auto idxBufTy = MemRefType::get({br}, rw.getIndexType());
      rs.lo = memref::AllocaOp::create(rw, loc, idxBufTy);
      rs.hi = memref::AllocaOp::create(rw, loc, idxBufTy);
    }
    rs.dQ = k.stackBuffer({br, dims.d});
    qT = k.stackBuffer({dims.d, br});
    dOutT = k.stackBuffer({dims.dv, br});
    k.loop(k.idx(0), k.idx(group), 1, [&](Value g) {
      Value hi = k.add(k.mul(hk, k.idx(group)), g);
      k.loop(k.idx(0), numQT, 1, [&](Value qt) {
        RowTile t = rowTile(bi, hi, qt);
        visitRowTile(t, rs);
      });
    });
    // The results: dK scaled, dV as accumulated, in their element types.
    auto keyRow = [&](Value j) -> SmallVector<Value> { return {bi, hk, j}; };
    auto from = [&](Value acc, ArrayRef<Value> at, int64_t width) {
      return [&, acc, at, width](Value j, Value e) {
        return k.vload(vecF32(width), acc, {at[0], at[1], j, e});
      };
    };
    storeRows(skv, dims.d, cfg.dotWidth, op.getEffectiveScale(), dk, keyRow,
              from(rs.dK, rs.dKAt, cfg.dotWidth));
    if (rs.dV != dv)
      storeRows(skv, dims.dv, cfg.outWidth, 1.0, dv, keyRow,
                from(rs.dV, rs.dVAt, cfg.outWidth));
  });
}

void GradKernel::visitRowTile(RowTile &t, RowScratch &rs) {
  const int64_t br = cfg.queryTile, vw = cfg.vectorWidth;
  transposeTile(t.bi, t.hi, t.i0, t.rows, {});
  VectorType vecS = vecF32(vw);
  for (int64_t rv = 0; rv < cfg.numRowVectors(); ++rv) {
    Value r = k.idx(rv * vw);
    k.vstore(k.splat(vecS, -INFINITY), rs.m, {r});
    k.vstore(k.splat(vecS, 0.0), rs.l, {r});
    k.vstore(k.splat(vecS, 0.0), rs.a, {r});
  }
  // Statistics: S^T, dP^T and the online softmax over the visible tiles.
  forEachVisibleKeyTile(t, [&](Value j0, Value cols, Value full) {
    Scratch sc = slotOf(rs, j0);
    transposedProducts(t, sc.s, key, qT, dims.d, j0, cols);
    transposedProducts(t, sc.ds, v, dOutT, dims.dv, j0, cols);
    if (hasScoreMod())
      applyScoreMod(t, sc, j0, cols);
    applyMask(t, sc, j0, cols, full, Value());
    updateRowStatistics(rs, sc, j0, cols);
  });
  finishRowStatistics(t, rs);
  // Gradients over the same tiles.
  zeroRows(rs.dQ, br, dims.d, cfg.dotWidth);
  forEachVisibleKeyTile(t, [&](Value j0, Value cols, Value) {
    Scratch sc = slotOf(rs, j0);
    rowWeights(rs, sc, j0, cols);
    if (hasScoreMod())
      chainScoreMod(t, sc, j0, cols, Value());
    auto keyRowOf = [&](ArrayRef<Value> at) {
      return [&, at](Value c) -> SmallVector<Value> {
        return {at[0], at[1], k.add(j0, c)};
      };
    };
    accumulateProducts(t, sc, j0, cols, rs.dK, keyRowOf(rs.dKAt), rs.dV,
                       keyRowOf(rs.dVAt), rs.dQ,
                       [&](Value r) -> SmallVector<Value> { return {r}; });
  });
  storeRows(
      t.rows, dims.d, cfg.dotWidth, op.getEffectiveScale(), dq,
      [&](Value r) -> SmallVector<Value> {
        return {t.bi, t.hi, k.add(t.i0, r)};
      },
      [&](Value r, Value e) {
        return k.vload(vecF32(cfg.dotWidth), rs.dQ, {r, e});
      });
}

void GradKernel::forEachVisibleKeyTile(
    RowTile &t, function_ref<void(Value, Value, Value)> body) {
  // The forward's walk: the key range of the analysis, aligned to tiles,
  // each tile classified (empty: skipped; full: unmasked).
  auto [jLo, jHi] = analysis.keyRange(rw, loc, t.tile, skv);
  Value bc = k.idx(cfg.keyTile);
  Value jStart = k.mul(divU(jLo, bc), bc);
  k.loop(jStart, jHi, cfg.keyTile, [&](Value j0) {
    Value cols = k.minI(bc, k.sub(skv, j0));
    Value jLast = k.sub(k.add(j0, cols), k.idx(1));
    TileClass cls = analysis.classify(rw, loc, t.tile, j0, jLast);
    k.ifThen(notI(cls.empty), [&]() { body(j0, cols, cls.full); });
  });
}

Scratch GradKernel::slotOf(RowScratch &rs, Value j0) {
  // Key tile j0 / Bc's rows [j0, j0 + Bc) of the [NKT * Bc, Br] buffers.
  const int64_t br = cfg.queryTile, bc = cfg.keyTile;
  auto view = [&](Value buffer) -> Value {
    SmallVector<OpFoldResult> offsets = {j0, rw.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {rw.getIndexAttr(bc),
                                       rw.getIndexAttr(br)};
    SmallVector<OpFoldResult> strides = {rw.getIndexAttr(1),
                                         rw.getIndexAttr(1)};
    return memref::SubViewOp::create(rw, loc, buffer, offsets, sizes, strides);
  };
  Scratch sc;
  sc.s = view(rs.s);
  sc.p = rs.p == rs.s ? sc.s : view(rs.p);
  sc.ds = view(rs.ds);
  sc.lo = rs.lo;
  sc.hi = rs.hi;
  return sc;
}

void GradKernel::updateRowStatistics(RowScratch &rs, Scratch &sc, Value j0,
                                     Value cols) {
  // The online softmax over S'^T (in sc.p), each score replaced by
  // e^{s - m_j} with m_j the running max after this tile, kept per row;
  // a gathers Σ e^{s - m} dP alongside l.
  const int64_t vw = cfg.vectorWidth, n = cfg.numRowVectors();
  VectorType vecS = vecF32(vw);
  Value zeroIdx = k.idx(0);
  auto rowVec = [&](int64_t rv) { return k.idx(rv * vw); };
  SmallVector<Value> mx = k.reduceMany(
      zeroIdx, cols, 1, SmallVector<Value>(n, k.splat(vecS, -INFINITY)),
      [&](Value c, ValueRange acc) {
        SmallVector<Value> next;
        for (int64_t rv = 0; rv < n; ++rv)
          next.push_back(k.fmax(acc[rv], k.vload(vecS, sc.p, {c, rowVec(rv)})));
        return next;
      });
  Value kt = divU(j0, k.idx(cfg.keyTile));
  SmallVector<OnlineSoftmax::Step> steps;
  for (int64_t rv = 0; rv < n; ++rv) {
    steps.push_back(os.rescale(k.vload(vecS, rs.m, {rowVec(rv)}), mx[rv]));
    k.vstore(steps.back().max, rs.m, {rowVec(rv)});
    k.vstore(steps.back().max, rs.maxAt, {kt, rowVec(rv)});
  }
  SmallVector<Value> sums = k.reduceMany(
      zeroIdx, cols, 1, SmallVector<Value>(2 * n, k.splat(vecS, 0.0)),
      [&](Value c, ValueRange acc) {
        SmallVector<Value> next(2 * n);
        for (int64_t rv = 0; rv < n; ++rv) {
          Value w = os.weight(k.vload(vecS, sc.p, {c, rowVec(rv)}),
                              steps[rv].safeMax);
          k.vstore(w, sc.p, {c, rowVec(rv)});
          next[rv] = k.fadd(acc[rv], w);
          next[n + rv] =
              k.fma(w, k.vload(vecS, sc.ds, {c, rowVec(rv)}), acc[n + rv]);
        }
        return next;
      });
  for (int64_t rv = 0; rv < n; ++rv) {
    Value alpha = steps[rv].alpha;
    k.vstore(os.sum(alpha, k.vload(vecS, rs.l, {rowVec(rv)}), sums[rv]), rs.l,
             {rowVec(rv)});
    k.vstore(os.sum(alpha, k.vload(vecS, rs.a, {rowVec(rv)}), sums[n + rv]),
             rs.a, {rowVec(rv)});
  }
}

void GradKernel::finishRowStatistics(RowTile &t, RowScratch &rs) {
  // lse with the sink, and Δ = Σ P ∘ dP - dlse (0 where lse = -inf); padding
  // rows: -inf and 0.
  Value sink = sinks ? k.load(sinks, t.hi) : Value();
  k.loop(k.idx(0), t.rows, 1, [&](Value r) {
    Value i = k.add(t.i0, r);
    auto [factor, lse] = os.finish(k.load(rs.m, r), k.load(rs.l, r), sink);
    Value d = k.fmul(k.load(rs.a, r), factor);
    if (dLse)
      d = k.fsub(d, k.load(dLse, {t.bi, t.hi, i}));
    d = k.select(k.feq(lse, k.negInf()), k.f32(0.0), d);
    k.store(lse, rs.lse, r);
    k.store(d, rs.delta, r);
    if (sinks) {
      k.store(lse, lsePad, {t.bi, t.hi, i});
      k.store(d, delta, {t.bi, t.hi, i});
    }
  });
  k.loop(t.rows, k.idx(cfg.queryTile), 1, [&](Value r) {
    k.store(k.negInf(), rs.lse, r);
    k.store(k.f32(0.0), rs.delta, r);
  });
}

void GradKernel::rowWeights(RowScratch &rs, Scratch &sc, Value j0, Value cols) {
  // P = e^{s - m_j} e^{m_j - lse} and dS' = P ∘ (dP - Δ); a row that had
  // seen no key by tile j (m_j = -inf) has only zeros there.
  const int64_t vw = cfg.vectorWidth, n = cfg.numRowVectors();
  VectorType vecS = vecF32(vw);
  Value ninf = k.splat(vecS, -INFINITY), zero = k.splat(vecS, 0.0);
  Value kt = divU(j0, k.idx(cfg.keyTile));
  SmallVector<Value> factors, deltas;
  for (int64_t rv = 0; rv < n; ++rv) {
    Value r = k.idx(rv * vw);
    Value lse = k.vload(vecS, rs.lse, {r});
    Value m = k.vload(vecS, rs.maxAt, {kt, r});
    Value none =
        arith::OrIOp::create(rw, loc, k.feq(m, ninf), k.feq(lse, ninf));
    factors.push_back(k.select(none, zero, k.exp(k.fsub(m, lse))));
    deltas.push_back(k.vload(vecS, rs.delta, {r}));
  }
  k.loop(k.idx(0), cols, 1, [&](Value c) {
    for (int64_t rv = 0; rv < n; ++rv) {
      Value r = k.idx(rv * vw);
      Value p = k.fmul(k.vload(vecS, sc.p, {c, r}), factors[rv]);
      Value dp = k.vload(vecS, sc.ds, {c, r});
      k.vstore(p, sc.p, {c, r});
      k.vstore(k.fmul(p, k.fsub(dp, deltas[rv])), sc.ds, {c, r});
    }
  });
}

//===----------------------------------------------------------------------===//
// One (query tile, key tile) pair
//===----------------------------------------------------------------------===//

void GradKernel::processPair(RowTile &t, Scratch &sc, Value j0, Value cols,
                             Value full, Value staticOnly, Value chunk) {
  transposedProducts(t, sc.s, key, qT, dims.d, j0, cols);
  transposedProducts(t, sc.ds, v, dOutT, dims.dv, j0, cols);
  if (hasScoreMod())
    applyScoreMod(t, sc, j0, cols);
  applyMask(t, sc, j0, cols, full, staticOnly);
  computeWeights(t, sc, cols);
  if (hasScoreMod())
    chainScoreMod(t, sc, j0, cols, chunk);
}

void GradKernel::transposedProducts(RowTile &t, Value out, Value keyRows,
                                    Value lanes, int64_t depth, Value j0,
                                    Value cols) {
  // out[c, r] = Σ_x keyRows[j0 + c, x] lanes[x, i0 + r] for the live keys,
  // in blocks of keyBlock keys x rowVectorBlock row vectors: each step
  // broadcasts keyBlock elements of K (or V) and loads the row vectors.
  const int64_t vw = cfg.vectorWidth, rowBlock = cfg.rowVectorBlock;
  VectorType vecS = vecF32(vw);
  Value zeroIdx = k.idx(0);
  forBlocks(k, cols, cfg.keyBlock, [&](Value c0, int64_t keys) {
    SmallVector<Value> keyIdx;
    for (int64_t kk = 0; kk < keys; ++kk)
      keyIdx.push_back(k.add(j0, k.add(c0, k.idx(kk))));
    k.loop(zeroIdx, k.idx(cfg.numRowVectors()), rowBlock, [&](Value rv0) {
      Value r0 = k.mul(rv0, k.idx(vw));
      SmallVector<Value> inits(keys * rowBlock, k.splat(vecS, 0.0));
      SmallVector<Value> accs = blockedOuterProducts(
          k, zeroIdx, k.idx(depth), keys, rowBlock, vecS, inits,
          [&](Value x, int64_t rv) {
            Value r = k.add(r0, k.idx(rv * vw));
            SmallVector<Value> at(t.lanePrefix);
            at.append({x, r});
            return k.vload(vecS, lanes, at);
          },
          [&](Value x, int64_t kk) {
            return k.toF32(k.load(keyRows, {t.bi, t.hk, keyIdx[kk], x}));
          });
      for (int64_t kk = 0; kk < keys; ++kk)
        for (int64_t rv = 0; rv < rowBlock; ++rv)
          k.vstore(accs[kk * rowBlock + rv], out,
                   {k.add(c0, k.idx(kk)), k.add(r0, k.idx(rv * vw))});
    });
  });
}

void GradKernel::applyScoreMod(RowTile &t, Scratch &sc, Value j0, Value cols) {
  k.loop(k.idx(0), t.rows, 1, [&](Value r) {
    k.loop(k.idx(0), cols, 1, [&](Value c) {
      Value x = k.load(sc.s, {c, r});
      auto [i, j] = regionIndices(k.add(t.i0, r), k.add(j0, c));
      Value y = inlineRegion(rw, op.getScoreMod(), {x, t.bi, t.hi, i, j});
      k.store(y, sc.p, {c, r});
    });
  });
}

void GradKernel::applyMask(RowTile &t, Scratch &sc, Value j0, Value cols,
                           Value full, Value staticOnly) {
  if (analysis.isTrivial() && !useLists)
    return;
  k.ifThen(notI(full), [&]() {
    if (!analysis.hasRowIntervals()) {
      maskPerElement(t, sc, j0, cols);
      return;
    }
    // With query-tile lists the intervals (the other patterns) are the
    // whole mask only where the tile-level patterns keep the pair.
    if (!useLists) {
      maskLaneIntervals(t, sc, j0, cols);
      return;
    }
    k.ifThenElse(
        staticOnly, [&]() { maskLaneIntervals(t, sc, j0, cols); },
        [&]() { maskPerElement(t, sc, j0, cols); });
  });
}

void GradKernel::maskLaneIntervals(RowTile &t, Scratch &sc, Value j0,
                                   Value cols) {
  // Each row sees keys [lo, hi): keep = lo[r] <= j < hi[r], a vector of
  // rows per key (padding rows see nothing).
  Value zeroIdx = k.idx(0);
  k.loop(zeroIdx, t.rows, 1, [&](Value r) {
    Value aligned = k.add(k.add(t.i0, r), offset);
    auto [keyLo, keyHi] = analysis.rowInterval(rw, loc, aligned, t.hi);
    k.store(keyLo, sc.lo, r);
    k.store(keyHi, sc.hi, r);
  });
  k.loop(t.rows, k.idx(cfg.queryTile), 1, [&](Value r) {
    k.store(zeroIdx, sc.lo, r);
    k.store(zeroIdx, sc.hi, r);
  });
  const int64_t vw = cfg.vectorWidth;
  auto laneIdxTy = VectorType::get({vw}, rw.getIndexType());
  Value ninfV = k.splat(vecF32(vw), -INFINITY);
  k.loop(zeroIdx, cols, 1, [&](Value c) {
    Value jv = k.bcast(laneIdxTy, k.add(j0, c));
    for (int64_t rv = 0; rv < cfg.numRowVectors(); ++rv) {
      Value r = k.idx(rv * vw);
      Value keep = arith::AndIOp::create(
          rw, loc,
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::sge, jv,
                                k.vload(laneIdxTy, sc.lo, {r})),
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::slt, jv,
                                k.vload(laneIdxTy, sc.hi, {r})));
      Value s = k.vload(vecF32(vw), sc.p, {c, r});
      k.vstore(k.select(keep, s, ninfV), sc.p, {c, r});
    }
  });
}

void GradKernel::maskPerElement(RowTile &t, Scratch &sc, Value j0, Value cols) {
  Value ninf = k.negInf();
  k.loop(k.idx(0), t.rows, 1, [&](Value r) {
    k.loop(k.idx(0), cols, 1, [&](Value c) {
      MaskPredicateBuilder pb(rw, loc, sq, skv);
      pb.setPositions(op.getPositions());
      pb.setIndices(t.bi, t.hi, k.add(t.i0, r), k.add(j0, c));
      Value keep = pb.buildAll(op.getPatterns(), op.getMaskOperands(),
                               op.getPredicate());
      k.store(k.select(keep, k.load(sc.p, {c, r}), ninf), sc.p, {c, r});
    });
  });
}

void GradKernel::computeWeights(RowTile &t, Scratch &sc, Value cols) {
  // P and dS' from S' (-inf where masked) and dP, a vector of rows at a
  // time; a masked score (or a row with lse -inf) gives P = dS' = 0.
  const int64_t vw = cfg.vectorWidth;
  VectorType vecS = vecF32(vw);
  Value zero = k.splat(vecS, 0.0), one = k.splat(vecS, 1.0);
  Value ninf = k.splat(vecS, -INFINITY);
  auto live = [&](Value x) {
    return arith::CmpFOp::create(rw, loc, arith::CmpFPredicate::ONE, x, ninf);
  };
  SmallVector<Value> lseV, deltaV;
  if (kind() == AggregationKind::softmax)
    for (int64_t rv = 0; rv < cfg.numRowVectors(); ++rv) {
      Value r = k.add(t.i0, k.idx(rv * vw));
      lseV.push_back(k.vload(vecS, lsePad, {t.bi, t.hi, r}));
      deltaV.push_back(k.vload(vecS, delta, {t.bi, t.hi, r}));
    }
  k.loop(k.idx(0), cols, 1, [&](Value c) {
    for (int64_t rv = 0; rv < cfg.numRowVectors(); ++rv) {
      Value r = k.idx(rv * vw);
      Value s = k.vload(vecS, sc.p, {c, r});
      Value dp = k.vload(vecS, sc.ds, {c, r});
      Value keep = live(s), p, ds;
      switch (kind()) {
      case AggregationKind::softmax:
        keep = arith::AndIOp::create(rw, loc, keep, live(lseV[rv]));
        p = k.select(keep, k.exp(k.fsub(s, lseV[rv])), zero);
        ds = k.select(keep, k.fmul(p, k.fsub(dp, deltaV[rv])), zero);
        break;
      case AggregationKind::sigmoid:
        p = k.fdiv(one, k.fadd(one, k.exp(arith::NegFOp::create(rw, loc, s))));
        p = k.select(keep, p, zero);
        ds = k.fmul(dp, k.fmul(p, k.fsub(one, p)));
        break;
      case AggregationKind::none:
        p = k.select(keep, s, zero);
        ds = k.select(keep, dp, zero);
        break;
      case AggregationKind::entmax:
        llvm_unreachable("attn.attention_grad has no entmax (verifier)");
      }
      k.vstore(p, sc.p, {c, r});
      k.vstore(ds, sc.ds, {c, r});
    }
  });
}

void GradKernel::chainScoreMod(RowTile &t, Scratch &sc, Value j0, Value cols,
                               Value chunk) {
  // dS = dS' · ∂score_mod/∂x at the raw score; a zero dS' (masked) stays
  // exactly 0 whatever the region's derivative there.
  Block &body = op.getScoreMod().front();
  Value zero = k.f32(0.0);
  k.loop(k.idx(0), t.rows, 1, [&](Value r) {
    k.loop(k.idx(0), cols, 1, [&](Value c) {
      Value x = k.load(sc.s, {c, r});
      Value seed = k.load(sc.ds, {c, r});
      Value skip = k.feq(seed, zero);
      auto [i, j] = regionIndices(k.add(t.i0, r), k.add(j0, c));
      Value args[] = {x, t.bi, t.hi, i, j};
      FailureOr<SmallVector<Value>> adj = emitBlockAdjoint(
          rw, loc, body, args, {seed},
          [&](Value tensor, ValueRange indices, Value adjoint) {
            accumulateCapture(tensor, indices, adjoint, skip, chunk);
          });
      // The pattern checked that the region is differentiable.
      assert(succeeded(adj) && "score_mod has no adjoint");
      k.store(k.select(skip, zero, (*adj)[1]), sc.ds, {c, r});
    });
  });
}

void GradKernel::accumulateCapture(Value tensor, ValueRange indices,
                                   Value adjoint, Value skip, Value chunk) {
  // Only the query-tile pass (which has a chunk) collects them.
  if (!chunk)
    return;
  auto it = llvm::find(op.getCaptures(), tensor);
  if (it == op.getCaptures().end())
    return;
  Value part = captureParts[std::distance(op.getCaptures().begin(), it)];
  SmallVector<Value> ivs = {chunk};
  llvm::append_range(ivs, indices);
  Value g = k.select(skip, k.f32(0.0), k.toF32(adjoint));
  k.store(k.fadd(k.load(part, ivs), g), part, ivs);
}

//===----------------------------------------------------------------------===//
// Accumulators
//===----------------------------------------------------------------------===//

void GradKernel::accumulateOuter(Value acc, RowIndex accRow, Value count,
                                 int64_t perBlock, Value inner, int64_t width,
                                 int64_t numVectors,
                                 function_ref<Value(Value, int64_t)> row,
                                 function_ref<Value(Value, Value)> weight) {
  // acc[p, :] += Σ_{x < inner} weight(x, p) row(x) for p < count, in
  // register blocks of perBlock positions x all vectors of a row.
  VectorType vec = vecF32(width);
  auto at = [&](Value p, int64_t e) {
    SmallVector<Value> ivs = accRow(p);
    ivs.push_back(k.idx(e * width));
    return ivs;
  };
  forBlocks(k, count, perBlock, [&](Value p0, int64_t n) {
    SmallVector<Value> positions, inits;
    for (int64_t pp = 0; pp < n; ++pp)
      positions.push_back(k.add(p0, k.idx(pp)));
    for (Value p : positions)
      for (int64_t e = 0; e < numVectors; ++e)
        inits.push_back(k.vload(vec, acc, at(p, e)));
    SmallVector<Value> accs = blockedOuterProducts(
        k, k.idx(0), inner, n, numVectors, vec, inits, row,
        [&](Value x, int64_t pp) { return weight(x, positions[pp]); });
    for (int64_t pp = 0; pp < n; ++pp)
      for (int64_t e = 0; e < numVectors; ++e)
        k.vstore(accs[pp * numVectors + e], acc, at(positions[pp], e));
  });
}

void GradKernel::zeroRows(Value acc, int64_t rows, int64_t depth,
                          int64_t width) {
  Value zero = k.splat(vecF32(width), 0.0);
  k.loop(k.idx(0), k.idx(rows), 1, [&](Value r) {
    k.loop(k.idx(0), k.idx(depth), width, [&](Value e) {
      k.vstore(zero, acc, {r, e});
    });
  });
}

void GradKernel::storeRows(Value count, int64_t depth, int64_t width,
                           double scale, Value dest, RowIndex destRow,
                           function_ref<Value(Value, Value)> value) {
  // dest[destRow(r), :] = scale * value(r, :) in dest's element type.
  Value scaleV = k.bcast(vecF32(width), k.f32(scale));
  k.loop(k.idx(0), count, 1, [&](Value r) {
    k.loop(k.idx(0), k.idx(depth), width, [&](Value e) {
      Value x = value(r, e);
      if (scale != 1.0)
        x = k.fmul(x, scaleV);
      SmallVector<Value> ivs = destRow(r);
      ivs.push_back(e);
      k.vstore(k.fromF32(x, eltOf(dest)), dest, ivs);
    });
  });
}

//===----------------------------------------------------------------------===//
// Captured tensors
//===----------------------------------------------------------------------===//

void GradKernel::initCaptureParts() {
  for (Value capture : op.getCaptures()) {
    auto type = cast<RankedTensorType>(capture.getType());
    SmallVector<int64_t> shape = {cfg.captureChunks};
    llvm::append_range(shape, type.getShape());
    SmallVector<Value> dynSizes, sizes = {k.idx(cfg.captureChunks)};
    for (int64_t d = 0; d < type.getRank(); ++d) {
      sizes.push_back(k.dimOf(capture, d));
      if (type.isDynamicDim(d))
        dynSizes.push_back(sizes.back());
    }
    Value part = memref::AllocOp::create(
        rw, loc, MemRefType::get(shape, rw.getF32Type()), dynSizes);
    Value zero = k.f32(0.0);
    forEachIndex(k, sizes, [&](ValueRange ivs) { k.store(zero, part, ivs); });
    captureParts.push_back(part);
  }
}

SmallVector<Value> GradKernel::reduceCaptureParts() {
  // The chunks' gradients summed in chunk order, in parallel over the first
  // dimension of each capture.
  SmallVector<Value> results;
  for (auto it : llvm::zip(op.getCaptures(), captureParts)) {
    Value capture = std::get<0>(it), part = std::get<1>(it);
    auto type = cast<RankedTensorType>(capture.getType());
    SmallVector<Value> sizes;
    for (int64_t d = 0; d < type.getRank(); ++d)
      sizes.push_back(k.dimOf(capture, d));
    Value grad = k.allocLike(type, sizes);
    auto sumParts = [&](ValueRange ivs) {
      Value total = k.reduce(k.idx(0), k.idx(cfg.captureChunks), 1, k.f32(0.0),
                             [&](Value c, Value acc) {
                               SmallVector<Value> at = {c};
                               llvm::append_range(at, ivs);
                               return k.fadd(acc, k.load(part, at));
                             });
      k.store(k.fromF32(total, type.getElementType()), grad, ivs);
    };
    if (sizes.empty()) {
      sumParts({});
    } else {
      parallelLoop(k, {sizes.front()}, [&](ValueRange outer) {
        forEachIndex(k, ArrayRef<Value>(sizes).drop_front(),
                     [&](ValueRange inner) {
                       SmallVector<Value> ivs = {outer[0]};
                       llvm::append_range(ivs, inner);
                       sumParts(ivs);
                     });
      });
    }
    results.push_back(k.toTensor(type, grad));
  }
  return results;
}

} // namespace

FailureOr<SmallVector<Value>>
mlir::attn::tileAttentionGrad(RewriterBase &rw, AttentionGradOp op,
                              const TileOptions &options) {
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or head dimension");
  FailureOr<GradConfig> cfg = chooseGradConfig(op, *dims, options);
  if (failed(cfg))
    return rw.notifyMatchFailure(op, "invalid tile options");
  if (!op.getScoreMod().empty() &&
      failed(checkBlockDifferentiable(op.getScoreMod().front())))
    return failure();
  AttentionOp forward = recomputedForward(op);
  if (forward && op.getKind() == AggregationKind::softmax &&
      !canTileAttention(forward, options))
    forward = nullptr;
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  return GradKernel(rw, op, *cfg, *dims, forward, options).build();
}

AttentionOp mlir::attn::recomputedForward(AttentionGradOp op) {
  auto forward = op.getOutput().getDefiningOp<AttentionOp>();
  if (!forward || op.getLse() != forward.getLse() ||
      op.getPositions() != forward.getPositions())
    return nullptr;
  for (Operation *user : forward->getUsers())
    if (user != op.getOperation())
      return nullptr;
  return forward;
}
