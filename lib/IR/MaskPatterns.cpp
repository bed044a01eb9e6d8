//===- MaskPatterns.cpp - every mask pattern's hooks ----------------------===//
//
// Each mask pattern in one section: its keep predicate for one element
// (buildKeep), its compile-time tile classification (classifyTile,
// hasRowInterval), its operand shape check (checkOperandShapes) and, for
// dynamic patterns, its data kind (in AttnAttrs.td). The forms reach
// patterns only through these hooks (MaskPredicateBuilder, MaskAnalysis,
// checkAttnOpShapes), so they need no change for a new pattern, with one
// exception: a pattern of data kind TileLevel needs its run-time tile rule
// in KeyTileLists.cpp (and GpuTile.cpp, which decides block_mask and
// segments tiles the same way).
//
// Adding a mask pattern:
//  1. AttnAttrs.td: its definition, as an Attn_StaticPattern (positions
//     only) or an Attn_DynamicPattern (operand count and MaskDataKind); the
//     verifier of its parameters goes in its section here (a custom syntax,
//     which needs the generated storage, in AttnDialect.cpp).
//  2. This file: its section. buildKeep is required; a static pattern also
//     implements classifyTile (sound bounds: a tile may be called empty or
//     full only if it is) and hasRowInterval; a dynamic one
//     checkOperandShapes.
//  3. The reference interpreter (lib/Reference): its own, independent
//     implementation (the oracle shares no code with the forms).
//  4. Tests: test/IR (parsing, verifier errors), test/Transforms/
//     mask-analysis.mlir (the classification, -attn-test-mask-analysis)
//     and a differential test against the reference.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/MaskPatterns.h"
#include "attn/IR/AttnAttrs.h"
#include "attn/IR/AttnShapes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::attn;

//===----------------------------------------------------------------------===//
// MaskEmitter
//===----------------------------------------------------------------------===//

Value MaskEmitter::index(int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}
Value MaskEmitter::boolean(bool v) {
  return arith::ConstantOp::create(b, loc, b.getBoolAttr(v));
}
Value MaskEmitter::add(Value x, Value y) {
  return arith::AddIOp::create(b, loc, x, y);
}
Value MaskEmitter::sub(Value x, Value y) {
  return arith::SubIOp::create(b, loc, x, y);
}
Value MaskEmitter::mul(Value x, Value y) {
  return arith::MulIOp::create(b, loc, x, y);
}
Value MaskEmitter::floorDiv(Value x, Value y) {
  return arith::FloorDivSIOp::create(b, loc, x, y);
}
Value MaskEmitter::divU(Value x, Value y) {
  return arith::DivUIOp::create(b, loc, x, y);
}
Value MaskEmitter::min(Value x, Value y) {
  return arith::MinSIOp::create(b, loc, x, y);
}
Value MaskEmitter::max(Value x, Value y) {
  return arith::MaxSIOp::create(b, loc, x, y);
}
Value MaskEmitter::lt(Value x, Value y) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, y);
}
Value MaskEmitter::le(Value x, Value y) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, x, y);
}
Value MaskEmitter::eq(Value x, Value y) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
}
Value MaskEmitter::andI(Value x, Value y) {
  return arith::AndIOp::create(b, loc, x, y);
}
Value MaskEmitter::orI(Value x, Value y) {
  return arith::OrIOp::create(b, loc, x, y);
}
Value MaskEmitter::notI(Value x) {
  return arith::XOrIOp::create(b, loc, x, boolean(true));
}
Value MaskEmitter::select(Value cond, Value x, Value y) {
  return arith::SelectOp::create(b, loc, cond, x, y);
}
Value MaskEmitter::toIndex(Value v) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}
Value MaskEmitter::extract(Value tensor, ArrayRef<Value> indices) {
  return tensor::ExtractOp::create(b, loc, tensor, indices);
}

Value MaskEmitter::span(ArrayRef<int64_t> values, bool perHead, Value head) {
  if (!perHead)
    return index(values.front());
  auto type = RankedTensorType::get({(int64_t)values.size()}, b.getI64Type());
  Value table = arith::ConstantOp::create(
      b, loc, DenseIntElementsAttr::get(type, values));
  return toIndex(extract(table, {head}));
}

