//===- MaskPredicate.h - per-element mask predicates ------------*- C++ -*-===//
//
// Emits the keep-predicate (i1) of mask patterns for one (b, h, i, j)
// element: shared by the naive form (inside a linalg.generic body) and the
// partial tiles of the tiled form. Each pattern's predicate is its
// MaskPatternAttrInterface::buildKeep (lib/IR/MaskPatterns.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_KERNEL_MASKPREDICATE_H
#define ATTN_KERNEL_MASKPREDICATE_H

#include "attn/IR/AttnOps.h"
#include "attn/IR/MaskPatterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::attn {

/// Builds the keep-predicate of mask patterns for element (b, h, i, j) of
/// scores [B, H, Sq, Skv]; `sq` and `skv` are index values.
class MaskPredicateBuilder {
public:
  MaskPredicateBuilder(OpBuilder &b, Location loc, Value sq, Value skv)
      : b(b), loc(loc), sq(sq), skv(skv) {}

  /// An attention with `positions` (call before setIndices): query i is at
  /// `queryBase` + i and key j at `keyBase` + j for position patterns and
  /// the predicate region.
  void setPositions(ValueRange positions) {
    if (positions.empty())
      return;
    queryBase = positions[0];
    keyBase = positions[1];
  }

  /// Sets the indices of the current element (call inside the body).
  void setIndices(Value bi, Value hi, Value ii, Value ji) {
    this->bi = bi;
    this->hi = hi;
    this->ii = ii;
    this->ji = ji;
    Value offset =
        queryBase ? queryBase : arith::SubIOp::create(b, loc, skv, sq);
    aligned = arith::AddIOp::create(b, loc, ii, offset);
    keyPosition = keyBase ? arith::AddIOp::create(b, loc, ji, keyBase) : ji;
  }

  /// The keep-predicate of one pattern, consuming its operands from the
  /// front of `operands`; null for an attribute that is no mask pattern.
  Value build(Attribute pattern, ValueRange &operands);

  /// The keep-predicate of a whole mask: every pattern (consuming
  /// `operands` in order) and the predicate region, if not empty.
  Value buildAll(ArrayAttr patterns, ValueRange operands, Region &predicate);

  Value both(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value either(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }

  Value bi, hi, ii, ji, aligned, keyPosition;

private:
  OpBuilder &b;
  Location loc;
  Value sq, skv, queryBase, keyBase;
};

/// Whether `op`'s mask has a key-list pattern (`#attn.csr`,
/// `#attn.indices`: MaskDataKind::KeyList).
bool hasKeyListPattern(AttentionOp op);

/// Clones the single block of `region` at the builder's insertion point with
/// its arguments replaced by `args`; returns the yielded value.
Value inlineRegion(OpBuilder &b, Region &region, ValueRange args);

} // namespace mlir::attn

#endif // ATTN_KERNEL_MASKPREDICATE_H
