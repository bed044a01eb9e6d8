//===- MaskPredicate.cpp - per-element mask predicates --------------------===//

#include "attn/Kernel/MaskPredicate.h"

#include "mlir/IR/IRMapping.h"

using namespace mlir;

Value mlir::attn::inlineRegion(OpBuilder &b, Region &region, ValueRange args) {
  Block &block = region.front();
  IRMapping mapping;
  mapping.map(block.getArguments(), args);
  for (Operation &op : block.without_terminator())
    b.clone(op, mapping);
  return mapping.lookupOrDefault(
      cast<YieldOp>(block.getTerminator()).getValue());
}

Value mlir::attn::MaskPredicateBuilder::build(Attribute pattern,
                                              ValueRange &operands) {
  auto p = dyn_cast<MaskPatternAttrInterface>(pattern);
  if (!p)
    return Value();
  unsigned n = p.getNumMaskOperands();
  MaskEmitter e(b, loc);
  // Position patterns see positions; run-time data is read at indices,
  // except a positioned attention's block mask, which is the sequence's.
  Value i = ii, j = ji;
  if (p.getDataKind() == MaskDataKind::Position)
    j = keyPosition;
  if (queryBase && isa<BlockMaskAttr>(pattern)) {
    i = aligned;
    j = keyPosition;
  }
  Value keep = p.buildKeep(e, MaskElement{bi, hi, i, j, aligned},
                           operands.take_front(n));
  operands = operands.drop_front(n);
  return keep;
}

Value mlir::attn::MaskPredicateBuilder::buildAll(ArrayAttr patterns,
                                                 ValueRange operands,
                                                 Region &predicate) {
  Value keep = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
  for (Attribute p : patterns)
    keep = both(keep, build(p, operands));
  // A positioned attention's region sees positions, a plain one indices.
  if (!predicate.empty())
    keep = both(keep,
                inlineRegion(b, predicate,
                             {bi, hi, queryBase ? aligned : ii, keyPosition}));
  return keep;
}

bool mlir::attn::hasKeyListPattern(AttentionOp op) {
  return llvm::any_of(op.getPatterns(), [](Attribute p) {
    return cast<MaskPatternAttrInterface>(p).getDataKind() ==
           MaskDataKind::KeyList;
  });
}
