//===- KeyTileLists.cpp - run-time key-tile lists of sparse masks ---------===//

#include "attn/Conversion/AttnToLoops/KeyTileLists.h"
#include "attn/Kernel/MaskPredicate.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::attn;

static bool isTileLevelPattern(Attribute p) {
  return cast<MaskPatternAttrInterface>(p).getDataKind() ==
         MaskDataKind::TileLevel;
}

bool mlir::attn::hasTileLevelPatterns(ArrayAttr patterns) {
  return llvm::any_of(patterns, isTileLevelPattern);
}

bool mlir::attn::hasTileLevelPatterns(AttentionOp op) {
  return hasTileLevelPatterns(op.getPatterns());
}

ArrayAttr mlir::attn::nonTileLevelPatterns(ArrayAttr patterns) {
  SmallVector<Attribute> kept;
  for (Attribute p : patterns)
    if (!isTileLevelPattern(p))
      kept.push_back(p);
  return ArrayAttr::get(patterns.getContext(), kept);
}

ArrayAttr mlir::attn::nonTileLevelPatterns(AttentionOp op) {
  return nonTileLevelPatterns(op.getPatterns());
}

Value mlir::attn::encodeKeyTileEntry(KernelBuilder &k, Value kt, Value state) {
  return k.add(k.mul(kt, k.idx(kKeyTileEntryStride)), state);
}

Value mlir::attn::decodeKeyTile(KernelBuilder &k, Value entry) {
  return arith::DivUIOp::create(k.b, k.loc, entry, k.idx(kKeyTileEntryStride));
}

Value mlir::attn::decodeKeyTileState(KernelBuilder &k, Value entry) {
  return arith::RemUIOp::create(k.b, k.loc, entry, k.idx(kKeyTileEntryStride));
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
    k.loop(k.idx(0), len, 1, [&](Value i) {
      k.store(toI32(i), order, {bi, h, i});
    });
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

/// The tile-level patterns of a mask, with their operands. The run-time
/// tile rule of each tile-level pattern lives in this file: a new
/// MaskDataKind::TileLevel pattern adds its use here, its facts about a
/// query tile to queryTileFacts and its key-tile rule to
/// applyTileLevelPatterns.
struct TileLevelUses {
  SmallVector<BlockMaskUse> blockMasks;
  SmallVector<SegmentsUse> segments;
  SmallVector<Value> rowMasks;
};

TileLevelUses collectTileLevelUses(ArrayAttr patterns, ValueRange operands) {
  TileLevelUses uses;
  for (Attribute p : patterns) {
    unsigned n = cast<MaskPatternAttrInterface>(p).getNumMaskOperands();
    if (auto bm = dyn_cast<BlockMaskAttr>(p))
      uses.blockMasks.push_back({bm.getBlockQ(), bm.getBlockKv(), operands[0]});
    else if (isa<SegmentsAttr>(p))
      uses.segments.push_back({operands[0], operands[1], Value(), Value()});
    else if (isa<RowsAttr>(p))
      uses.rowMasks.push_back(operands[0]);
    operands = operands.drop_front(n);
  }
  return uses;
}

/// What the tile-level patterns tell about one query tile.
struct QueryTileFacts {
  /// No row is computed (#attn.rows) / every row is.
  Value empty, full;
  /// Per segments pattern, the [min, max] of the tile's query ids.
  SmallVector<std::pair<Value, Value>> idRanges;
};

/// The keys one query tile visits, and what its static patterns decide.
struct VisitedKeys {
  /// Keys [lo, hi).
  Value lo, hi;
  /// Scattered rows (live rows first) with one key interval per row: the
  /// largest first key and the smallest end over the rows; null otherwise.
  Value rowsLoMax, rowsHiMin;
  /// Whether the static patterns classify the tile (positions are
  /// indices), as i1.
  Value staticValid;
};

/// The compaction, in phases: the visiting orders (sorted segments, live
/// rows first), the key tiles' segment id ranges, then per query tile its
/// list of key tiles.
class KeyTileListBuilder {
public:
  KeyTileListBuilder(KernelBuilder &k, ArrayAttr patterns,
                     ValueRange maskOperands, const MaskAnalysis &analysis,
                     int64_t br, int64_t bc, Value batch, int64_t hq, Value sq,
                     Value skv, bool reorder, ValueRange positions = {})
      : k(k), e{k}, analysis(analysis), br(br), bc(bc), hq(hq), batch(batch),
        sq(sq), skv(skv), queryBase(positions.empty() ? Value() : positions[0]),
        keyBase(positions.empty() ? Value() : positions[1]), reorder(reorder),
        uses(collectTileLevelUses(patterns, maskOperands)) {}

  KeyTileLists build();

private:
  void sortBySegments();
  void orderLiveRowsFirst();
  void reduceKeySegmentRanges();
  void listQueryTile(Value counts, Value tiles, Value bi, Value hi, Value qt);
  QueryTileFacts queryTileFacts(Value bi, Value hi, Value i0, Value iEnd,
                                Value rows);
  VisitedKeys visitedKeys(const QueryTile &tile, Value iEnd);
  Value listKeyTile(Value tiles, Value qt, const QueryTile &tile,
                    const QueryTileFacts &facts, const VisitedKeys &keys,
                    Value kt, Value n);
  void applyTileLevelPatterns(const QueryTile &tile,
                              const QueryTileFacts &facts, Value kt, Value j0,
                              Value jLast, Value &empty, Value &dynFull);
  /// The index of position `pos` in `order` (the identity if null).
  Value position(Value order, Value bi, Value hi, Value pos);

  KernelBuilder &k;
  ListEmitter e;
  const MaskAnalysis &analysis;
  const int64_t br, bc, hq;
  const Value batch, sq, skv;
  /// The positions of query 0 and key 0 of a positioned attention, else
  /// null (bottom-right alignment; block masks read at indices).
  const Value queryBase, keyBase;
  /// Whether queries and keys may be visited in another order (sorted
  /// segments, live rows first).
  const bool reorder;
  TileLevelUses uses;
  Value numQTiles, numKTiles, offset;
  KeyTileLists result;
  /// [B, Hs] i1: the segment ids were sorted already (identity order).
  Value inOrder;
  bool liveRowsFirst = false;
};

} // namespace

