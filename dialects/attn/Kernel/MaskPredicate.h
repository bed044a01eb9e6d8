//===- MaskPredicate.h - per-element mask predicates ------------*- C++ -*-===//
//
// Emits the keep-predicate (i1) of mask patterns for one (b, h, i, j)
// element: shared by the naive form (inside a linalg.generic body) and the
// partial tiles of the tiled form.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_KERNEL_MASKPREDICATE_H
#define ATTN_KERNEL_MASKPREDICATE_H

#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::attn {

/// `i` as an index into dimension `dim` of tensor `t`, or 0 where that
/// dimension is broadcast (size 1).
Value broadcastIndex(OpBuilder &b, Location loc, Value t, unsigned dim,
                     Value i);

/// The `#attn.segments` id at position `pos` of batch `bi`, query head `hi`:
/// ids are [B, S], or [B, H|1, S] per head.
Value segmentIdAt(OpBuilder &b, Location loc, Value ids, Value bi, Value hi,
                  Value pos);

/// Builds the keep-predicate of mask patterns for element (b, h, i, j) of
/// scores [B, H, Sq, Skv]; `sq` and `skv` are index values.
class MaskPredicateBuilder {
public:
  MaskPredicateBuilder(OpBuilder &b, Location loc, Value sq, Value skv)
      : b(b), loc(loc), sq(sq), skv(skv) {}

  /// Sets the indices of the current element (call inside the body).
  void setIndices(Value bi, Value hi, Value ii, Value ji) {
    this->bi = bi;
    this->hi = hi;
    this->ii = ii;
    this->ji = ji;
    Value offset = arith::SubIOp::create(b, loc, skv, sq);
    aligned = arith::AddIOp::create(b, loc, ii, offset);
  }

  Value build(Attribute pattern, ValueRange &operands) {
    return llvm::TypeSwitch<Attribute, Value>(pattern)
        .Case<CausalAttr>(
            [&](auto) { return cmp(arith::CmpIPredicate::sle, ji, aligned); })
        .Case<WindowAttr>([&](WindowAttr w) {
          Value left = span(w.getLeft(), w.getLeftPerHead());
          Value right = span(w.getRight(), w.getRightPerHead());
          Value lo = arith::SubIOp::create(b, loc, aligned, left);
          Value hi = arith::AddIOp::create(b, loc, aligned, right);
          return both(cmp(arith::CmpIPredicate::sle, lo, ji),
                      cmp(arith::CmpIPredicate::sle, ji, hi));
        })
        .Case<ChunkAttr>([&](ChunkAttr c) {
          Value size = cst(c.getSize());
          Value qc = arith::FloorDivSIOp::create(b, loc, aligned, size);
          Value kc = arith::FloorDivSIOp::create(b, loc, ji, size);
          return cmp(arith::CmpIPredicate::eq, qc, kc);
        })
        .Case<SinkAttr>([&](SinkAttr s) {
          return cmp(arith::CmpIPredicate::slt, ji, cst(s.getCount()));
        })
        .Case<PrefixAttr>([&](PrefixAttr p) {
          return either(cmp(arith::CmpIPredicate::slt, ji, cst(p.getLength())),
                        cmp(arith::CmpIPredicate::sle, ji, aligned));
        })
        .Case<BlockLocalAttr>([&](BlockLocalAttr bl) {
          Value blk = cst(bl.getBlock()), halo = cst(bl.getHalo());
          Value q = arith::FloorDivSIOp::create(b, loc, aligned, blk);
          Value start = arith::MulIOp::create(b, loc, q, blk);
          Value lo = arith::SubIOp::create(b, loc, start, halo);
          Value end = arith::AddIOp::create(b, loc, start, blk);
          Value hi = arith::AddIOp::create(b, loc, end, halo);
          return both(cmp(arith::CmpIPredicate::sle, lo, ji),
                      cmp(arith::CmpIPredicate::slt, ji, hi));
        })
        .Case<AnyAttr>([&](AnyAttr any) {
          Value acc;
          for (Attribute inner : any.getPatterns()) {
            Value v = build(inner, operands);
            acc = acc ? either(acc, v) : v;
          }
          return acc;
        })
        .Case<BlockMaskAttr>([&](BlockMaskAttr bm) {
          Value m = take(operands);
          Value qb = arith::DivUIOp::create(b, loc, ii, cst(bm.getBlockQ()));
          Value kb = arith::DivUIOp::create(b, loc, ji, cst(bm.getBlockKv()));
          return extract(
              m, {broadcastIndex(m, 0, bi), broadcastIndex(m, 1, hi), qb, kb});
        })
        .Case<SegmentsAttr>([&](SegmentsAttr) {
          Value qs = take(operands), ks = take(operands);
          return cmp(arith::CmpIPredicate::eq,
                     segmentIdAt(b, loc, qs, bi, hi, ii),
                     segmentIdAt(b, loc, ks, bi, hi, ji));
        })
        .Case<CsrAttr>([&](CsrAttr) {
          Value rowPtr = take(operands), cols = take(operands);
          Value one = cst(1);
          Value lo = toIndex(extract(rowPtr, {ii}));
          Value hi = toIndex(
              extract(rowPtr, {arith::AddIOp::create(b, loc, ii, one)}));
          return anyOf(lo, hi, [&](Value p) {
            return cmp(arith::CmpIPredicate::eq, toIndex(extract(cols, {p})),
                       ji);
          });
        })
        .Case<IndicesAttr>([&](IndicesAttr) {
          Value ind = take(operands);
          Value k = getValueOrCreateConstantIndexOp(
              b, loc, tensor::getMixedSize(b, loc, ind, 3));
          return anyOf(cst(0), k, [&](Value t) {
            Value sel = toIndex(extract(ind, {bi, hi, ii, t}));
            return cmp(arith::CmpIPredicate::eq, sel, ji);
          });
        })
        .Case<RowsAttr>(
            [&](RowsAttr) { return extract(take(operands), {bi, hi, ii}); })
        .Case<DenseAttr>([&](DenseAttr) {
          Value m = take(operands);
          return extract(
              m, {broadcastIndex(m, 0, bi), broadcastIndex(m, 1, hi), ii, ji});
        })
        .Default([&](Attribute) { return Value(); });
  }

