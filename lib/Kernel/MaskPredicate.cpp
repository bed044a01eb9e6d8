//===- MaskPredicate.cpp - per-element mask predicates --------------------===//

#include "attn/Kernel/MaskPredicate.h"

#include "mlir/IR/IRMapping.h"

using namespace mlir;

Value mlir::attn::broadcastIndex(OpBuilder &b, Location loc, Value t,
                                 unsigned dim, Value i) {
  Value size = getValueOrCreateConstantIndexOp(
      b, loc, tensor::getMixedSize(b, loc, t, dim));
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value isOne =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, size,
                            arith::ConstantIndexOp::create(b, loc, 1));
  return arith::SelectOp::create(b, loc, isOne, zero, i);
}

Value mlir::attn::segmentIdAt(OpBuilder &b, Location loc, Value ids, Value bi,
                              Value hi, Value pos) {
  if (cast<ShapedType>(ids.getType()).getRank() == 2)
    return tensor::ExtractOp::create(b, loc, ids, ValueRange{bi, pos});
  return tensor::ExtractOp::create(
      b, loc, ids, ValueRange{bi, broadcastIndex(b, loc, ids, 1, hi), pos});
}

Value mlir::attn::inlineRegion(OpBuilder &b, Region &region, ValueRange args) {
  Block &block = region.front();
  IRMapping mapping;
  mapping.map(block.getArguments(), args);
  for (Operation &op : block.without_terminator())
    b.clone(op, mapping);
  return mapping.lookupOrDefault(
      cast<YieldOp>(block.getTerminator()).getValue());
}

Value mlir::attn::MaskPredicateBuilder::buildAll(ArrayAttr patterns,
                                                 ValueRange operands,
                                                 Region &predicate) {
  Value keep = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
  for (Attribute p : patterns)
    keep = both(keep, build(p, operands));
  if (!predicate.empty())
    keep = both(keep, inlineRegion(b, predicate, {bi, hi, ii, ji}));
  return keep;
}

bool mlir::attn::hasKeyListPattern(AttentionOp op) {
  return llvm::any_of(op.getPatterns(),
                      [](Attribute p) { return isa<CsrAttr, IndicesAttr>(p); });
}
