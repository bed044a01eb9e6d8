//===- MaskAnalysis.cpp - tile classification of attention masks ----------===//
//
// Each static pattern has a closed form for the visible keys of a block of
// queries (its classifyTile hook, lib/IR/MaskPatterns.cpp); predicate regions
// are evaluated over intervals: index values become [lo, hi] pairs and i1
// values become (mustBeTrue, mustBeFalse) pairs, both emitted as runtime
// arithmetic on the tile bounds.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/MaskAnalysis.h"
#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The bounds of `pattern` (a MaskPatternAttrInterface) over `tile`.
TileBounds classifyPattern(MaskEmitter &e, Attribute pattern,
                           const QueryTile &tile, Value jLo, Value jHi) {
  return cast<MaskPatternAttrInterface>(pattern).classifyTile(e, tile, jLo,
                                                              jHi);
}

/// Interval evaluation of a predicate region.
class IntervalEvaluator {
public:
  IntervalEvaluator(MaskEmitter &e) : e(e) {}

  /// Returns (mustBeTrue, mustBeFalse) of the region's yield, or failure if
  /// it uses an op this evaluator does not model.
  FailureOr<TileClass> evaluate(Region &region, const QueryTile &t, Value jLo,
                                Value jHi) {
    Block &block = region.front();
    ranges[block.getArgument(0)] = {t.batch, t.batch};
    ranges[block.getArgument(1)] = {t.head, t.head};
    ranges[block.getArgument(2)] = {t.iLo, t.iHi};
    ranges[block.getArgument(3)] = {jLo, jHi};
    for (Operation &op : block.without_terminator())
      if (failed(visit(&op)))
        return failure();
    Value result = cast<YieldOp>(block.getTerminator()).getValue();
    std::optional<Truth> t2 = truthOf(result);
    if (!t2)
      return failure();
    // Truth is (mustBeFalse, mustBeTrue): empty and full respectively.
    return TileClass{t2->first, t2->second};
  }

  /// Whether the interval rules are sound for `region` (checked without
  /// emitting): every op is modelled, unsigned ops only see operands that
  /// are non-negative at compile time, and no bound can wrap around.
  static bool isAnalyzable(Region &region);

private:
  using Range = std::pair<Value, Value>; // [lo, hi]
  using Truth = std::pair<Value, Value>; // (mustFalse, mustTrue)

  /// The range of `v`: computed in the region, or a constant (possibly
  /// hoisted out of the region by folding).
  std::optional<Range> rangeOf(Value v) {
    auto it = ranges.find(v);
    if (it != ranges.end())
      return it->second;
    APInt c;
    if (!v.getType().isInteger(1) && matchPattern(v, m_ConstantInt(&c))) {
      Value cv = e.index(c.getSExtValue());
      return Range{cv, cv};
    }
    return std::nullopt;
  }

  std::optional<Truth> truthOf(Value v) {
    auto it = truth.find(v);
    if (it != truth.end())
      return it->second;
    APInt c;
    if (v.getType().isInteger(1) && matchPattern(v, m_ConstantInt(&c)))
      return Truth{e.boolean(c.isZero()), e.boolean(!c.isZero())};
    return std::nullopt;
  }

  LogicalResult visit(Operation *op) {
    for (auto rules :
         {&IntervalEvaluator::visitArithmetic,
          &IntervalEvaluator::visitDivision, &IntervalEvaluator::visitLogic})
      if (std::optional<LogicalResult> r = (this->*rules)(op))
        return *r;
    return failure();
  }