  /// The keep-predicate of a whole mask: every pattern (consuming
  /// `operands` in order) and the predicate region, if not empty.
  Value buildAll(ArrayAttr patterns, ValueRange operands, Region &predicate);

  Value both(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value either(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }

  Value bi, hi, ii, ji, aligned;

private:
  Value cst(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
  Value take(ValueRange &operands) {
    Value v = operands.front();
    operands = operands.drop_front();
    return v;
  }
  Value extract(Value t, ArrayRef<Value> indices) {
    return tensor::ExtractOp::create(b, loc, t, indices);
  }
  Value broadcastIndex(Value t, unsigned dim, Value i) {
    return attn::broadcastIndex(b, loc, t, dim, i);
  }
  /// A window span: one constant, or the query head's entry of a table.
  Value span(ArrayRef<int64_t> vals, bool perHead) {
    if (!perHead)
      return cst(vals.front());
    auto type = RankedTensorType::get({(int64_t)vals.size()}, b.getI64Type());
    Value table = arith::ConstantOp::create(
        b, loc, DenseIntElementsAttr::get(type, vals));
    return toIndex(extract(table, {hi}));
  }
  /// OR of pred(p) for p in [lo, hi).
  Value anyOf(Value lo, Value hi, function_ref<Value(Value)> pred) {
    Value init = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
    auto loop = scf::ForOp::create(
        b, loc, lo, hi, cst(1), ValueRange{init},
        [&](OpBuilder &nb, Location nl, Value iv, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value hit = pred(iv);
          Value r = either(acc[0], hit);
          scf::YieldOp::create(b, nl, r);
        });
    return loop.getResult(0);
  }

  OpBuilder &b;
  Location loc;
  Value sq, skv;
};

/// Whether `op`'s mask has a `#attn.csr` or `#attn.indices` pattern.
bool hasKeyListPattern(AttentionOp op);

/// Clones the single block of `region` at the builder's insertion point with
/// its arguments replaced by `args`; returns the yielded value.
Value inlineRegion(OpBuilder &b, Region &region, ValueRange args);

} // namespace mlir::attn

#endif // ATTN_KERNEL_MASKPREDICATE_H
