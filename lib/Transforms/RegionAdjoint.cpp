//===- RegionAdjoint.cpp - reverse mode through scalar regions ------------===//
//
// Forward values are cloned once; adjoints are then accumulated in reverse
// op order, one rule per arith/math op. Integer, index and i1 values carry
// no adjoint (comparisons, index arithmetic and casts from integers are
// piecewise constant).
//
//===----------------------------------------------------------------------===//
#include "attn/Transforms/RegionAdjoint.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

#include "llvm/Support/MathExtras.h"
#include <cmath>

using namespace mlir;
using namespace mlir::attn;

namespace {

bool isFloat(Value v) { return isa<FloatType>(v.getType()); }

/// Ops that produce no float or whose float result is piecewise constant.
bool hasNoDerivative(Operation *op) {
  if (llvm::none_of(op->getResults(), isFloat))
    return true;
  return isa<arith::ConstantOp, arith::SIToFPOp, arith::UIToFPOp, math::FloorOp,
             math::CeilOp, math::RoundOp, math::RoundEvenOp, math::TruncOp>(op);
}

/// Ops with an adjoint rule in AdjointEmitter::propagate.
bool hasRule(Operation *op) {
  return isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp,
             arith::NegFOp, arith::MaximumFOp, arith::MaxNumFOp,
             arith::MinimumFOp, arith::MinNumFOp, arith::SelectOp,
             arith::ExtFOp, arith::TruncFOp, math::ExpOp, math::Exp2Op,
             math::ExpM1Op, math::LogOp, math::Log2Op, math::Log1pOp,
             math::TanhOp, math::SqrtOp, math::RsqrtOp, math::PowFOp,
             math::AbsFOp, math::SinOp, math::CosOp, math::ErfOp, math::FmaOp,
             math::CopySignOp, tensor::ExtractOp>(op);
}

class AdjointEmitter {
public:
  AdjointEmitter(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  LogicalResult run(Block &block, ValueRange args, ValueRange seeds,
                    ExtractAdjointFn onExtract, SmallVectorImpl<Value> &out);

private:
  Value cst(Type t, double v) {
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(t, v));
  }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value neg(Value x) { return arith::NegFOp::create(b, loc, x); }
  Value fwd(Value v) { return map.lookupOrDefault(v); }

  /// Adds `g` to the adjoint of the original value `v` (float only).
  void accumulate(Value v, Value g) {
    if (!isFloat(v))
      return;
    Value &slot = adjoints[v];
    slot = slot ? add(slot, g) : g;
  }
  /// `g` where `c` holds, else 0 (c is an i1 forward value).
  Value where(Value c, Value g, bool invert = false) {
    Value zero = cst(g.getType(), 0.0);
    return invert ? arith::SelectOp::create(b, loc, c, zero, g)
                  : arith::SelectOp::create(b, loc, c, g, zero);
  }
  Value cmp(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }

  void propagate(Operation *op, Value g, ExtractAdjointFn onExtract);
  void propagateMath(Operation *op, Value g);