  /// Constants, casts, sums, products, min and max; nullopt for other ops.
  std::optional<LogicalResult> visitArithmetic(Operation *op) {
    return llvm::TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
        .Case<arith::ConstantOp>([&](arith::ConstantOp c) -> LogicalResult {
          auto attr = dyn_cast<IntegerAttr>(c.getValue());
          if (!attr)
            return failure();
          if (c.getType().isInteger(1)) {
            bool v = attr.getValue().getBoolValue();
            truth[c] = {e.boolean(!v), e.boolean(v)};
          } else {
            Value v = e.index(attr.getValue().getSExtValue());
            ranges[c] = {v, v};
          }
          return success();
        })
        .Case<arith::IndexCastOp>([&](arith::IndexCastOp c) {
          return copyRange(c.getIn(), c.getOut());
        })
        .Case<arith::AddIOp>([&](arith::AddIOp o) {
          return binary(o, [&](Range a, Range b) -> Range {
            return {e.add(a.first, b.first), e.add(a.second, b.second)};
          });
        })
        .Case<arith::SubIOp>([&](arith::SubIOp o) {
          return binary(o, [&](Range a, Range b) -> Range {
            return {e.sub(a.first, b.second), e.sub(a.second, b.first)};
          });
        })
        .Case<arith::MinSIOp>([&](arith::MinSIOp o) {
          return binary(o, [&](Range a, Range b) -> Range {
            return {e.min(a.first, b.first), e.min(a.second, b.second)};
          });
        })
        .Case<arith::MaxSIOp>([&](arith::MaxSIOp o) {
          return binary(o, [&](Range a, Range b) -> Range {
            return {e.max(a.first, b.first), e.max(a.second, b.second)};
          });
        })
        .Case<arith::MulIOp>([&](arith::MulIOp o) -> LogicalResult {
          // Products of ranges: the extremes are among the corner products.
          std::optional<Range> a = rangeOf(o.getLhs()), b = rangeOf(o.getRhs());
          if (!a || !b)
            return failure();
          Value p1 = e.mul(a->first, b->first);
          Value p2 = e.mul(a->first, b->second);
          Value p3 = e.mul(a->second, b->first);
          Value p4 = e.mul(a->second, b->second);
          ranges[o] = {e.min(e.min(p1, p2), e.min(p3, p4)),
                       e.max(e.max(p1, p2), e.max(p3, p4))};
          return success();
        })
        .Default([](Operation *) { return std::nullopt; });
  }

  /// Divisions, remainders, shifts, absi and unsigned min/max.
  std::optional<LogicalResult> visitDivision(Operation *op) {
    return llvm::TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
        .Case<arith::FloorDivSIOp, arith::DivSIOp, arith::DivUIOp>(
            [&](auto o) -> LogicalResult {
              // Monotone in the dividend for a positive constant divisor.
              std::optional<int64_t> d = constantOf(o.getRhs());
              std::optional<Range> a = rangeOf(o.getLhs());
              if (!d || *d <= 0 || !a)
                return failure();
              Value dv = e.index(*d);
              using OpT = decltype(o);
              auto div = [&](Value x) -> Value {
                return OpT::create(e.b, e.loc, x, dv);
              };
              ranges[o] = {div(a->first), div(a->second)};
              return success();
            })
        .Case<arith::RemSIOp, arith::RemUIOp>([&](auto o) -> LogicalResult {
          std::optional<int64_t> d = constantOf(o.getRhs());
          std::optional<Range> a = rangeOf(o.getLhs());
          if (!d || *d <= 0 || !a)
            return failure();
          // Exact when the range stays inside one period and is
          // non-negative; otherwise any remainder of that sign.
          Value dv = e.index(*d);
          Value lo = a->first, hi = a->second;
          Value nonNeg = e.le(e.index(0), lo);
          Value same =
              e.andI(nonNeg, e.eq(e.floorDiv(lo, dv), e.floorDiv(hi, dv)));
          using OpT = decltype(o);
          Value rLo = OpT::create(e.b, e.loc, lo, dv);
          Value rHi = OpT::create(e.b, e.loc, hi, dv);
          Value anyLo = e.select(nonNeg, e.index(0), e.index(1 - *d));
          ranges[o] = {e.select(same, rLo, anyLo),
                       e.select(same, rHi, e.index(*d - 1))};
          return success();
        })
        .Case<arith::CeilDivSIOp>([&](arith::CeilDivSIOp o) -> LogicalResult {
          // Monotone in the dividend for a positive constant divisor.
          std::optional<int64_t> d = constantOf(o.getRhs());
          std::optional<Range> a = rangeOf(o.getLhs());
          if (!d || *d <= 0 || !a)
            return failure();
          Value dv = e.index(*d);
          auto div = [&](Value x) -> Value {
            return arith::CeilDivSIOp::create(e.b, e.loc, x, dv);
          };
          ranges[o] = {div(a->first), div(a->second)};
          return success();
        })
        .Case<arith::ShLIOp, arith::ShRSIOp, arith::ShRUIOp>(
            [&](auto o) -> LogicalResult {
              // A constant shift is monotone (a product or a floor
              // division by 2^c); shrui only sees non-negative values.
              std::optional<int64_t> c = constantOf(o.getRhs());
              std::optional<Range> a = rangeOf(o.getLhs());
              if (!c || *c < 0 || *c > 62 || !a)
                return failure();
              Value cv = e.index(*c);
              using OpT = decltype(o);
              auto shift = [&](Value x) -> Value {
                return OpT::create(e.b, e.loc, x, cv);
              };
              ranges[o] = {shift(a->first), shift(a->second)};
              return success();
            })
        .Case<math::AbsIOp>([&](math::AbsIOp o) -> LogicalResult {
          std::optional<Range> a = rangeOf(o.getOperand());
          if (!a)
            return failure();
          Value lo = a->first, hi = a->second, zero = e.index(0);
          Value negLo = e.sub(zero, lo), negHi = e.sub(zero, hi);
          ranges[o] = {e.select(e.le(zero, lo), lo,
                                e.select(e.le(hi, zero), negHi, zero)),
                       e.max(negLo, hi)};
          return success();
        })
        .Case<arith::MinUIOp>([&](arith::MinUIOp o) {
          // Non-negative operands (isAnalyzable): the signed order.
          return binary(o, [&](Range a, Range b) -> Range {
            return {e.min(a.first, b.first), e.min(a.second, b.second)};
          });
        })
        .Case<arith::MaxUIOp>([&](arith::MaxUIOp o) {
          return binary(o, [&](Range a, Range b) -> Range {
            return {e.max(a.first, b.first), e.max(a.second, b.second)};
          });
        })
        .Case<arith::IndexCastUIOp>([&](arith::IndexCastUIOp c) {
          return copyRange(c.getIn(), c.getOut());
        })
        .Default([](Operation *) { return std::nullopt; });
  }