Value MaskEmitter::anyOf(Value lo, Value hi, function_ref<Value(Value)> pred) {
  Value init = boolean(false);
  auto loop = scf::ForOp::create(
      b, loc, lo, hi, index(1), ValueRange{init},
      [&](OpBuilder &nb, Location nl, Value iv, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value hit = pred(iv);
        Value r = orI(acc[0], hit);
        scf::YieldOp::create(b, nl, r);
      });
  return loop.getResult(0);
}

TileBounds MaskEmitter::unknown() {
  return TileBounds{Value(), Value(), {boolean(false), boolean(false)}};
}

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

bool mlir::attn::takesPositions(Attribute pattern) {
  return isa<SegmentsAttr, BlockMaskAttr>(pattern) ||
         cast<MaskPatternAttrInterface>(pattern).getDataKind() ==
             MaskDataKind::Position;
}

Value mlir::attn::segmentIdAt(OpBuilder &b, Location loc, Value ids, Value bi,
                              Value hi, Value pos) {
  if (cast<ShapedType>(ids.getType()).getRank() == 2)
    return tensor::ExtractOp::create(b, loc, ids, ValueRange{bi, pos});
  return tensor::ExtractOp::create(
      b, loc, ids, ValueRange{bi, broadcastIndex(b, loc, ids, 1, hi), pos});
}

namespace {
bool isI1(Type t) { return t.isInteger(1); }
bool isI32(Type t) { return t.isInteger(32); }
} // namespace

/// Parameter verification shared by the patterns below.
static LogicalResult
requirePositive(function_ref<InFlightDiagnostic()> emitError, StringRef attr,
                StringRef param, int64_t value) {
  if (value > 0)
    return success();
  return emitError() << "#attn." << attr << " " << param
                     << " must be positive, got " << value;
}

//===----------------------------------------------------------------------===//
// #attn.causal: j <= i'
//===----------------------------------------------------------------------===//

Value CausalAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                            ValueRange) const {
  return e.le(el.j, el.aligned);
}

TileBounds CausalAttr::classifyTile(MaskEmitter &e, const QueryTile &t,
                                    Value jLo, Value jHi) const {
  Value pLo = t.alignedLo, pHi = t.alignedHi;
  return TileBounds{
      Value(), e.add(pHi, e.index(1)), {e.lt(pHi, jLo), e.le(jHi, pLo)}};
}

bool CausalAttr::hasRowInterval() const { return true; }

//===----------------------------------------------------------------------===//
// #attn.window: i' - L <= j <= i' + R, L and R per query head or shared
//===----------------------------------------------------------------------===//

LogicalResult WindowAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> left,
                                 ArrayRef<int64_t> right, bool leftPerHead,
                                 bool rightPerHead) {
  for (auto [name, vals, perHead] :
       {std::make_tuple("left", left, leftPerHead),
        std::make_tuple("right", right, rightPerHead)}) {
    if (vals.empty())
      return emitError() << "#attn.window " << name
                         << " needs at least one value";
    if (!perHead && vals.size() != 1)
      return emitError() << "#attn.window " << name
                         << " must be one value or a list";
    for (int64_t v : vals)
      if (v < 0)
        return emitError() << "#attn.window " << name
                           << " must be non-negative, got " << v;
  }
  return success();
}

Value WindowAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                            ValueRange) const {
  Value left = e.span(getLeft(), getLeftPerHead(), el.head);
  Value right = e.span(getRight(), getRightPerHead(), el.head);
  Value lo = e.sub(el.aligned, left);
  Value hi = e.add(el.aligned, right);
  return e.andI(e.le(lo, el.j), e.le(el.j, hi));
}

TileBounds WindowAttr::classifyTile(MaskEmitter &e, const QueryTile &t,
                                    Value jLo, Value jHi) const {
  Value pLo = t.alignedLo, pHi = t.alignedHi;
  Value l = e.span(getLeft(), getLeftPerHead(), t.head);
  Value r = e.span(getRight(), getRightPerHead(), t.head);
  Value lo = e.sub(pLo, l), hi = e.add(pHi, r);
  Value empty = e.orI(e.lt(jHi, lo), e.lt(hi, jLo));
  Value full = e.andI(e.le(e.sub(pHi, l), jLo), e.le(jHi, e.add(pLo, r)));
  return TileBounds{lo, e.add(hi, e.index(1)), {empty, full}};
}