KeyTileLists KeyTileListBuilder::build() {
  OpBuilder &b = k.b;
  Location loc = k.loc;
  Type i32 = b.getI32Type();
  numQTiles = e.ceilDiv(sq, br);
  numKTiles = e.ceilDiv(skv, bc);
  offset = queryBase ? queryBase : k.sub(skv, sq);

  // Buckets in any order (one segments pattern alone): sort queries and
  // keys by id, so that each bucket is a contiguous run of tiles.
  if (reorder && uses.segments.size() == 1 && uses.blockMasks.empty() &&
      uses.rowMasks.empty())
    sortBySegments();
  // Rows computed or not (one #attn.rows alone): the live query rows of
  // each (batch, head) first, so that dead rows fill whole query tiles with
  // empty lists and are never computed. Keys keep their order.
  liveRowsFirst = reorder && uses.rowMasks.size() == 1 &&
                  uses.blockMasks.empty() && uses.segments.empty();
  if (liveRowsFirst)
    orderLiveRowsFirst();
  reduceKeySegmentRanges();

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
    listQueryTile(counts, tiles, ivs[0], ivs[1], ivs[2]);
  });

  // Every buffer here is freed by the bufferization deallocation pipeline.
  result.counts = counts;
  result.tiles = tiles;
  return result;
}

void KeyTileListBuilder::sortBySegments() {
  OpBuilder &b = k.b;
  Location loc = k.loc;
  SegmentsUse &seg = uses.segments.front();
  result.orderPerHead =
      cast<RankedTensorType>(seg.keyIds.getType()).getRank() == 3;
  int64_t hs = result.orderPerHead ? hq : 1;
  auto orderType = MemRefType::get(
      {ShapedType::kDynamic, hs, ShapedType::kDynamic}, b.getI32Type());
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
    Value q = e.sortById(seg.queryIds, bi, hi, result.queryOrder, scratch, sq);
    Value kk = e.sortById(seg.keyIds, bi, hi, result.keyOrder, scratch, skv);
    k.store(e.andI(q, kk), inOrder, {bi, hi});
  });
}