  /// Comparisons, i1 logic and selects.
  std::optional<LogicalResult> visitLogic(Operation *op) {
    return llvm::TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
        .Case<arith::CmpIOp>([&](arith::CmpIOp o) { return compare(o); })
        .Case<arith::AndIOp>([&](arith::AndIOp o) -> LogicalResult {
          std::optional<Truth> a = truthOf(o.getLhs()), b = truthOf(o.getRhs());
          if (!a || !b)
            return failure();
          truth[o] = {e.orI(a->first, b->first), e.andI(a->second, b->second)};
          return success();
        })
        .Case<arith::OrIOp>([&](arith::OrIOp o) -> LogicalResult {
          std::optional<Truth> a = truthOf(o.getLhs()), b = truthOf(o.getRhs());
          if (!a || !b)
            return failure();
          truth[o] = {e.andI(a->first, b->first), e.orI(a->second, b->second)};
          return success();
        })
        .Case<arith::XOrIOp>([&](arith::XOrIOp o) -> LogicalResult {
          // x xor y: certain only when both are certain.
          std::optional<Truth> a = truthOf(o.getLhs()), b = truthOf(o.getRhs());
          if (!a || !b)
            return failure();
          Value aT = a->second, aF = a->first;
          Value bT = b->second, bF = b->first;
          truth[o] = {e.orI(e.andI(aT, bT), e.andI(aF, bF)),
                      e.orI(e.andI(aT, bF), e.andI(aF, bT))};
          return success();
        })
        .Case<arith::SelectOp>([&](arith::SelectOp o) -> LogicalResult {
          std::optional<Truth> c = truthOf(o.getCondition());
          if (!c)
            return failure();
          Value cT = c->second, cF = c->first;
          if (o.getType().isInteger(1)) {
            std::optional<Truth> x = truthOf(o.getTrueValue()),
                                 y = truthOf(o.getFalseValue());
            if (!x || !y)
              return failure();
            auto pick = [&](Value xv, Value yv) {
              return e.orI(e.orI(e.andI(cT, xv), e.andI(cF, yv)),
                           e.andI(xv, yv));
            };
            truth[o] = {pick(x->first, y->first), pick(x->second, y->second)};
            return success();
          }
          std::optional<Range> x = rangeOf(o.getTrueValue()),
                               y = rangeOf(o.getFalseValue());
          if (!x || !y)
            return failure();
          Value hullLo = e.min(x->first, y->first);
          Value hullHi = e.max(x->second, y->second);
          ranges[o] = {
              e.select(cT, x->first, e.select(cF, y->first, hullLo)),
              e.select(cT, x->second, e.select(cF, y->second, hullHi))};
          return success();
        })
        .Default([](Operation *) { return std::nullopt; });
  }