bool WindowAttr::hasRowInterval() const { return true; }

void WindowAttr::checkOperandShapes(ShapeChecker &c, ArrayRef<int64_t> scores,
                                    ValueRange) const {
  int64_t h = scores[1];
  if (getLeftPerHead())
    c.equal(getLeft().size(), h,
            "#attn.window left list needs one entry per query head");
  if (getRightPerHead())
    c.equal(getRight().size(), h,
            "#attn.window right list needs one entry per query head");
}

//===----------------------------------------------------------------------===//
// #attn.chunk: floor(i'/C) == floor(j/C)
//===----------------------------------------------------------------------===//

LogicalResult ChunkAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t size) {
  return requirePositive(emitError, "chunk", "size", size);
}

Value ChunkAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                           ValueRange) const {
  Value size = e.index(getSize());
  Value qc = e.floorDiv(el.aligned, size);
  Value kc = e.floorDiv(el.j, size);
  return e.eq(qc, kc);
}

TileBounds ChunkAttr::classifyTile(MaskEmitter &e, const QueryTile &t,
                                   Value jLo, Value jHi) const {
  Value size = e.index(getSize());
  Value cLo = e.floorDiv(t.alignedLo, size),
        cHi = e.floorDiv(t.alignedHi, size);
  Value kLo = e.floorDiv(jLo, size), kHi = e.floorDiv(jHi, size);
  Value empty = e.orI(e.lt(kHi, cLo), e.lt(cHi, kLo));
  Value full = e.andI(e.andI(e.eq(cLo, cHi), e.eq(kLo, cLo)), e.eq(kHi, cLo));
  return TileBounds{
      e.mul(cLo, size), e.mul(e.add(cHi, e.index(1)), size), {empty, full}};
}

bool ChunkAttr::hasRowInterval() const { return true; }

//===----------------------------------------------------------------------===//
// #attn.sink: j < N
//===----------------------------------------------------------------------===//

LogicalResult SinkAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t count) {
  return requirePositive(emitError, "sink", "count", count);
}

Value SinkAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                          ValueRange) const {
  return e.lt(el.j, e.index(getCount()));
}

TileBounds SinkAttr::classifyTile(MaskEmitter &e, const QueryTile &, Value jLo,
                                  Value jHi) const {
  Value n = e.index(getCount());
  return TileBounds{Value(), n, {e.le(n, jLo), e.lt(jHi, n)}};
}

bool SinkAttr::hasRowInterval() const { return true; }

//===----------------------------------------------------------------------===//
// #attn.prefix: j < P or j <= i'
//===----------------------------------------------------------------------===//

LogicalResult PrefixAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t length) {
  if (length < 0)
    return emitError() << "#attn.prefix length must be non-negative, got "
                       << length;
  return success();
}

Value PrefixAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                            ValueRange) const {
  return e.orI(e.lt(el.j, e.index(getLength())), e.le(el.j, el.aligned));
}

TileBounds PrefixAttr::classifyTile(MaskEmitter &e, const QueryTile &t,
                                    Value jLo, Value jHi) const {
  Value len = e.index(getLength());
  Value empty = e.andI(e.le(len, jLo), e.lt(t.alignedHi, jLo));
  Value full = e.orI(e.lt(jHi, len), e.le(jHi, t.alignedLo));
  return TileBounds{
      Value(), e.max(len, e.add(t.alignedHi, e.index(1))), {empty, full}};
}

bool PrefixAttr::hasRowInterval() const { return true; }

//===----------------------------------------------------------------------===//
// #attn.block_local: floor(i'/B)*B - halo <= j < (floor(i'/B)+1)*B + halo
//===----------------------------------------------------------------------===//

LogicalResult
BlockLocalAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       int64_t block, int64_t halo) {
  if (failed(requirePositive(emitError, "block_local", "block", block)))
    return failure();
  if (halo < 0)
    return emitError() << "#attn.block_local halo must be non-negative, got "
                       << halo;
  return success();
}

