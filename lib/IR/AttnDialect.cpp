//===- AttnDialect.cpp - attn dialect, attributes and ops -----------------===//

#include "attn/IR/AttnDialect.h"
#include "attn/IR/AttnOps.h"
#include "attn/IR/AttnShapes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

#include "attn/IR/AttnAttrInterfaces.cpp.inc"
#include "attn/IR/AttnDialect.cpp.inc"
#include "attn/IR/AttnEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "attn/IR/AttnAttrs.cpp.inc"

/// The types of select_blocks' optional reps/qreps operands: one `, type`
/// for each operand that is present (both optional groups look alike, so the
/// generated parser could not tell which one a lone type belongs to).
static ParseResult
parseRepTypes(OpAsmParser &parser,
              std::optional<OpAsmParser::UnresolvedOperand> reps,
              std::optional<OpAsmParser::UnresolvedOperand> qreps,
              Type &repsType, Type &qrepsType) {
  if (reps && (parser.parseComma() || parser.parseType(repsType)))
    return failure();
  if (qreps && (parser.parseComma() || parser.parseType(qrepsType)))
    return failure();
  return success();
}

static void printRepTypes(OpAsmPrinter &printer, Operation *, Value reps,
                          Value qreps, Type repsType, Type qrepsType) {
  if (reps)
    printer << ", " << repsType;
  if (qreps)
    printer << ", " << qrepsType;
}

#define GET_OP_CLASSES
#include "attn/IR/AttnOps.cpp.inc"

void AttnDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "attn/IR/AttnAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "attn/IR/AttnOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Attribute syntax (parameter verifiers: lib/IR/MaskPatterns.cpp)
//===----------------------------------------------------------------------===//

/// Parses one window span: an integer, or a bracketed list of integers.
static ParseResult parseSpan(AsmParser &parser, SmallVectorImpl<int64_t> &vals,
                             bool &perHead) {
  perHead = succeeded(parser.parseOptionalLSquare());
  if (!perHead)
    return parser.parseInteger(vals.emplace_back());
  if (succeeded(parser.parseOptionalRSquare()))
    return success();
  if (parser.parseCommaSeparatedList(
          [&]() { return parser.parseInteger(vals.emplace_back()); }))
    return failure();
  return parser.parseRSquare();
}

static void printSpan(AsmPrinter &printer, ArrayRef<int64_t> vals,
                      bool perHead) {
  if (!perHead) {
    printer << vals.front();
    return;
  }
  printer << "[";
  llvm::interleaveComma(vals, printer);
  printer << "]";
}

Attribute WindowAttr::parse(AsmParser &parser, Type) {
  SmallVector<int64_t> left, right;
  bool leftPerHead = false, rightPerHead = false;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseKeyword("left") ||
      parser.parseEqual() || parseSpan(parser, left, leftPerHead) ||
      parser.parseComma() || parser.parseKeyword("right") ||
      parser.parseEqual() || parseSpan(parser, right, rightPerHead) ||
      parser.parseGreater())
    return {};
  return WindowAttr::getChecked([&]() { return parser.emitError(loc); },
                                parser.getContext(), left, right, leftPerHead,
                                rightPerHead);
}

void WindowAttr::print(AsmPrinter &printer) const {
  printer << "<left = ";
  printSpan(printer, getLeft(), getLeftPerHead());
  printer << ", right = ";
  printSpan(printer, getRight(), getRightPerHead());
  printer << ">";
}

//===----------------------------------------------------------------------===//
// Shared verification
//===----------------------------------------------------------------------===//

/// Every tensor operand and result must have a byte size that int64 can
/// count (the runtimes and the lowered code compute it in 64 bits).
static LogicalResult verifyByteSizes(Operation *op) {
  auto check = [&](Value v, StringRef kind, unsigned idx) -> LogicalResult {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t)
      return success();
    Type elt = t.getElementType();
    int64_t eltBytes =
        elt.isIntOrFloat() ? (elt.getIntOrFloatBitWidth() + 7) / 8 : 8;
    if (checkedByteSize(t.getShape(), eltBytes))
      return success();
    return op->emitOpError() << kind << " #" << idx << " of type " << t
                             << " has more than 2^63 - 1 bytes";
  };
  for (auto [idx, v] : llvm::enumerate(op->getOperands()))
    if (failed(check(v, "operand", idx)))
      return failure();
  for (auto [idx, v] : llvm::enumerate(op->getResults()))
    if (failed(check(v, "result", idx)))
      return failure();
  return success();
}