  LogicalResult copyRange(Value from, Value to) {
    std::optional<Range> r = rangeOf(from);
    if (!r)
      return failure();
    ranges[to] = *r;
    return success();
  }

  template <typename OpT>
  LogicalResult binary(OpT o, function_ref<Range(Range, Range)> fn) {
    std::optional<Range> a = rangeOf(o.getLhs()), b = rangeOf(o.getRhs());
    if (!a || !b)
      return failure();
    ranges[o] = fn(*a, *b);
    return success();
  }

  std::optional<int64_t> constantOf(Value v) {
    std::optional<Range> r = rangeOf(v);
    if (!r)
      return std::nullopt;
    auto lo = getConstantIntValue(r->first);
    auto hi = getConstantIntValue(r->second);
    if (!lo || !hi || *lo != *hi)
      return std::nullopt;
    return *lo;
  }

  LogicalResult compare(arith::CmpIOp o) {
    std::optional<Range> a = rangeOf(o.getLhs()), b = rangeOf(o.getRhs());
    if (!a || !b)
      return failure();
    Value aLo = a->first, aHi = a->second;
    Value bLo = b->first, bHi = b->second;
    // (mustFalse, mustTrue) of x < y and x <= y over ranges.
    auto lt = [&](Value xLo, Value xHi, Value yLo, Value yHi) -> Truth {
      return {e.le(yHi, xLo), e.lt(xHi, yLo)};
    };
    auto le = [&](Value xLo, Value xHi, Value yLo, Value yHi) -> Truth {
      return {e.lt(yHi, xLo), e.le(xHi, yLo)};
    };
    Truth t;
    using P = arith::CmpIPredicate;
    P pred = o.getPredicate();
    bool isUnsigned =
        pred == P::ult || pred == P::ule || pred == P::ugt || pred == P::uge;
    switch (pred) {
    case P::slt:
    case P::ult:
      t = lt(aLo, aHi, bLo, bHi);
      break;
    case P::sle:
    case P::ule:
      t = le(aLo, aHi, bLo, bHi);
      break;
    case P::sgt:
    case P::ugt:
      t = lt(bLo, bHi, aLo, aHi);
      break;
    case P::sge:
    case P::uge:
      t = le(bLo, bHi, aLo, aHi);
      break;
    case P::eq:
    case P::ne: {
      Value disjoint = e.orI(e.lt(aHi, bLo), e.lt(bHi, aLo));
      Value single =
          e.andI(e.andI(e.eq(aLo, aHi), e.eq(bLo, bHi)), e.eq(aLo, bLo));
      t = pred == P::eq ? Truth{disjoint, single} : Truth{single, disjoint};
      break;
    }
    }
    if (isUnsigned) {
      // Unsigned order equals signed order only for non-negative operands.
      Value nonNeg = e.andI(e.le(e.index(0), aLo), e.le(e.index(0), bLo));
      t = {e.andI(nonNeg, t.first), e.andI(nonNeg, t.second)};
    }
    truth[o] = t;
    return success();
  }

  MaskEmitter &e;
  llvm::DenseMap<Value, Range> ranges;
  llvm::DenseMap<Value, Truth> truth;
};

/// What is known at compile time of an integer value of a predicate region:
/// whether it is non-negative, and a bound on its magnitude in bits. The
/// region's arguments (batch, head, query and key positions) are below 2^31.
struct StaticBound {
  bool nonNegative;
  int bits;
};

int bitsOf(int64_t c) {
  uint64_t m = c < 0 ? ~static_cast<uint64_t>(c) + 1 : c;
  return m == 0 ? 0 : 64 - llvm::countl_zero(m);
}