Value BlockLocalAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                                ValueRange) const {
  Value blk = e.index(getBlock()), halo = e.index(getHalo());
  Value q = e.floorDiv(el.aligned, blk);
  Value start = e.mul(q, blk);
  Value lo = e.sub(start, halo);
  Value end = e.add(start, blk);
  Value hi = e.add(end, halo);
  return e.andI(e.le(lo, el.j), e.lt(el.j, hi));
}

TileBounds BlockLocalAttr::classifyTile(MaskEmitter &e, const QueryTile &t,
                                        Value jLo, Value jHi) const {
  Value blk = e.index(getBlock()), halo = e.index(getHalo());
  Value bLo = e.floorDiv(t.alignedLo, blk), bHi = e.floorDiv(t.alignedHi, blk);
  Value lo = e.sub(e.mul(bLo, blk), halo);
  Value hi = e.add(e.mul(e.add(bHi, e.index(1)), blk), halo);
  Value empty = e.orI(e.lt(jHi, lo), e.le(hi, jLo));
  Value fullLo = e.sub(e.mul(bHi, blk), halo);
  Value fullHi = e.add(e.mul(e.add(bLo, e.index(1)), blk), halo);
  Value full = e.andI(e.le(fullLo, jLo), e.lt(jHi, fullHi));
  return TileBounds{lo, hi, {empty, full}};
}

bool BlockLocalAttr::hasRowInterval() const { return true; }

//===----------------------------------------------------------------------===//
// #attn.any: the union of its members, which consume operands in order
//===----------------------------------------------------------------------===//

LogicalResult AnyAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                              ArrayAttr patterns) {
  if (patterns.empty())
    return emitError() << "#attn.any needs at least one pattern";
  for (Attribute p : patterns)
    if (!isa<MaskPatternAttrInterface>(p))
      return emitError() << "#attn.any element " << p
                         << " is not a mask pattern";
  return success();
}

/// Calls `fn(member, its operands)` for each member of `any`.
static void
forEachMember(AnyAttr any, ValueRange operands,
              function_ref<void(MaskPatternAttrInterface, ValueRange)> fn) {
  for (Attribute p : any.getPatterns()) {
    auto member = cast<MaskPatternAttrInterface>(p);
    unsigned n = member.getNumMaskOperands();
    fn(member, operands.take_front(n));
    operands = operands.drop_front(n);
  }
}

unsigned AnyAttr::getNumMaskOperands() const {
  unsigned n = 0;
  for (Attribute p : getPatterns())
    n += cast<MaskPatternAttrInterface>(p).getNumMaskOperands();
  return n;
}

MaskDataKind AnyAttr::getDataKind() const {
  // A union is no tighter than any member: run-time data of a member bounds
  // nothing (tile lists and key lists would drop the other members' keys).
  bool positionOnly = llvm::all_of(getPatterns(), [](Attribute p) {
    return cast<MaskPatternAttrInterface>(p).getDataKind() ==
           MaskDataKind::Position;
  });
  return positionOnly ? MaskDataKind::Position : MaskDataKind::Element;
}

Value AnyAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                         ValueRange operands) const {
  Value acc;
  forEachMember(*this, operands,
                [&](MaskPatternAttrInterface member, ValueRange own) {
                  Value v = member.buildKeep(e, el, own);
                  acc = acc ? e.orI(acc, v) : v;
                });
  return acc;
}

TileBounds AnyAttr::classifyTile(MaskEmitter &e, const QueryTile &t, Value jLo,
                                 Value jHi) const {
  // The hull of the ranges; empty if all members are, full if one is.
  TileBounds acc;
  bool first = true;
  for (Attribute p : getPatterns()) {
    TileBounds pb =
        cast<MaskPatternAttrInterface>(p).classifyTile(e, t, jLo, jHi);
    if (first) {
      acc = pb;
      first = false;
      continue;
    }
    acc.lo = (acc.lo && pb.lo) ? e.min(acc.lo, pb.lo) : Value();
    acc.hi = (acc.hi && pb.hi) ? e.max(acc.hi, pb.hi) : Value();
    acc.cls.empty = e.andI(acc.cls.empty, pb.cls.empty);
    acc.cls.full = e.orI(acc.cls.full, pb.cls.full);
  }
  return acc;
}