void KeyTileListBuilder::orderLiveRowsFirst() {
  OpBuilder &b = k.b;
  Location loc = k.loc;
  Type i32 = b.getI32Type();
  Value rowMask = uses.rowMasks.front();
  auto orderType =
      MemRefType::get({ShapedType::kDynamic, hq, ShapedType::kDynamic}, i32);
  result.orderPerHead = true;
  result.queryOrder =
      memref::AllocOp::create(b, loc, orderType, ValueRange{batch, sq});
  e.parallel({batch, k.idx(hq)}, [&](ValueRange ivs) {
    Value bi = ivs[0], hi = ivs[1];
    auto isLive = [&](Value i) { return e.extract(rowMask, {bi, hi, i}); };
    Value live = k.reduce(k.idx(0), sq, 1, k.idx(0), [&](Value i, Value n) {
      return k.add(
          n, arith::IndexCastUIOp::create(b, loc, b.getIndexType(), isLive(i)));
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

Value KeyTileListBuilder::position(Value order, Value bi, Value hi, Value pos) {
  if (!order)
    return pos;
  Value h = result.orderPerHead ? hi : k.idx(0);
  return arith::IndexCastOp::create(k.b, k.loc, k.b.getIndexType(),
                                    k.load(order, {bi, h, pos}));
}

void KeyTileListBuilder::reduceKeySegmentRanges() {
  // Per key tile, the range of its key segment ids: one pass over the keys.
  for (SegmentsUse &seg : uses.segments) {
    bool perHead = cast<RankedTensorType>(seg.keyIds.getType()).getRank() == 3;
    int64_t hs = perHead ? hq : 1;
    auto type = MemRefType::get(
        {ShapedType::kDynamic, hs, ShapedType::kDynamic}, k.b.getI32Type());
    seg.keyMin =
        memref::AllocOp::create(k.b, k.loc, type, ValueRange{batch, numKTiles});
    seg.keyMax =
        memref::AllocOp::create(k.b, k.loc, type, ValueRange{batch, numKTiles});
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
}

void KeyTileListBuilder::listQueryTile(Value counts, Value tiles, Value bi,
                                       Value hi, Value qt) {
  Value i0 = k.mul(qt, k.idx(br));
  Value rows = k.minI(k.idx(br), k.sub(sq, i0));
  Value iEnd = k.add(i0, rows), iLast = k.sub(iEnd, k.idx(1));
  QueryTile tile{bi, hi, i0, iLast, k.add(i0, offset), k.add(iLast, offset)};
  QueryTileFacts facts = queryTileFacts(bi, hi, i0, iEnd, rows);
  VisitedKeys keys = visitedKeys(tile, iEnd);
  Value ktLo = e.div(keys.lo, bc), ktHi = e.ceilDiv(keys.hi, bc);
  Value count = k.reduce(ktLo, ktHi, 1, k.idx(0), [&](Value kt, Value n) {
    return listKeyTile(tiles, qt, tile, facts, keys, kt, n);
  });
  k.store(arith::IndexCastOp::create(k.b, k.loc, k.b.getI32Type(), count),
          counts, {bi, hi, qt});
}

QueryTileFacts KeyTileListBuilder::queryTileFacts(Value bi, Value hi, Value i0,
                                                  Value iEnd, Value rows) {
  using P = arith::CmpIPredicate;
  QueryTileFacts facts{e.boolean(false), e.boolean(true), {}};
  for (Value rowMask : uses.rowMasks) {
    Value live = k.reduce(i0, iEnd, 1, k.idx(0), [&](Value i, Value n) {
      Value keep =
          e.extract(rowMask, {bi, hi, position(result.queryOrder, bi, hi, i)});
      return k.add(n, arith::IndexCastUIOp::create(k.b, k.loc,
                                                   k.b.getIndexType(), keep));
    });
    facts.empty = e.orI(facts.empty, e.cmp(P::eq, live, k.idx(0)));
    facts.full = e.andI(facts.full, e.cmp(P::eq, live, rows));
  }
  for (SegmentsUse &seg : uses.segments) {
    SmallVector<Value> range =
        k.reduceMany(i0, iEnd, 1,
                     {e.i32(std::numeric_limits<int32_t>::max()),
                      e.i32(std::numeric_limits<int32_t>::min())},
                     [&](Value i, ValueRange acc) -> SmallVector<Value> {
                       Value id =
                           e.segmentId(seg.queryIds, bi, hi,
                                       position(result.queryOrder, bi, hi, i));
                       return {e.minS(acc[0], id), e.maxS(acc[1], id)};
                     });
    facts.idRanges.push_back({range[0], range[1]});
  }
  return facts;
}

VisitedKeys KeyTileListBuilder::visitedKeys(const QueryTile &tile, Value iEnd) {
  Value bi = tile.batch, hi = tile.head;
  VisitedKeys keys;
  std::tie(keys.lo, keys.hi) = analysis.keyRange(k.b, k.loc, tile, skv);
  // Live rows first: the tile's rows are scattered queries. With one key
  // interval per row, the tile's key range and full tiles follow from the
  // rows' intervals (keys keep their order); otherwise the static patterns
  // bound nothing and are evaluated per element.
  if (liveRowsFirst && analysis.hasRowIntervals()) {
    SmallVector<Value> agg = k.reduceMany(
        tile.iLo, iEnd, 1, {skv, k.idx(0), skv, k.idx(0)},
        [&](Value i, ValueRange acc) -> SmallVector<Value> {
          Value aligned = k.add(position(result.queryOrder, bi, hi, i), offset);
          auto [lo, hiKey] = analysis.rowInterval(k.b, k.loc, aligned, hi);
          lo = e.minS(e.maxS(lo, k.idx(0)), skv);
          hiKey = e.minS(e.maxS(hiKey, lo), skv);
          return {e.minS(acc[0], lo), e.maxS(acc[1], lo), e.minS(acc[2], hiKey),
                  e.maxS(acc[3], hiKey)};
        });
    keys.lo = agg[0];
    keys.hi = e.maxS(agg[3], agg[0]);
    keys.rowsLoMax = agg[1];
    keys.rowsHiMin = agg[2];
  } else if (liveRowsFirst) {
    keys.lo = k.idx(0);
    keys.hi = skv;
  }
  // Sorted out of order, positions are not indices: the static patterns
  // bound nothing.
  keys.staticValid = e.boolean(true);
  if (liveRowsFirst && !analysis.hasRowIntervals())
    keys.staticValid = e.boolean(false);
  if (inOrder) {
    keys.staticValid =
        k.load(inOrder, {bi, result.orderPerHead ? hi : k.idx(0)});
    keys.lo = k.select(keys.staticValid, keys.lo, k.idx(0));
    keys.hi = k.select(keys.staticValid, keys.hi, skv);
  }
  return keys;
}

Value KeyTileListBuilder::listKeyTile(Value tiles, Value qt,
                                      const QueryTile &tile,
                                      const QueryTileFacts &facts,
                                      const VisitedKeys &keys, Value kt,
                                      Value n) {
  using P = arith::CmpIPredicate;
  OpBuilder &b = k.b;
  Location loc = k.loc;
  Value j0 = k.mul(kt, k.idx(bc));
  Value jLast = k.sub(k.minI(k.add(j0, k.idx(bc)), skv), k.idx(1));
  // Scattered rows (live rows first) bound tiles by their intervals;
  // empty tiles are outside [lo, hi) already.
  TileClass cls = keys.rowsLoMax
                      ? TileClass{e.boolean(false),
                                  e.andI(e.cmp(P::sle, keys.rowsLoMax, j0),
                                         e.cmp(P::sgt, keys.rowsHiMin, jLast))}
                      : analysis.classify(b, loc, tile, j0, jLast);
  cls.empty = e.andI(cls.empty, keys.staticValid);
  cls.full = e.orI(e.andI(cls.full, keys.staticValid),
                   e.boolean(analysis.isTrivial()));
  Value empty = e.orI(cls.empty, facts.empty), dynFull = facts.full;
  applyTileLevelPatterns(tile, facts, kt, j0, jLast, empty, dynFull);
  // Static-only masking needs positions that are indices.
  auto stateIdx = [&](KeyTileState s) { return k.idx((int64_t)s); };
  Value state = k.select(
      dynFull,
      k.select(cls.full, stateIdx(KeyTileState::Full),
               k.select(keys.staticValid, stateIdx(KeyTileState::StaticPartial),
                        stateIdx(KeyTileState::Partial))),
      stateIdx(KeyTileState::Partial));
  auto ifOp = scf::IfOp::create(
      b, loc, empty,
      [&](OpBuilder &nb, Location) { scf::YieldOp::create(nb, loc, n); },
      [&](OpBuilder &nb, Location) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value entry = encodeKeyTileEntry(k, kt, state);
        k.store(arith::IndexCastOp::create(b, loc, b.getI32Type(), entry),
                tiles, {tile.batch, tile.head, qt, n});
        scf::YieldOp::create(b, loc, k.add(n, k.idx(1)));
      });
  return ifOp.getResult(0);
}

void KeyTileListBuilder::applyTileLevelPatterns(const QueryTile &tile,
                                                const QueryTileFacts &facts,
                                                Value kt, Value j0, Value jLast,
                                                Value &empty, Value &dynFull) {
  using P = arith::CmpIPredicate;
  Value bi = tile.batch, hi = tile.head;
  // Segments: disjoint id ranges are empty; one id on both sides is full.
  for (auto [seg, qRange] : llvm::zip(uses.segments, facts.idRanges)) {
    bool perHead = cast<RankedTensorType>(seg.keyIds.getType()).getRank() == 3;
    Value h = perHead ? hi : k.idx(0);
    Value kMin = k.load(seg.keyMin, {bi, h, kt});
    Value kMax = k.load(seg.keyMax, {bi, h, kt});
    auto [qMin, qMax] = qRange;
    empty = e.orI(empty,
                  e.orI(e.cmp(P::slt, kMax, qMin), e.cmp(P::slt, qMax, kMin)));
    Value single =
        e.andI(e.andI(e.cmp(P::eq, qMin, qMax), e.cmp(P::eq, kMin, kMax)),
               e.cmp(P::eq, qMin, kMin));
    dynFull = e.andI(dynFull, single);
  }
  // Block masks: the mask blocks the tile overlaps, read at their own size
  // (at positions in a positioned attention: the mask is the sequence's).
  Value qLo = queryBase ? tile.alignedLo : tile.iLo;
  Value qHi = queryBase ? tile.alignedHi : tile.iHi;
  Value kLo = keyBase ? k.add(j0, keyBase) : j0;
  Value kHi = keyBase ? k.add(jLast, keyBase) : jLast;
  for (BlockMaskUse &bm : uses.blockMasks) {
    Value m = bm.mask;
    Value mb = e.broadcastIndex(m, 0, bi), mh = e.broadcastIndex(m, 1, hi);
    Value qb0 = e.div(qLo, bm.blockQ), qb1 = e.div(qHi, bm.blockQ);
    Value kb0 = e.div(kLo, bm.blockKv), kb1 = e.div(kHi, bm.blockKv);
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
}

KeyTileLists mlir::attn::buildKeyTileLists(KernelBuilder &k, AttentionOp op,
                                           const MaskAnalysis &analysis,
                                           int64_t br, int64_t bc, Value batch,
                                           int64_t hq, Value sq, Value skv) {
  return KeyTileListBuilder(k, op.getPatterns(), op.getMaskOperands(), analysis,
                            br, bc, batch, hq, sq, skv,
                            /*reorder=*/true, op.getPositions())
      .build();
}

KeyTileLists mlir::attn::buildKeyTileListsInPlace(
    KernelBuilder &k, ArrayAttr patterns, ValueRange maskOperands,
    const MaskAnalysis &analysis, int64_t br, int64_t bc, Value batch,
    int64_t hq, Value sq, Value skv, ValueRange positions) {
  return KeyTileListBuilder(k, patterns, maskOperands, analysis, br, bc, batch,
                            hq, sq, skv, /*reorder=*/false, positions)
      .build();
}

QueryTileLists mlir::attn::buildQueryTileLists(
    KernelBuilder &k, ArrayAttr patterns, ValueRange maskOperands,
    const MaskAnalysis &analysis, int64_t br, int64_t bc, Value batch,
    int64_t hq, Value sq, Value skv, ValueRange positions) {
  KeyTileLists byQuery =
      buildKeyTileListsInPlace(k, patterns, maskOperands, analysis, br, bc,
                               batch, hq, sq, skv, positions);
  OpBuilder &b = k.b;
  Location loc = k.loc;
  ListEmitter e{k};
  Type i32 = b.getI32Type();
  auto toIdx = [&](Value v) -> Value {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  };
  auto toI32 = [&](Value v) -> Value {
    return arith::IndexCastOp::create(b, loc, i32, v);
  };
  Value numQTiles = e.ceilDiv(sq, br), numKTiles = e.ceilDiv(skv, bc);
  const int64_t dyn = ShapedType::kDynamic;
  QueryTileLists result;
  result.counts =
      memref::AllocOp::create(b, loc, MemRefType::get({dyn, hq, dyn}, i32),
                              ValueRange{batch, numKTiles});
  result.tiles =
      memref::AllocOp::create(b, loc, MemRefType::get({dyn, hq, dyn, dyn}, i32),
                              ValueRange{batch, numKTiles, numQTiles});
  // Query tiles in order: each key tile's list comes out ascending.
  e.parallel({batch, k.idx(hq)}, [&](ValueRange ivs) {
    Value bi = ivs[0], hi = ivs[1];
    k.loop(k.idx(0), numKTiles, 1, [&](Value kt) {
      k.store(e.i32(0), result.counts, {bi, hi, kt});
    });
    k.loop(k.idx(0), numQTiles, 1, [&](Value qt) {
      Value count = toIdx(k.load(byQuery.counts, {bi, hi, qt}));
      k.loop(k.idx(0), count, 1, [&](Value n) {
        Value entry = toIdx(k.load(byQuery.tiles, {bi, hi, qt, n}));
        Value kt = decodeKeyTile(k, entry);
        Value at = k.load(result.counts, {bi, hi, kt});
        Value swapped = encodeKeyTileEntry(k, qt, decodeKeyTileState(k, entry));
        k.store(toI32(swapped), result.tiles, {bi, hi, kt, toIdx(at)});
        k.store(arith::AddIOp::create(b, loc, at, e.i32(1)), result.counts,
                {bi, hi, kt});
      });
    });
  });
  return result;
}

bool mlir::attn::hasKeyListPatterns(ArrayAttr patterns) {
  return llvm::any_of(patterns, [](Attribute p) {
    return cast<MaskPatternAttrInterface>(p).getDataKind() ==
           MaskDataKind::KeyList;
  });
}

namespace {
/// The first key-list pattern of a mask, with its operands.
struct KeyListUse {
  Attribute pattern;
  ValueRange operands;
};

KeyListUse firstKeyListUse(ArrayAttr patterns, ValueRange operands) {
  for (Attribute p : patterns) {
    auto mp = cast<MaskPatternAttrInterface>(p);
    unsigned n = mp.getNumMaskOperands();
    if (mp.getDataKind() == MaskDataKind::KeyList)
      return {p, operands.take_front(n)};
    operands = operands.drop_front(n);
  }
  return {};
}
} // namespace

QueryTileLists mlir::attn::buildKeyListQueryTileLists(
    KernelBuilder &k, ArrayAttr patterns, ValueRange maskOperands,
    const MaskAnalysis &analysis, int64_t br, int64_t bc, Value batch,
    int64_t hq, Value sq, Value skv) {
  using P = arith::CmpIPredicate;
  OpBuilder &b = k.b;
  Location loc = k.loc;
  ListEmitter e{k};
  Type i32 = b.getI32Type();
  auto toIdx = [&](Value v) -> Value {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  };
  KeyListUse use = firstKeyListUse(patterns, maskOperands);
  Value numQTiles = e.ceilDiv(sq, br), numKTiles = e.ceilDiv(skv, bc);
  Value offset = k.sub(skv, sq);
  const int64_t dyn = ShapedType::kDynamic;
  QueryTileLists result;
  result.counts =
      memref::AllocOp::create(b, loc, MemRefType::get({dyn, hq, dyn}, i32),
                              ValueRange{batch, numKTiles});
  result.tiles =
      memref::AllocOp::create(b, loc, MemRefType::get({dyn, hq, dyn, dyn}, i32),
                              ValueRange{batch, numKTiles, numQTiles});
  // Per (batch, head, key tile): whether the current query tile lists a key
  // of it.
  Value marks = memref::AllocOp::create(
      b, loc, MemRefType::get({dyn, hq, dyn}, b.getI1Type()),
      ValueRange{batch, numKTiles});
  e.parallel({batch, k.idx(hq)}, [&](ValueRange ivs) {
    Value bi = ivs[0], hi = ivs[1];
    k.loop(k.idx(0), numKTiles, 1, [&](Value kt) {
      k.store(e.i32(0), result.counts, {bi, hi, kt});
    });
    // Keys outside [0, Skv) (-1: an unused slot) match no key.
    auto mark = [&](Value j) {
      Value valid = e.andI(e.cmp(P::sge, j, k.idx(0)), e.cmp(P::slt, j, skv));
      k.ifThen(valid, [&]() {
        k.store(e.boolean(true), marks, {bi, hi, e.div(j, bc)});
      });
    };
    k.loop(k.idx(0), numQTiles, 1, [&](Value qt) {
      k.loop(k.idx(0), numKTiles, 1, [&](Value kt) {
        k.store(e.boolean(false), marks, {bi, hi, kt});
      });
      Value i0 = k.mul(qt, k.idx(br));
      Value iEnd = k.minI(k.add(i0, k.idx(br)), sq);
      k.loop(i0, iEnd, 1, [&](Value i) {
        if (isa<CsrAttr>(use.pattern)) {
          Value rowPtr = use.operands[0], cols = use.operands[1];
          Value lo = toIdx(e.extract(rowPtr, {i}));
          Value hiPos = toIdx(e.extract(rowPtr, {k.add(i, k.idx(1))}));
          k.loop(lo, hiPos, 1,
                 [&](Value p) { mark(toIdx(e.extract(cols, {p}))); });
          return;
        }
        Value ind = use.operands[0];
        Value slots = k.dimOf(ind, 3);
        k.loop(k.idx(0), slots, 1, [&](Value t) {
          mark(toIdx(e.extract(ind, {bi, hi, i, t})));
        });
      });
      Value iLast = k.sub(iEnd, k.idx(1));
      QueryTile tile{
          bi, hi, i0, iLast, k.add(i0, offset), k.add(iLast, offset)};
      k.loop(k.idx(0), numKTiles, 1, [&](Value kt) {
        Value j0 = k.mul(kt, k.idx(bc));
        Value jLast = k.sub(k.minI(k.add(j0, k.idx(bc)), skv), k.idx(1));
        Value empty = analysis.classify(b, loc, tile, j0, jLast).empty;
        Value listed = e.andI(k.load(marks, {bi, hi, kt}), e.notI(empty));
        k.ifThen(listed, [&]() {
          Value at = k.load(result.counts, {bi, hi, kt});
          Value entry =
              encodeKeyTileEntry(k, qt, k.idx((int64_t)KeyTileState::Partial));
          k.store(arith::IndexCastOp::create(b, loc, i32, entry), result.tiles,
                  {bi, hi, kt, toIdx(at)});
          k.store(arith::AddIOp::create(b, loc, at, e.i32(1)), result.counts,
                  {bi, hi, kt});
        });
      });
    });
  });
  return result;
}