/// What is known at compile time of `v`: a bound already computed, or a
/// constant's.
std::optional<StaticBound>
knownBound(Value v, const llvm::DenseMap<Value, StaticBound> &known) {
  if (auto it = known.find(v); it != known.end())
    return it->second;
  APInt c;
  if (matchPattern(v, m_ConstantInt(&c)))
    return StaticBound{!c.isNegative(), bitsOf(c.getSExtValue())};
  return std::nullopt;
}

/// Constants, casts, sums, products, min/max, absi, selects and i1 ops, on
/// operand bounds `a` (first) and `b` (last); nullopt for other ops.
std::optional<StaticBound>
arithmeticBound(Operation *op, std::optional<StaticBound> a,
                std::optional<StaticBound> b,
                function_ref<std::optional<StaticBound>(Value)> of) {
  auto both = [&](auto fn) -> std::optional<StaticBound> {
    if (!a || !b)
      return std::nullopt;
    return fn(*a, *b);
  };
  return llvm::TypeSwitch<Operation *, std::optional<StaticBound>>(op)
      .Case<arith::ConstantOp>(
          [&](arith::ConstantOp c) -> std::optional<StaticBound> {
            auto attr = dyn_cast<IntegerAttr>(c.getValue());
            if (!attr)
              return std::nullopt;
            return StaticBound{!attr.getValue().isNegative() ||
                                   c.getType().isInteger(1),
                               c.getType().isInteger(1)
                                   ? 1
                                   : bitsOf(attr.getValue().getSExtValue())};
          })
      .Case<arith::IndexCastOp, arith::IndexCastUIOp>(
          [&](Operation *c) -> std::optional<StaticBound> {
            // A narrower type must hold the value; the unsigned cast
            // only a non-negative one.
            unsigned width =
                c->getResult(0).getType().isIndex()
                    ? 64
                    : c->getResult(0).getType().getIntOrFloatBitWidth();
            if (!a || a->bits >= static_cast<int>(width) - 1 ||
                (isa<arith::IndexCastUIOp>(c) && !a->nonNegative))
              return std::nullopt;
            return a;
          })
      .Case<arith::AddIOp>([&](auto) {
        return both([](StaticBound x, StaticBound y) {
          return StaticBound{x.nonNegative && y.nonNegative,
                             std::max(x.bits, y.bits) + 1};
        });
      })
      .Case<arith::SubIOp>([&](auto) {
        // Two non-negative values: the difference is smaller than both.
        return both([](StaticBound x, StaticBound y) {
          bool sameSign = x.nonNegative && y.nonNegative;
          return StaticBound{false,
                             std::max(x.bits, y.bits) + (sameSign ? 0 : 1)};
        });
      })
      .Case<arith::MulIOp>([&](auto) {
        return both([](StaticBound x, StaticBound y) {
          return StaticBound{x.nonNegative && y.nonNegative, x.bits + y.bits};
        });
      })
      .Case<arith::MinSIOp, arith::MaxSIOp>(
          [&](Operation *o) -> std::optional<StaticBound> {
            bool isMin = isa<arith::MinSIOp>(o);
            return both([&](StaticBound x, StaticBound y) {
              return StaticBound{isMin ? x.nonNegative && y.nonNegative
                                       : x.nonNegative || y.nonNegative,
                                 std::max(x.bits, y.bits)};
            });
          })
      .Case<math::AbsIOp>([&](auto) -> std::optional<StaticBound> {
        if (!a)
          return std::nullopt;
        return StaticBound{true, a->bits};
      })
      .Case<arith::SelectOp>(
          [&](arith::SelectOp s) -> std::optional<StaticBound> {
            std::optional<StaticBound> x = of(s.getTrueValue()),
                                       y = of(s.getFalseValue());
            if (!x || !y)
              return std::nullopt;
            return StaticBound{x->nonNegative && y->nonNegative,
                               std::max(x->bits, y->bits)};
          })
      // i1 results: truth values, no integer bound needed.
      .Case<arith::CmpIOp, arith::AndIOp, arith::OrIOp, arith::XOrIOp>(
          [&](Operation *o) -> std::optional<StaticBound> {
            if (!o->getResult(0).getType().isInteger(1))
              return std::nullopt;
            return StaticBound{true, 1};
          })

      .Default([](Operation *) { return std::nullopt; });
}