/// Runs the shape rules on the static types and checks the declared result
/// types against the inferred result shapes.
static LogicalResult verifyShapes(Operation *op) {
  if (failed(verifyByteSizes(op)))
    return failure();
  auto staticShape = [](Value v) -> Shape {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    return t ? Shape(t.getShape()) : Shape();
  };
  SmallVector<Shape> inferred;
  std::string error;
  if (!checkAttnOpShapes(op, staticShape, inferred, error))
    return op->emitOpError(error);
  for (auto [idx, result] : llvm::enumerate(op->getResults())) {
    if (idx >= inferred.size())
      break;
    Shape declared = staticShape(result);
    const Shape &expected = inferred[idx];
    bool compatible = declared.size() == expected.size();
    for (unsigned d = 0; compatible && d < declared.size(); ++d)
      compatible = ShapedType::isDynamic(declared[d]) ||
                   ShapedType::isDynamic(expected[d]) ||
                   declared[d] == expected[d];
    if (!compatible)
      return op->emitOpError()
             << "result #" << idx << " has shape " << formatShape(declared)
             << " but " << formatShape(expected) << " is expected";
  }
  return success();
}

/// Checks that `region` has one block with the given argument types and ends
/// in an attn.yield of `yieldType`.
static LogicalResult verifyBodyRegion(Operation *op, Region &region,
                                      StringRef name, TypeRange argTypes,
                                      Type yieldType, StringRef signature) {
  if (!region.hasOneBlock())
    return op->emitOpError() << name << " region must have one block";
  Block &block = region.front();
  if (block.getArgumentTypes() != argTypes)
    return op->emitOpError()
           << name << " region must take arguments " << signature;
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return op->emitOpError() << name << " region must end in attn.yield";
  if (yield.getValue().getType() != yieldType)
    return op->emitOpError() << name << " region must yield " << yieldType
                             << ", got " << yield.getValue().getType();
  return success();
}

//===----------------------------------------------------------------------===//
// Ops
//===----------------------------------------------------------------------===//

/// The scale attribute, or 1/sqrt(D) from the query type.
static double effectiveScale(FloatAttr scale, Value query) {
  if (scale)
    return scale.getValueAsDouble();
  int64_t d = cast<ShapedType>(query.getType()).getShape().back();
  return 1.0 / std::sqrt(static_cast<double>(d));
}

double ScoreOp::getEffectiveScale() {
  return effectiveScale(getScaleAttr(), getQuery());
}

double AttentionOp::getEffectiveScale() {
  return effectiveScale(getScaleAttr(), getQuery());
}

/// entmax needs alpha > 1 (finite); no other kind takes alpha.
static LogicalResult verifyAlpha(Operation *op, AggregationKind kind,
                                 std::optional<APFloat> alpha) {
  if (kind != AggregationKind::entmax) {
    if (alpha)
      return op->emitOpError("alpha applies only to entmax");
    return success();
  }
  if (!alpha)
    return op->emitOpError("entmax needs an alpha attribute (alpha > 1)");
  double a = alpha->convertToDouble();
  if (!std::isfinite(a) || a <= 1.0)
    return op->emitOpError("entmax needs a finite alpha > 1, got ") << a;
  return success();
}

/// `positions(%qp, %kp)` of attn.attention and its gradient.
static LogicalResult verifyPositions(Operation *op, ValueRange positions,
                                     AggregationKind kind, ArrayAttr patterns) {
  if (positions.empty())
    return success();
  if (positions.size() != 2)
    return op->emitOpError("expects two positions (query, key), got ")
           << positions.size();
  if (kind != AggregationKind::softmax)
    return op->emitOpError("takes positions with softmax only, got ")
           << stringifyAggregationKind(kind);
  for (Attribute p : patterns)
    if (!takesPositions(p))
      return op->emitOpError("takes positions with position patterns, "
                             "#attn.block_mask and #attn.segments only, got ")
             << p;
  return success();
}

LogicalResult AttentionOp::verify() {
  if (failed(verifyAlpha(*this, getKind(), getAlpha())) ||
      failed(verifyPositions(*this, getPositions(), getKind(), getPatterns())))
    return failure();
  return verifyShapes(*this);
}

/// The score_mod and predicate regions of attn.attention and its gradient.
static LogicalResult verifyAttentionRegions(Operation *op, Region &scoreMod,
                                            Region &predicate) {
  Builder b(op->getContext());
  Type idx = b.getIndexType();
  if (!scoreMod.empty()) {
    SmallVector<Type> args = {b.getF32Type(), idx, idx, idx, idx};
    if (failed(verifyBodyRegion(op, scoreMod, "score_mod", args, b.getF32Type(),
                                "(f32, index, index, index, index)")))
      return failure();
  }
  if (!predicate.empty()) {
    SmallVector<Type> args = {idx, idx, idx, idx};
    if (failed(verifyBodyRegion(op, predicate, "predicate", args, b.getI1Type(),
                                "(index, index, index, index)")))
      return failure();
  }
  return success();
}