void AnyAttr::checkOperandShapes(ShapeChecker &c, ArrayRef<int64_t> scores,
                                 ValueRange operands) const {
  forEachMember(*this, operands,
                [&](MaskPatternAttrInterface member, ValueRange own) {
                  member.checkOperandShapes(c, scores, own);
                });
}

//===----------------------------------------------------------------------===//
// #attn.block_mask: bm[b, h, i / block_q, j / block_kv] (tile level)
//===----------------------------------------------------------------------===//

LogicalResult
BlockMaskAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      int64_t blockQ, int64_t blockKv) {
  if (failed(requirePositive(emitError, "block_mask", "block_q", blockQ)))
    return failure();
  return requirePositive(emitError, "block_mask", "block_kv", blockKv);
}

Value BlockMaskAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                               ValueRange operands) const {
  Value m = operands[0];
  Value qb = e.divU(el.i, e.index(getBlockQ()));
  Value kb = e.divU(el.j, e.index(getBlockKv()));
  return e.extract(m, {broadcastIndex(e.b, e.loc, m, 0, el.batch),
                       broadcastIndex(e.b, e.loc, m, 1, el.head), qb, kb});
}

void BlockMaskAttr::checkOperandShapes(ShapeChecker &c,
                                       ArrayRef<int64_t> scores,
                                       ValueRange operands) const {
  Value v = operands[0];
  c.elementType(v, isI1, "#attn.block_mask operand", "i1");
  Shape s = c.ranked(v, 4, "#attn.block_mask operand");
  c.equalOrOne(s[0], scores[0], "#attn.block_mask batch size");
  c.equalOrOne(s[1], scores[1], "#attn.block_mask head count");
  c.equal(s[2], c.ceilDiv(scores[2], getBlockQ()),
          "#attn.block_mask query blocks must be ceil(Sq/block_q)");
  c.equal(s[3], c.ceilDiv(scores[3], getBlockKv()),
          "#attn.block_mask key blocks must be ceil(Skv/block_kv)");
}

//===----------------------------------------------------------------------===//
// #attn.segments: qseg[b, (h,) i] == kseg[b, (h,) j] (tile level)
//===----------------------------------------------------------------------===//

Value SegmentsAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                              ValueRange operands) const {
  Value qs = operands[0], ks = operands[1];
  return e.eq(segmentIdAt(e.b, e.loc, qs, el.batch, el.head, el.i),
              segmentIdAt(e.b, e.loc, ks, el.batch, el.head, el.j));
}

void SegmentsAttr::checkOperandShapes(ShapeChecker &c, ArrayRef<int64_t> scores,
                                      ValueRange operands) const {
  int64_t b = scores[0], h = scores[1], sq = scores[2], skv = scores[3];
  Value qs = operands[0], ks = operands[1];
  c.elementType(qs, isI32, "#attn.segments query ids", "i32");
  c.elementType(ks, isI32, "#attn.segments key ids", "i32");
  Shape qShape = c.shapeOf(qs), kShape = c.shapeOf(ks);
  if (qShape.size() != kShape.size() ||
      (qShape.size() != 2 && qShape.size() != 3)) {
    c.fail("#attn.segments ids must both be [B, S] or both [B, H, S]");
    return;
  }
  c.equal(qShape[0], b, "#attn.segments query ids batch size");
  c.equal(kShape[0], b, "#attn.segments key ids batch size");
  if (qShape.size() == 3) {
    c.equalOrOne(qShape[1], h, "#attn.segments query ids head count");
    c.equalOrOne(kShape[1], h, "#attn.segments key ids head count");
  }
  c.equal(qShape.back(), sq, "#attn.segments query ids length != Sq");
  c.equal(kShape.back(), skv, "#attn.segments key ids length != Skv");
}

//===----------------------------------------------------------------------===//
// #attn.csr: j among cols[rowPtr[i] .. rowPtr[i+1]) (key lists)
//===----------------------------------------------------------------------===//