/// Divisions, remainders and shifts by the constant `rhs`, and unsigned
/// min/max: nullopt unless the rules are sound for them.
std::optional<StaticBound> divisionBound(Operation *op,
                                         std::optional<StaticBound> a,
                                         std::optional<StaticBound> b,
                                         std::optional<int64_t> rhs) {
  // A positive constant divisor or a shift amount in [0, 62].
  bool positiveDivisor = rhs && *rhs > 0;
  bool shiftAmount = rhs && *rhs >= 0 && *rhs <= 62;
  return llvm::TypeSwitch<Operation *, std::optional<StaticBound>>(op)
      .Case<arith::FloorDivSIOp, arith::DivSIOp, arith::CeilDivSIOp>(
          [&](auto) -> std::optional<StaticBound> {
            if (!positiveDivisor)
              return std::nullopt;
            return a;
          })
      .Case<arith::DivUIOp, arith::ShRUIOp>(
          [&](Operation *o) -> std::optional<StaticBound> {
            bool okRhs = isa<arith::DivUIOp>(o) ? positiveDivisor : shiftAmount;
            if (!okRhs || !a || !a->nonNegative)
              return std::nullopt;
            return a;
          })
      .Case<arith::ShRSIOp>([&](auto) -> std::optional<StaticBound> {
        if (!shiftAmount)
          return std::nullopt;
        return a;
      })
      .Case<arith::ShLIOp>([&](auto) -> std::optional<StaticBound> {
        if (!shiftAmount || !a)
          return std::nullopt;
        return StaticBound{a->nonNegative, a->bits + static_cast<int>(*rhs)};
      })
      .Case<arith::RemSIOp>([&](auto) -> std::optional<StaticBound> {
        if (!positiveDivisor || !a)
          return std::nullopt;
        return StaticBound{a->nonNegative, std::min(a->bits, bitsOf(*rhs))};
      })
      .Case<arith::RemUIOp>([&](auto) -> std::optional<StaticBound> {
        // Any operand: the remainder lies in [0, d), inside the rule's
        // hull [1 - d, d - 1] even for a negative (huge) dividend.
        if (!positiveDivisor || !a)
          return std::nullopt;
        return StaticBound{true, bitsOf(*rhs)};
      })
      .Case<arith::MinUIOp, arith::MaxUIOp>(
          [&](auto) -> std::optional<StaticBound> {
            if (!a || !b || !a->nonNegative || !b->nonNegative)
              return std::nullopt;
            return StaticBound{true, std::max(a->bits, b->bits)};
          })
      .Default([](Operation *) { return std::nullopt; });
}

/// The static bound of `op`'s result, or nullopt if the interval rules are
/// not sound for it: an op they do not model, an unsigned op whose operand
/// may be negative (divui of a negative difference is huge, not small), or a
/// bound that could wrap around (interval arithmetic assumes it does not).
std::optional<StaticBound>
staticBound(Operation *op, const llvm::DenseMap<Value, StaticBound> &known) {
  auto of = [&](Value v) { return knownBound(v, known); };
  std::optional<StaticBound> a, b;
  if (op->getNumOperands() >= 1)
    a = of(op->getOperand(0));
  if (op->getNumOperands() >= 2)
    b = of(op->getOperand(op->getNumOperands() - 1));
  std::optional<int64_t> rhs;
  APInt c;
  if (op->getNumOperands() == 2 &&
      matchPattern(op->getOperand(1), m_ConstantInt(&c)))
    rhs = c.getSExtValue();
  std::optional<StaticBound> r = arithmeticBound(op, a, b, of);
  if (!r)
    r = divisionBound(op, a, b, rhs);
  // Every value, hence every bound the rules compute, must fit in i64.
  if (r && r->bits > 63)
    return std::nullopt;
  return r;
}

bool IntervalEvaluator::isAnalyzable(Region &region) {
  Block &block = region.front();
  llvm::DenseMap<Value, StaticBound> known;
  for (BlockArgument arg : block.getArguments())
    known[arg] = {true, 31};
  for (Operation &op : block.without_terminator()) {
    std::optional<StaticBound> bound = staticBound(&op, known);
    if (!bound)
      return false;
    known[op.getResult(0)] = *bound;
  }
  return true;
}

} // namespace