  OpBuilder &b;
  Location loc;
  IRMapping map;
  DenseMap<Value, Value> adjoints;
};

void AdjointEmitter::propagate(Operation *op, Value g,
                               ExtractAdjointFn onExtract) {
  auto x = [&](unsigned i) { return fwd(op->getOperand(i)); };
  auto arg = [&](unsigned i) { return op->getOperand(i); };
  Value y = fwd(op->getResult(0));
  llvm::TypeSwitch<Operation *>(op)
      .Case<arith::AddFOp>([&](auto) {
        accumulate(arg(0), g);
        accumulate(arg(1), g);
      })
      .Case<arith::SubFOp>([&](auto) {
        accumulate(arg(0), g);
        accumulate(arg(1), neg(g));
      })
      .Case<arith::MulFOp>([&](auto) {
        accumulate(arg(0), mul(g, x(1)));
        accumulate(arg(1), mul(g, x(0)));
      })
      .Case<arith::DivFOp>([&](auto) {
        Value gb = div(g, x(1));
        accumulate(arg(0), gb);
        accumulate(arg(1), neg(mul(gb, y)));
      })
      .Case<arith::NegFOp>([&](auto) { accumulate(arg(0), neg(g)); })
      .Case<arith::MaximumFOp, arith::MaxNumFOp>([&](auto) {
        // Ties go to the first operand.
        Value first = cmp(arith::CmpFPredicate::OGE, x(0), x(1));
        accumulate(arg(0), where(first, g));
        accumulate(arg(1), where(first, g, /*invert=*/true));
      })
      .Case<arith::MinimumFOp, arith::MinNumFOp>([&](auto) {
        Value first = cmp(arith::CmpFPredicate::OLE, x(0), x(1));
        accumulate(arg(0), where(first, g));
        accumulate(arg(1), where(first, g, /*invert=*/true));
      })
      .Case<arith::SelectOp>([&](auto) {
        accumulate(arg(1), where(x(0), g));
        accumulate(arg(2), where(x(0), g, /*invert=*/true));
      })
      .Case<arith::ExtFOp>([&](auto) {
        accumulate(arg(0), arith::TruncFOp::create(b, loc, x(0).getType(), g));
      })
      .Case<arith::TruncFOp>([&](auto) {
        accumulate(arg(0), arith::ExtFOp::create(b, loc, x(0).getType(), g));
      })
      .Case<tensor::ExtractOp>([&](tensor::ExtractOp e) {
        if (onExtract)
          onExtract(e.getTensor(),
                    llvm::map_to_vector(e.getIndices(),
                                        [&](Value v) { return fwd(v); }),
                    g);
      })
      .Default([&](Operation *) { propagateMath(op, g); });
}

void AdjointEmitter::propagateMath(Operation *op, Value g) {
  auto x = [&](unsigned i) { return fwd(op->getOperand(i)); };
  Value a = op->getNumOperands() ? op->getOperand(0) : Value();
  Value y = fwd(op->getResult(0));
  Type t = y.getType();
  llvm::TypeSwitch<Operation *>(op)
      .Case<math::ExpOp>([&](auto) { accumulate(a, mul(g, y)); })
      .Case<math::Exp2Op>([&](auto) {
        accumulate(a, mul(mul(g, y), cst(t, llvm::numbers::ln2)));
      })
      .Case<math::ExpM1Op>(
          [&](auto) { accumulate(a, mul(g, add(y, cst(t, 1.0)))); })
      .Case<math::LogOp>([&](auto) { accumulate(a, div(g, x(0))); })
      .Case<math::Log2Op>([&](auto) {
        accumulate(a, div(g, mul(x(0), cst(t, llvm::numbers::ln2))));
      })
      .Case<math::Log1pOp>(
          [&](auto) { accumulate(a, div(g, add(x(0), cst(t, 1.0)))); })
      .Case<math::TanhOp>([&](auto) {
        Value oneMinusY2 =
            arith::SubFOp::create(b, loc, cst(t, 1.0), mul(y, y));
        accumulate(a, mul(g, oneMinusY2));
      })
      .Case<math::SqrtOp>(
          [&](auto) { accumulate(a, div(mul(g, cst(t, 0.5)), y)); })
      .Case<math::RsqrtOp>([&](auto) {
        accumulate(a, neg(div(mul(mul(g, cst(t, 0.5)), y), x(0))));
      })
      .Case<math::PowFOp>([&](auto) {
        // d/da a^p = p a^(p-1); d/dp a^p = a^p log a.
        Value pm1 = arith::SubFOp::create(b, loc, x(1), cst(t, 1.0));
        Value powPm1 = math::PowFOp::create(b, loc, x(0), pm1);
        accumulate(a, mul(g, mul(x(1), powPm1)));
        accumulate(op->getOperand(1),
                   mul(g, mul(y, math::LogOp::create(b, loc, x(0)))));
      })
      .Case<math::AbsFOp>([&](auto) {
        Value negative = cmp(arith::CmpFPredicate::OLT, x(0), cst(t, 0.0));
        accumulate(a, arith::SelectOp::create(b, loc, negative, neg(g), g));
      })
      .Case<math::CopySignOp>([&](auto) {
        // |a| with the sign of b: the derivative is sign(a)·sign(y).
        Value flip = arith::CmpFOp::create(
            b, loc, arith::CmpFPredicate::ONE,
            cmp(arith::CmpFPredicate::OLT, x(0), cst(t, 0.0)),
            cmp(arith::CmpFPredicate::OLT, y, cst(t, 0.0)));
        accumulate(a, arith::SelectOp::create(b, loc, flip, neg(g), g));
      })
      .Case<math::SinOp>([&](auto) {
        accumulate(a, mul(g, math::CosOp::create(b, loc, x(0))));
      })
      .Case<math::CosOp>([&](auto) {
        accumulate(a, neg(mul(g, math::SinOp::create(b, loc, x(0)))));
      })
      .Case<math::ErfOp>([&](auto) {
        Value e = math::ExpOp::create(b, loc, neg(mul(x(0), x(0))));
        accumulate(a, mul(g, mul(e, cst(t, llvm::numbers::inv_sqrtpi * 2.0))));
      })
      .Case<math::FmaOp>([&](auto) {
        accumulate(a, mul(g, x(1)));
        accumulate(op->getOperand(1), mul(g, x(0)));
        accumulate(op->getOperand(2), g);
      });
}

LogicalResult AdjointEmitter::run(Block &block, ValueRange args,
                                  ValueRange seeds, ExtractAdjointFn onExtract,
                                  SmallVectorImpl<Value> &out) {
  for (auto [arg, value] : llvm::zip(block.getArguments(), args))
    map.map(arg, value);
  for (Operation &op : block.without_terminator())
    b.clone(op, map);
  Operation *term = block.getTerminator();
  for (auto [yielded, seed] : llvm::zip(term->getOperands(), seeds))
    if (seed)
      accumulate(yielded, seed);
  for (Operation &op : llvm::reverse(block.without_terminator())) {
    if (hasNoDerivative(&op))
      continue;
    Value g = adjoints.lookup(op.getResult(0));
    if (g)
      propagate(&op, g, onExtract);
  }
  for (Value yielded : term->getOperands())
    out.push_back(fwd(yielded));
  for (auto [arg, value] : llvm::zip(block.getArguments(), args)) {
    Value g = adjoints.lookup(arg);
    if (!g && isFloat(arg))
      g = cst(arg.getType(), 0.0);
    out.push_back(g);
  }
  return success();
}

} // namespace

LogicalResult mlir::attn::checkBlockDifferentiable(Block &block) {
  for (Operation &op : block.without_terminator()) {
    if (hasNoDerivative(&op) || hasRule(&op)) {
      if (auto e = dyn_cast<tensor::ExtractOp>(op);
          e && e.getTensor().getParentBlock() == &block)
        return op.emitOpError("has no derivative rule: it reads a tensor "
                              "defined inside the region");
      continue;
    }
    return op.emitOpError("has no derivative rule (attn-grad supports "
                          "arith and math ops in regions)");
  }
  return success();
}

FailureOr<SmallVector<Value>>
mlir::attn::emitBlockAdjoint(OpBuilder &b, Location loc, Block &block,
                             ValueRange args, ValueRange seeds,
                             ExtractAdjointFn onExtract) {
  if (failed(checkBlockDifferentiable(block)))
    return failure();
  SmallVector<Value> out;
  AdjointEmitter emitter(b, loc);
  if (failed(emitter.run(block, args, seeds, onExtract, out)))
    return failure();
  return out;
}
