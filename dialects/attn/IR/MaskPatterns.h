//===- MaskPatterns.h - what the mask pattern hooks take --------*- C++ -*-===//
//
// The helper types of MaskPatternAttrInterface (AttnAttrs.td): every mask
// pattern implements its keep predicate, its tile classification, its
// operand shape check and its data kind in lib/IR/MaskPatterns.cpp, and the
// forms reach patterns only through these hooks.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_IR_MASKPATTERNS_H
#define ATTN_IR_MASKPATTERNS_H

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace mlir::attn {

class ShapeChecker;

/// What a pattern reads besides the positions, which decides the forms that
/// can skip work for it.
enum class MaskDataKind {
  /// Positions (b, h, i, j) only: tiles are classified at compile time
  /// (as arithmetic on the symbolic tile bounds).
  Position,
  /// Run-time data with a tile-level summary (block_mask, segments, rows):
  /// the block-sparse form decides each key tile at run time
  /// (KeyTileLists).
  TileLevel,
  /// Per-query key lists (csr, indices): the gather form visits only the
  /// listed keys.
  KeyList,
  /// Anything else (dense, unions with run-time data): evaluated per
  /// element; every tile is partial.
  Element,
};

/// A block of queries of one (batch, query head): raw indices [iLo, iHi] and
/// aligned positions [alignedLo, alignedHi] (inclusive), as index values.
struct QueryTile {
  Value batch, head, iLo, iHi, alignedLo, alignedHi;
};

/// Tile classification: `empty` (no key visible to any query) and `full`
/// (every key visible to every query), as i1 values.
struct TileClass {
  Value empty, full;
};

/// One pattern over a query tile: the keys [lo, hi) that can be visible to
/// some query of the tile (null: unbounded on that side) and the class of
/// one key tile.
struct TileBounds {
  Value lo, hi;
  TileClass cls;
};

/// Element (b, h, i, j) of the scores [B, Hq, Sq, Skv], with the aligned
/// query position i' = i + Skv - Sq; index values.
struct MaskElement {
  Value batch, head, i, j, aligned;
};

/// Emits the index and i1 arithmetic of the hooks.
class MaskEmitter {
public:
  MaskEmitter(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  Value index(int64_t v);
  Value boolean(bool v);
  Value add(Value x, Value y);
  Value sub(Value x, Value y);
  Value mul(Value x, Value y);
  Value floorDiv(Value x, Value y);
  Value divU(Value x, Value y);
  Value min(Value x, Value y);
  Value max(Value x, Value y);
  Value lt(Value x, Value y);
  Value le(Value x, Value y);
  Value eq(Value x, Value y);
  Value andI(Value x, Value y);
  Value orI(Value x, Value y);
  Value notI(Value x);
  Value select(Value cond, Value x, Value y);
  /// An integer as an index.
  Value toIndex(Value v);
  Value extract(Value tensor, ArrayRef<Value> indices);
  /// The per-head window span for query head `head`: the single value, or
  /// the head's entry of a constant table.
  Value span(ArrayRef<int64_t> values, bool perHead, Value head);
  /// OR of `pred(p)` for p in [lo, hi) (an scf.for).
  Value anyOf(Value lo, Value hi, function_ref<Value(Value)> pred);
  /// Bounds that prove nothing: unbounded, never empty, never full.
  TileBounds unknown();

  OpBuilder &b;
  Location loc;
};

/// `i` as an index into dimension `dim` of tensor `t`, or 0 where that
/// dimension is broadcast (size 1).
Value broadcastIndex(OpBuilder &b, Location loc, Value t, unsigned dim,
                     Value i);

/// Whether an attn.attention with `positions` may carry `pattern`: position
/// patterns, `#attn.block_mask` (the sequence's mask, read at positions)
/// and `#attn.segments`, whose ids stay indexed by i and j.
bool takesPositions(Attribute pattern);

/// The `#attn.segments` id at position `pos` of batch `bi`, query head `hi`:
/// ids are [B, S], or [B, H|1, S] per head.
Value segmentIdAt(OpBuilder &b, Location loc, Value ids, Value bi, Value hi,
                  Value pos);

} // namespace mlir::attn

#endif // ATTN_IR_MASKPATTERNS_H