MaskAnalysis::MaskAnalysis(ArrayAttr patterns, Region *predicate)
    : patterns(patterns),
      predicate(predicate && !predicate->empty() ? predicate : nullptr) {}

bool MaskAnalysis::shifts(Attribute p) const {
  return keyBase && cast<MaskPatternAttrInterface>(p).getDataKind() ==
                        MaskDataKind::Position;
}

std::pair<Value, Value> MaskAnalysis::keysSeenBy(MaskEmitter &e, Attribute p,
                                                 Value jLo, Value jHi) const {
  if (!shifts(p))
    return {jLo, jHi};
  return {e.add(jLo, keyBase), e.add(jHi, keyBase)};
}

bool MaskAnalysis::isTrivial() const { return patterns.empty() && !predicate; }

std::pair<Value, Value> MaskAnalysis::keyRange(OpBuilder &b, Location loc,
                                               const QueryTile &tile,
                                               Value skv) const {
  MaskEmitter e(b, loc);
  Value lo = e.index(0), hi = skv;
  // The classification operands are unused here; pass the tile bounds.
  Value zero = lo;
  for (Attribute p : patterns) {
    TileBounds pb = classifyPattern(e, p, tile, zero, zero);
    // Position bounds of a positioned attention, as key indices.
    if (pb.lo)
      lo = e.max(lo, shifts(p) ? e.sub(pb.lo, keyBase) : pb.lo);
    if (pb.hi)
      hi = e.min(hi, shifts(p) ? e.sub(pb.hi, keyBase) : pb.hi);
  }
  // An empty range may come out inverted; make it empty but well formed.
  hi = e.max(hi, lo);
  lo = e.min(lo, skv);
  hi = e.min(hi, skv);
  return {lo, hi};
}

TileClass MaskAnalysis::classify(OpBuilder &b, Location loc,
                                 const QueryTile &tile, Value jLo,
                                 Value jHi) const {
  MaskEmitter e(b, loc);
  TileClass cls{e.boolean(false), e.boolean(true)};
  for (Attribute p : patterns) {
    auto [lo, hi] = keysSeenBy(e, p, jLo, jHi);
    TileBounds pb = classifyPattern(e, p, tile, lo, hi);
    cls.empty = e.orI(cls.empty, pb.cls.empty);
    cls.full = e.andI(cls.full, pb.cls.full);
  }
  if (predicate) {
    FailureOr<TileClass> pc = failure();
    if (IntervalEvaluator::isAnalyzable(*predicate)) {
      IntervalEvaluator eval(e);
      if (keyBase)
        pc = eval.evaluate(*predicate,
                           QueryTile{tile.batch, tile.head, tile.alignedLo,
                                     tile.alignedHi, tile.alignedLo,
                                     tile.alignedHi},
                           e.add(jLo, keyBase), e.add(jHi, keyBase));
      else
        pc = eval.evaluate(*predicate, tile, jLo, jHi);
    }
    if (succeeded(pc)) {
      cls.empty = e.orI(cls.empty, pc->empty);
      cls.full = e.andI(cls.full, pc->full);
    } else {
      cls.full = e.boolean(false);
    }
  }
  return cls;
}

bool MaskAnalysis::hasRowIntervals() const {
  if (predicate)
    return false;
  return llvm::all_of(patterns, [](Attribute p) {
    return cast<MaskPatternAttrInterface>(p).hasRowInterval();
  });
}

std::pair<Value, Value> MaskAnalysis::rowInterval(OpBuilder &b, Location loc,
                                                  Value aligned,
                                                  Value head) const {
  MaskEmitter e(b, loc);
  // A single query is a tile of one row; its key range is exact for these
  // patterns.
  QueryTile row{Value(), head, Value(), Value(), aligned, aligned};
  Value lo = e.index(std::numeric_limits<int32_t>::min());
  Value hi = e.index(std::numeric_limits<int32_t>::max());
  for (Attribute p : patterns) {
    TileBounds pb = classifyPattern(e, p, row, aligned, aligned);
    if (pb.lo)
      lo = e.max(lo, pb.lo);
    if (pb.hi)
      hi = e.min(hi, pb.hi);
  }
  // Every pattern here is a position pattern: positions back to indices.
  if (keyBase)
    return {e.sub(lo, keyBase), e.sub(hi, keyBase)};
  return {lo, hi};
}
