//===- KeyTileLists.cpp - run-time key-tile lists of sparse masks ---------===//

#include "attn/Conversion/AttnToLoops/KeyTileLists.h"
#include "attn/Kernel/MaskPredicate.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::attn;

bool mlir::attn::isTileLevelPattern(Attribute p) {
  return isa<BlockMaskAttr, SegmentsAttr, RowsAttr>(p);
}

bool mlir::attn::hasTileLevelPatterns(AttentionOp op) {
  return llvm::any_of(op.getPatterns(), isTileLevelPattern);
}

ArrayAttr mlir::attn::nonTileLevelPatterns(AttentionOp op) {
  SmallVector<Attribute> kept;
  for (Attribute p : op.getPatterns())
    if (!isTileLevelPattern(p))
      kept.push_back(p);
  return ArrayAttr::get(op.getContext(), kept);
}

namespace {

/// i1 and i32 helpers on top of KernelBuilder.
struct ListEmitter {
  KernelBuilder &k;

  Value boolean(bool v) {
    return arith::ConstantOp::create(k.b, k.loc, k.b.getBoolAttr(v));
  }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(k.b, k.loc, k.b.getI32IntegerAttr(v));
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(k.b, k.loc, p, x, y);
  }
  Value andI(Value x, Value y) {
    return arith::AndIOp::create(k.b, k.loc, x, y);
  }
  Value orI(Value x, Value y) { return arith::OrIOp::create(k.b, k.loc, x, y); }
  Value notI(Value x) {
    return arith::XOrIOp::create(k.b, k.loc, x, boolean(true));
  }
  Value minS(Value x, Value y) {
    return arith::MinSIOp::create(k.b, k.loc, x, y);
  }
  Value maxS(Value x, Value y) {
    return arith::MaxSIOp::create(k.b, k.loc, x, y);
  }
  Value ceilDiv(Value x, int64_t d) {
    return arith::CeilDivUIOp::create(k.b, k.loc, x, k.idx(d));
  }
  Value div(Value x, int64_t d) {
    return arith::DivUIOp::create(k.b, k.loc, x, k.idx(d));
  }
  Value extract(Value t, ArrayRef<Value> ivs) {
    return tensor::ExtractOp::create(k.b, k.loc, t, ivs);
  }
  Value broadcastIndex(Value t, unsigned dim, Value i) {
    return attn::broadcastIndex(k.b, k.loc, t, dim, i);
  }
  Value segmentId(Value ids, Value bi, Value hi, Value pos) {
    return segmentIdAt(k.b, k.loc, ids, bi, hi, pos);
  }
  /// Writes into order[bi, h, 0..len) the positions 0..len-1 stably sorted
  /// by their segment id (h: `hi` where `order` has a head axis > 1, else
  /// 0); returns whether they were in order already (then the identity is
  /// written without sorting). An LSD radix sort on the 32 id bits, 8 at a
  /// time, ping-ponging with `scratch`.
  Value sortById(Value ids, Value bi, Value hi, Value order, Value scratch,
                 Value len) {
    OpBuilder &b = k.b;
    Location loc = k.loc;
    Type i32Type = b.getI32Type();
    bool perHead = cast<MemRefType>(order.getType()).getDimSize(1) > 1;
    Value h = perHead ? hi : k.idx(0);
    auto toI32 = [&](Value v) -> Value {
      return arith::IndexCastOp::create(b, loc, i32Type, v);
    };
    auto toIdx = [&](Value v) -> Value {
      return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
    };
    Value sorted =
        k.reduce(k.idx(1), arith::MaxUIOp::create(b, loc, len, k.idx(1)), 1,
                 boolean(true), [&](Value i, Value acc) {
                   Value prev = segmentId(ids, bi, hi, k.sub(i, k.idx(1)));
                   Value cur = segmentId(ids, bi, hi, i);
                   return andI(acc, cmp(arith::CmpIPredicate::sle, prev, cur));
                 });
    k.loop(k.idx(0), len, 1,
           [&](Value i) { k.store(toI32(i), order, {bi, h, i}); });
    k.ifThen(notI(sorted), [&]() {
      Value hist = memref::AllocaOp::create(
          b, loc, MemRefType::get({257}, b.getIndexType()));
      Value from = order, to = scratch;
      for (int pass = 0; pass < 4; ++pass) {
        // The pass's digit of an id, in the unsigned order of signed ids.
        auto digit = [&](Value pos) {
          Value id = segmentId(ids, bi, hi, pos);
          Value u = arith::XOrIOp::create(
              b, loc, id, i32(std::numeric_limits<int32_t>::min()));
          Value sh = arith::ShRUIOp::create(b, loc, u, i32(8 * pass));
          return toIdx(arith::AndIOp::create(b, loc, sh, i32(255)));
        };
        k.loop(k.idx(0), k.idx(257), 1,
               [&](Value d) { k.store(k.idx(0), hist, d); });
        k.loop(k.idx(0), len, 1, [&](Value t) {
          Value d = k.add(digit(toIdx(k.load(from, {bi, h, t}))), k.idx(1));
          k.store(k.add(k.load(hist, d), k.idx(1)), hist, d);
        });
        k.loop(k.idx(1), k.idx(257), 1, [&](Value d) {
          Value prev = k.load(hist, k.sub(d, k.idx(1)));
          k.store(k.add(k.load(hist, d), prev), hist, d);
        });
        k.loop(k.idx(0), len, 1, [&](Value t) {
          Value pos = k.load(from, {bi, h, t});
          Value d = digit(toIdx(pos));
          Value dst = k.load(hist, d);
          k.store(pos, to, {bi, h, dst});
          k.store(k.add(dst, k.idx(1)), hist, d);
        });
        std::swap(from, to);
      }
      // Four passes end where they began, in `order`.
    });
    return sorted;
  }