LogicalResult AttentionOp::verifyRegions() {
  return verifyAttentionRegions(*this, getScoreMod(), getPredicate());
}

double AttentionGradOp::getEffectiveScale() {
  return effectiveScale(getScaleAttr(), getQuery());
}

LogicalResult AttentionGradOp::verify() {
  // attn-grad differentiates an entmax attention through its graph.
  if (getKind() == AggregationKind::entmax)
    return emitOpError("has no entmax form: attn-grad differentiates entmax "
                       "through attn.aggregate");
  if (failed(verifyPositions(*this, getPositions(), getKind(), getPatterns())))
    return failure();
  if (!getPositions().empty() && getSinks())
    return emitOpError("takes no sinks with positions: the sinks' gradient "
                       "is per row, not per block of keys");
  return verifyShapes(*this);
}

LogicalResult AttentionGradOp::verifyRegions() {
  return verifyAttentionRegions(*this, getScoreMod(), getPredicate());
}

LogicalResult LinearAggregateGradOp::verify() { return verifyShapes(*this); }

LogicalResult ScoreOp::verify() { return verifyShapes(*this); }

LogicalResult ScoreModOp::verify() { return verifyShapes(*this); }

LogicalResult ScoreModOp::verifyRegions() {
  Builder b(getContext());
  Type idx = b.getIndexType();
  SmallVector<Type> args = {b.getF32Type(), idx, idx, idx, idx};
  return verifyBodyRegion(*this, getBody(), "score_mod", args, b.getF32Type(),
                          "(f32, index, index, index, index)");
}

LogicalResult MaskOp::verify() { return verifyShapes(*this); }

LogicalResult MaskOp::verifyRegions() {
  if (getPredicate().empty())
    return success();
  Builder b(getContext());
  Type idx = b.getIndexType();
  SmallVector<Type> args = {idx, idx, idx, idx};
  return verifyBodyRegion(*this, getPredicate(), "predicate", args,
                          b.getI1Type(), "(index, index, index, index)");
}

SmallVector<OperandRange> MaskOp::getOperandsPerPattern() {
  SmallVector<OperandRange> ranges;
  OperandRange rest = getMaskOperands();
  unsigned offset = 0;
  for (Attribute p : getPatterns()) {
    unsigned n = cast<MaskPatternAttrInterface>(p).getNumMaskOperands();
    ranges.push_back(rest.slice(offset, n));
    offset += n;
  }
  return ranges;
}

namespace {
/// Drops repeated operand-free patterns (intersection is idempotent) and
/// folds a mask with nothing left to the scores themselves.
struct SimplifyMaskPatterns : OpRewritePattern<MaskOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MaskOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getPatterns().empty() && op.getPredicate().empty()) {
      rewriter.replaceOp(op, op.getScores());
      return success();
    }
    llvm::SetVector<Attribute> unique;
    SmallVector<Attribute> kept;
    for (Attribute p : op.getPatterns()) {
      bool hasOperands =
          cast<MaskPatternAttrInterface>(p).getNumMaskOperands() != 0;
      if (hasOperands || unique.insert(p))
        kept.push_back(p);
    }
    if (kept.size() == op.getPatterns().size())
      return failure();
    rewriter.modifyOpInPlace(
        op, [&]() { op.setPatternsAttr(rewriter.getArrayAttr(kept)); });
    return success();
  }
};
} // namespace

void MaskOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                         MLIRContext *context) {
  results.add<SimplifyMaskPatterns>(context);
}

LogicalResult AggregateOp::verify() {
  if (failed(verifyAlpha(*this, getKind(), getAlpha())))
    return failure();
  return verifyShapes(*this);
}

LogicalResult NormalizeOp::verify() {
  if (failed(verifyAlpha(*this, getKind(), getAlpha())))
    return failure();
  return verifyShapes(*this);
}
LogicalResult MergeOp::verify() { return verifyShapes(*this); }
LogicalResult FeatureMapOp::verify() { return verifyShapes(*this); }
LogicalResult LinearAggregateOp::verify() { return verifyShapes(*this); }
LogicalResult SelectBlocksOp::verify() { return verifyShapes(*this); }
LogicalResult SelectTopkOp::verify() { return verifyShapes(*this); }
LogicalResult ClusterOp::verify() { return verifyShapes(*this); }
LogicalResult LshOp::verify() { return verifyShapes(*this); }