Value CsrAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                         ValueRange operands) const {
  Value rowPtr = operands[0], cols = operands[1];
  Value one = e.index(1);
  Value lo = e.toIndex(e.extract(rowPtr, {el.i}));
  Value hi = e.toIndex(e.extract(rowPtr, {e.add(el.i, one)}));
  return e.anyOf(lo, hi, [&](Value p) {
    return e.eq(e.toIndex(e.extract(cols, {p})), el.j);
  });
}

void CsrAttr::checkOperandShapes(ShapeChecker &c, ArrayRef<int64_t> scores,
                                 ValueRange operands) const {
  int64_t sq = scores[2];
  Value rowPtr = operands[0], cols = operands[1];
  c.elementType(rowPtr, isI32, "#attn.csr row pointers", "i32");
  c.elementType(cols, isI32, "#attn.csr column indices", "i32");
  Shape r = c.ranked(rowPtr, 1, "#attn.csr row pointers");
  c.ranked(cols, 1, "#attn.csr column indices");
  c.equal(r[0], c.plus(sq, 1), "#attn.csr row pointers must have Sq+1 entries");
}

//===----------------------------------------------------------------------===//
// #attn.indices: j among ind[b, h, i, :] (key lists)
//===----------------------------------------------------------------------===//

Value IndicesAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                             ValueRange operands) const {
  Value ind = operands[0];
  Value k = getValueOrCreateConstantIndexOp(
      e.b, e.loc, tensor::getMixedSize(e.b, e.loc, ind, 3));
  return e.anyOf(e.index(0), k, [&](Value t) {
    Value sel = e.toIndex(e.extract(ind, {el.batch, el.head, el.i, t}));
    return e.eq(sel, el.j);
  });
}

void IndicesAttr::checkOperandShapes(ShapeChecker &c, ArrayRef<int64_t> scores,
                                     ValueRange operands) const {
  Value v = operands[0];
  c.elementType(v, isI32, "#attn.indices operand", "i32");
  Shape s = c.ranked(v, 4, "#attn.indices operand");
  c.equal(s[0], scores[0], "#attn.indices batch size");
  c.equal(s[1], scores[1], "#attn.indices head count");
  c.equal(s[2], scores[2], "#attn.indices rows != Sq");
}

//===----------------------------------------------------------------------===//
// #attn.rows: rows[b, h, i] (tile level)
//===----------------------------------------------------------------------===//

Value RowsAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                          ValueRange operands) const {
  return e.extract(operands[0], {el.batch, el.head, el.i});
}

void RowsAttr::checkOperandShapes(ShapeChecker &c, ArrayRef<int64_t> scores,
                                  ValueRange operands) const {
  Value v = operands[0];
  c.elementType(v, isI1, "#attn.rows operand", "i1");
  Shape s = c.ranked(v, 3, "#attn.rows operand");
  c.equal(s[0], scores[0], "#attn.rows batch size");
  c.equal(s[1], scores[1], "#attn.rows head count");
  c.equal(s[2], scores[2], "#attn.rows length != Sq");
}

//===----------------------------------------------------------------------===//
// #attn.dense: m[b, h, i, j] (element data)
//===----------------------------------------------------------------------===//

Value DenseAttr::buildKeep(MaskEmitter &e, const MaskElement &el,
                           ValueRange operands) const {
  Value m = operands[0];
  return e.extract(m, {broadcastIndex(e.b, e.loc, m, 0, el.batch),
                       broadcastIndex(e.b, e.loc, m, 1, el.head), el.i, el.j});
}

void DenseAttr::checkOperandShapes(ShapeChecker &c, ArrayRef<int64_t> scores,
                                   ValueRange operands) const {
  Value v = operands[0];
  c.elementType(v, isI1, "#attn.dense operand", "i1");
  Shape s = c.ranked(v, 4, "#attn.dense operand");
  c.equalOrOne(s[0], scores[0], "#attn.dense batch size");
  c.equalOrOne(s[1], scores[1], "#attn.dense head count");
  c.equal(s[2], scores[2], "#attn.dense rows != Sq");
  c.equal(s[3], scores[3], "#attn.dense columns != Skv");
}