  /// scf.parallel over [0, ubs) with `body(ivs)`.
  void parallel(ArrayRef<Value> ubs, function_ref<void(ValueRange)> body) {
    SmallVector<Value> lbs(ubs.size(), k.idx(0)), steps(ubs.size(), k.idx(1));
    scf::ParallelOp::create(k.b, k.loc, lbs, ubs, steps,
                            [&](OpBuilder &nb, Location, ValueRange ivs) {
                              OpBuilder::InsertionGuard guard(k.b);
                              k.b.setInsertionPoint(nb.getInsertionBlock(),
                                                    nb.getInsertionPoint());
                              body(ivs);
                            });
  }
};

struct BlockMaskUse {
  int64_t blockQ, blockKv;
  Value mask;
};
struct SegmentsUse {
  Value queryIds, keyIds;
  /// Per key tile [min, max] of the key ids: memrefs [B, Hs, NKT] of i32.
  Value keyMin, keyMax;
};

} // namespace

KeyTileLists mlir::attn::buildKeyTileLists(KernelBuilder &k, AttentionOp op,
                                           const MaskAnalysis &analysis,
                                           int64_t br, int64_t bc, Value batch,
                                           int64_t hq, Value sq, Value skv) {
  ListEmitter e{k};
  OpBuilder &b = k.b;
  Location loc = k.loc;
  using P = arith::CmpIPredicate;
  Type i32 = b.getI32Type();

  SmallVector<BlockMaskUse> blockMasks;
  SmallVector<SegmentsUse> segments;
  SmallVector<Value> rowMasks;
  ValueRange operands = op.getMaskOperands();
  for (Attribute p : op.getPatterns()) {
    unsigned n = cast<MaskPatternAttrInterface>(p).getNumMaskOperands();
    if (auto bm = dyn_cast<BlockMaskAttr>(p))
      blockMasks.push_back({bm.getBlockQ(), bm.getBlockKv(), operands[0]});
    else if (isa<SegmentsAttr>(p))
      segments.push_back({operands[0], operands[1], Value(), Value()});
    else if (isa<RowsAttr>(p))
      rowMasks.push_back(operands[0]);
    operands = operands.drop_front(n);
  }

  Value numQTiles = e.ceilDiv(sq, br), numKTiles = e.ceilDiv(skv, bc);
  Value offset = k.sub(skv, sq);

  // Buckets in any order (one segments pattern alone): sort queries and
  // keys by id, so that each bucket is a contiguous run of tiles.
  KeyTileLists result;
  Value inOrder; // [B, Hs] i1: ids were sorted already (identity order)
  if (segments.size() == 1 && blockMasks.empty() && rowMasks.empty()) {
    SegmentsUse &seg = segments.front();
    result.orderPerHead =
        cast<RankedTensorType>(seg.keyIds.getType()).getRank() == 3;
    int64_t hs = result.orderPerHead ? hq : 1;
    auto orderType =
        MemRefType::get({ShapedType::kDynamic, hs, ShapedType::kDynamic}, i32);
    auto flagType = MemRefType::get({ShapedType::kDynamic, hs}, b.getI1Type());
    result.queryOrder =
        memref::AllocOp::create(b, loc, orderType, ValueRange{batch, sq});
    result.keyOrder =
        memref::AllocOp::create(b, loc, orderType, ValueRange{batch, skv});
    Value scratch = memref::AllocOp::create(
        b, loc, orderType,
        ValueRange{batch, arith::MaxUIOp::create(b, loc, sq, skv)});
    inOrder = memref::AllocOp::create(b, loc, flagType, ValueRange{batch});
    e.parallel({batch, k.idx(hs)}, [&](ValueRange ivs) {
      Value bi = ivs[0], hi = ivs[1];
      Value q =
          e.sortById(seg.queryIds, bi, hi, result.queryOrder, scratch, sq);
      Value kk = e.sortById(seg.keyIds, bi, hi, result.keyOrder, scratch, skv);
      k.store(e.andI(q, kk), inOrder, {bi, hi});
    });
  }
  // Rows computed or not (one #attn.rows alone): the live query rows of
  // each (batch, head) first, so that dead rows fill whole query tiles with
  // empty lists and are never computed. Keys keep their order.
  bool liveRowsFirst =
      rowMasks.size() == 1 && blockMasks.empty() && segments.empty();
  if (liveRowsFirst) {
    auto orderType =
        MemRefType::get({ShapedType::kDynamic, hq, ShapedType::kDynamic}, i32);
    result.orderPerHead = true;
    result.queryOrder =
        memref::AllocOp::create(b, loc, orderType, ValueRange{batch, sq});
    e.parallel({batch, k.idx(hq)}, [&](ValueRange ivs) {
      Value bi = ivs[0], hi = ivs[1];
      auto isLive = [&](Value i) {
        return e.extract(rowMasks[0], {bi, hi, i});
      };
      Value live = k.reduce(k.idx(0), sq, 1, k.idx(0), [&](Value i, Value n) {
        return k.add(n, arith::IndexCastUIOp::create(b, loc, b.getIndexType(),
                                                     isLive(i)));
      });
      // A stable partition: live rows in order, then dead rows in order.
      k.reduceMany(k.idx(0), sq, 1, {k.idx(0), live},
                   [&](Value i, ValueRange next) -> SmallVector<Value> {
                     Value l = isLive(i);
                     Value dst = k.select(l, next[0], next[1]);
                     k.store(arith::IndexCastOp::create(b, loc, i32, i),
                             result.queryOrder, {bi, hi, dst});
                     Value one = k.idx(1), zero = k.idx(0);
                     return {k.add(next[0], k.select(l, one, zero)),
                             k.add(next[1], k.select(l, zero, one))};
                   });
    });
  }
  auto position = [&](Value order, Value bi, Value hi, Value pos) -> Value {
    if (!order)
      return pos;
    Value h = result.orderPerHead ? hi : k.idx(0);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                      k.load(order, {bi, h, pos}));
  };

  // Per key tile, the range of its key segment ids: one pass over the keys.
  for (SegmentsUse &seg : segments) {
    bool perHead = cast<RankedTensorType>(seg.keyIds.getType()).getRank() == 3;
    int64_t hs = perHead ? hq : 1;
    auto type =
        MemRefType::get({ShapedType::kDynamic, hs, ShapedType::kDynamic}, i32);
    seg.keyMin =
        memref::AllocOp::create(b, loc, type, ValueRange{batch, numKTiles});
    seg.keyMax =
        memref::AllocOp::create(b, loc, type, ValueRange{batch, numKTiles});
    e.parallel({batch, k.idx(hs), numKTiles}, [&](ValueRange ivs) {
      Value bi = ivs[0], hi = ivs[1], kt = ivs[2];
      Value j0 = k.mul(kt, k.idx(bc));
      Value jEnd = k.minI(k.add(j0, k.idx(bc)), skv);
      SmallVector<Value> range =
          k.reduceMany(j0, jEnd, 1,
                       {e.i32(std::numeric_limits<int32_t>::max()),
                        e.i32(std::numeric_limits<int32_t>::min())},
                       [&](Value j, ValueRange acc) -> SmallVector<Value> {
                         Value id =
                             e.segmentId(seg.keyIds, bi, hi,
                                         position(result.keyOrder, bi, hi, j));
                         return {e.minS(acc[0], id), e.maxS(acc[1], id)};
                       });
      k.store(range[0], seg.keyMin, {bi, hi, kt});
      k.store(range[1], seg.keyMax, {bi, hi, kt});
    });
  }

  auto countsType =
      MemRefType::get({ShapedType::kDynamic, hq, ShapedType::kDynamic}, i32);
  auto tilesType = MemRefType::get(
      {ShapedType::kDynamic, hq, ShapedType::kDynamic, ShapedType::kDynamic},
      i32);
  Value counts =
      memref::AllocOp::create(b, loc, countsType, ValueRange{batch, numQTiles});
  Value tiles = memref::AllocOp::create(
      b, loc, tilesType, ValueRange{batch, numQTiles, numKTiles});

  e.parallel({batch, k.idx(hq), numQTiles}, [&](ValueRange ivs) {
    Value bi = ivs[0], hi = ivs[1], qt = ivs[2];
    Value i0 = k.mul(qt, k.idx(br));
    Value rows = k.minI(k.idx(br), k.sub(sq, i0));
    Value iEnd = k.add(i0, rows), iLast = k.sub(iEnd, k.idx(1));
    QueryTile tile{bi, hi, i0, iLast, k.add(i0, offset), k.add(iLast, offset)};

    // Facts about the query tile: live rows, and its segment id range.
    Value tileEmpty = e.boolean(false), tileFull = e.boolean(true);
    for (Value rowMask : rowMasks) {
      Value live = k.reduce(i0, iEnd, 1, k.idx(0), [&](Value i, Value n) {
        Value keep = e.extract(
            rowMask, {bi, hi, position(result.queryOrder, bi, hi, i)});
        return k.add(
            n, arith::IndexCastUIOp::create(b, loc, b.getIndexType(), keep));
      });
      tileEmpty = e.orI(tileEmpty, e.cmp(P::eq, live, k.idx(0)));
      tileFull = e.andI(tileFull, e.cmp(P::eq, live, rows));
    }
    SmallVector<std::pair<Value, Value>> queryRanges;
    for (SegmentsUse &seg : segments) {
      SmallVector<Value> range = k.reduceMany(
          i0, iEnd, 1,
          {e.i32(std::numeric_limits<int32_t>::max()),
           e.i32(std::numeric_limits<int32_t>::min())},
          [&](Value i, ValueRange acc) -> SmallVector<Value> {
            Value id = e.segmentId(seg.queryIds, bi, hi,
                                   position(result.queryOrder, bi, hi, i));
            return {e.minS(acc[0], id), e.maxS(acc[1], id)};
          });
      queryRanges.push_back({range[0], range[1]});
    }

    auto [jLo, jHi] = analysis.keyRange(b, loc, tile, skv);
    // Live rows first: the tile's rows are scattered queries. With one key
    // interval per row, the tile's key range and full tiles follow from the
    // rows' intervals (keys keep their order); otherwise the static patterns
    // bound nothing and are evaluated per element.
    Value rowsLoMax, rowsHiMin;
    if (liveRowsFirst && analysis.hasRowIntervals()) {
      SmallVector<Value> agg = k.reduceMany(
          i0, iEnd, 1, {skv, k.idx(0), skv, k.idx(0)},
          [&](Value i, ValueRange acc) -> SmallVector<Value> {
            Value aligned =
                k.add(position(result.queryOrder, bi, hi, i), offset);
            auto [lo, hiKey] = analysis.rowInterval(b, loc, aligned, hi);
            lo = e.minS(e.maxS(lo, k.idx(0)), skv);
            hiKey = e.minS(e.maxS(hiKey, lo), skv);
            return {e.minS(acc[0], lo), e.maxS(acc[1], lo),
                    e.minS(acc[2], hiKey), e.maxS(acc[3], hiKey)};
          });
      jLo = agg[0];
      jHi = e.maxS(agg[3], agg[0]);
      rowsLoMax = agg[1];
      rowsHiMin = agg[2];
    } else if (liveRowsFirst) {
      jLo = k.idx(0);
      jHi = skv;
    }
    // Sorted out of order, positions are not indices: the static patterns
    // bound nothing.
    Value staticValid = e.boolean(true);
    if (liveRowsFirst && !analysis.hasRowIntervals())
      staticValid = e.boolean(false);
    if (inOrder) {
      staticValid = k.load(inOrder, {bi, result.orderPerHead ? hi : k.idx(0)});
      jLo = k.select(staticValid, jLo, k.idx(0));
      jHi = k.select(staticValid, jHi, skv);
    }
    Value ktLo = e.div(jLo, bc), ktHi = e.ceilDiv(jHi, bc);
    Value count = k.reduce(ktLo, ktHi, 1, k.idx(0), [&](Value kt, Value n) {
      Value j0 = k.mul(kt, k.idx(bc));
      Value jLast = k.sub(k.minI(k.add(j0, k.idx(bc)), skv), k.idx(1));
      // Scattered rows (live rows first) bound tiles by their intervals;
      // empty tiles are outside [jLo, jHi) already.
      TileClass cls = rowsLoMax
                          ? TileClass{e.boolean(false),
                                      e.andI(e.cmp(P::sle, rowsLoMax, j0),
                                             e.cmp(P::sgt, rowsHiMin, jLast))}
                          : analysis.classify(b, loc, tile, j0, jLast);
      cls.empty = e.andI(cls.empty, staticValid);
      cls.full =
          e.orI(e.andI(cls.full, staticValid), e.boolean(analysis.isTrivial()));
      Value empty = e.orI(cls.empty, tileEmpty), dynFull = tileFull;
      for (auto [seg, qRange] : llvm::zip(segments, queryRanges)) {
        bool perHead =
            cast<RankedTensorType>(seg.keyIds.getType()).getRank() == 3;
        Value h = perHead ? hi : k.idx(0);
        Value kMin = k.load(seg.keyMin, {bi, h, kt});
        Value kMax = k.load(seg.keyMax, {bi, h, kt});
        auto [qMin, qMax] = qRange;
        empty = e.orI(
            empty, e.orI(e.cmp(P::slt, kMax, qMin), e.cmp(P::slt, qMax, kMin)));
        Value single =
            e.andI(e.andI(e.cmp(P::eq, qMin, qMax), e.cmp(P::eq, kMin, kMax)),
                   e.cmp(P::eq, qMin, kMin));
        dynFull = e.andI(dynFull, single);
      }
      for (BlockMaskUse &bm : blockMasks) {
        Value m = bm.mask;
        Value mb = e.broadcastIndex(m, 0, bi), mh = e.broadcastIndex(m, 1, hi);
        Value qb0 = e.div(i0, bm.blockQ), qb1 = e.div(iLast, bm.blockQ);
        Value kb0 = e.div(j0, bm.blockKv), kb1 = e.div(jLast, bm.blockKv);
        SmallVector<Value> anyAll = k.reduceMany(
            qb0, k.add(qb1, k.idx(1)), 1, {e.boolean(false), e.boolean(true)},
            [&](Value qb, ValueRange acc) {
              return k.reduceMany(
                  kb0, k.add(kb1, k.idx(1)), 1, acc,
                  [&](Value kb, ValueRange acc2) -> SmallVector<Value> {
                    Value keep = e.extract(m, {mb, mh, qb, kb});
                    return {e.orI(acc2[0], keep), e.andI(acc2[1], keep)};
                  });
            });
        empty = e.orI(empty, e.notI(anyAll[0]));
        dynFull = e.andI(dynFull, anyAll[1]);
      }
      // Static-only masking needs positions that are indices.
      Value state = k.select(
          dynFull,
          k.select(cls.full, k.idx((int64_t)KeyTileState::Full),
                   k.select(staticValid,
                            k.idx((int64_t)KeyTileState::StaticPartial),
                            k.idx((int64_t)KeyTileState::Partial))),
          k.idx((int64_t)KeyTileState::Partial));
      auto ifOp = scf::IfOp::create(
          b, loc, empty,
          [&](OpBuilder &nb, Location) { scf::YieldOp::create(nb, loc, n); },
          [&](OpBuilder &nb, Location) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            Value code = k.add(k.mul(kt, k.idx(4)), state);
            k.store(arith::IndexCastOp::create(b, loc, i32, code), tiles,
                    {bi, hi, qt, n});
            scf::YieldOp::create(b, loc, k.add(n, k.idx(1)));
          });
      return ifOp.getResult(0);
    });
    k.store(arith::IndexCastOp::create(b, loc, i32, count), counts,
            {bi, hi, qt});
  });

  // Every buffer here is freed by the bufferization deallocation pipeline.
  result.counts = counts;
  result.tiles = tiles;
  return result;
}
