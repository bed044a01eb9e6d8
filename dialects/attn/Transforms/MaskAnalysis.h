//===- MaskAnalysis.h - tile classification of attention masks --*- C++ -*-===//
//
// Compile-time reasoning about mask patterns and predicate regions over
// tiles: for a block of queries and a block of keys it emits (as index/i1
// arithmetic on the symbolic tile bounds, so it holds for any Sq/Skv) the
// range of keys that can be visible and whether a key tile is empty, full or
// partial. No dense mask is ever built. Each pattern's bounds are its
// MaskPatternAttrInterface::classifyTile (lib/IR/MaskPatterns.cpp);
// QueryTile and TileClass are declared in attn/IR/MaskPatterns.h.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TRANSFORMS_MASKANALYSIS_H
#define ATTN_TRANSFORMS_MASKANALYSIS_H

#include "attn/IR/MaskPatterns.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace mlir::attn {

class MaskAnalysis {
public:
  /// `predicate` may be null or empty. Dynamic patterns (block_mask,
  /// segments, csr, indices, rows, dense) and predicate regions built from
  /// ops the interval evaluator does not know make tiles partial (never
  /// empty or full); they stay correct because partial tiles evaluate the
  /// mask per element.
  MaskAnalysis(ArrayAttr patterns, Region *predicate);

  /// An attention with `positions`: position patterns and the predicate
  /// see key j at `keyBase` + j, and the predicate sees the tiles' aligned
  /// (here: positioned) queries instead of their raw indices. Callers build
  /// QueryTile::aligned* from the query base. Key ranges and intervals are
  /// still returned as indices of the key operand.
  void setKeyBase(Value base) { keyBase = base; }

  /// Whether every tile is full (no pattern and no predicate).
  bool isTrivial() const;

  /// The keys [lo, hi) that can be visible to some query of `tile`, clamped
  /// to [0, skv].
  std::pair<Value, Value> keyRange(OpBuilder &b, Location loc,
                                   const QueryTile &tile, Value skv) const;

  /// Classifies keys [jLo, jHi] (inclusive) against `tile`.
  TileClass classify(OpBuilder &b, Location loc, const QueryTile &tile,
                     Value jLo, Value jHi) const;

  /// Whether the keys visible to one query always form one interval
  /// (intersections of patterns with hasRowInterval, such as causal, window,
  /// chunk, sink, prefix and block_local; no predicate): partial tiles can
  /// then be masked with vector compares.
  bool hasRowIntervals() const;

  /// The visible keys [lo, hi) of the query at aligned position `aligned`
  /// of query head `head` (requires hasRowIntervals()).
  std::pair<Value, Value> rowInterval(OpBuilder &b, Location loc, Value aligned,
                                      Value head) const;

private:
  /// The keys [jLo, jHi] as what pattern `p` sees: positions for position
  /// patterns of a positioned attention, indices otherwise.
  std::pair<Value, Value> keysSeenBy(MaskEmitter &e, Attribute p, Value jLo,
                                     Value jHi) const;
  bool shifts(Attribute p) const;

  ArrayAttr patterns;
  Region *predicate;
  Value keyBase;
};

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_MASKANALYSIS_H
