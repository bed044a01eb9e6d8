//===- Grad.cpp - attn-grad: reverse-mode differentiation -----------------===//
//
// @F_grad recomputes F's forward (fused, so each softmax attention also
// yields the lse its backward needs), then sweeps the ops in reverse,
// accumulating one adjoint tensor per value. Fused attentions and linear
// aggregations become their fused gradient ops, which the forms lower
// without an S×S tensor; other ops use the graph-level rules (GradRules).
//
//===----------------------------------------------------------------------===//
#include "attn/Transforms/Grad.h"
#include "attn/IR/AttnOps.h"
#include "attn/Transforms/Fuse.h"
#include "attn/Transforms/GradRules.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGRAD
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
/// entmax's alpha (0 for the other kinds, which have none).
template <typename OpT> double alphaOf(OpT op) {
  return op.getAlpha() ? op.getAlpha()->convertToDouble() : 0.0;
}
} // namespace

namespace {

bool isFloatTensor(Type t) {
  auto tensor = dyn_cast<RankedTensorType>(t);
  return tensor && isa<FloatType>(tensor.getElementType());
}

/// Rebuilds softmax attentions and aggregations without an lse result with
/// one, so their backward can recompute P; unfuses entmax attentions;
/// generalises named linalg ops.
LogicalResult prepareForward(func::FuncOp fn) {
  RewritePatternSet fuse(fn.getContext());
  populateFusePatterns(fuse);
  if (failed(applyPatternsGreedily(fn, std::move(fuse))))
    return fn.emitError("attn-grad: fusing the forward did not converge");
  IRRewriter rw(fn.getContext());
  auto lseType = [](Value out) {
    auto t = cast<RankedTensorType>(out.getType());
    return RankedTensorType::get(t.getShape().drop_back(),
                                 Float32Type::get(t.getContext()));
  };
  auto withLse = [&](Operation *op, Value out) {
    rw.setInsertionPoint(op);
    OperationState state(op->getLoc(), op->getName(), op->getOperands(),
                         TypeRange{out.getType(), lseType(out)}, op->getAttrs(),
                         {}, {});
    for (unsigned i = 0; i < op->getNumRegions(); ++i)
      state.addRegion();
    Operation *fresh = rw.create(state);
    for (auto [from, to] : llvm::zip(op->getRegions(), fresh->getRegions()))
      to.takeBody(from);
    rw.replaceAllUsesWith(out, fresh->getResult(0));
    rw.eraseOp(op);
  };
  // entmax has no fused backward: its graph is differentiated instead.
  SmallVector<AttentionOp> entmax;
  fn.walk([&](AttentionOp a) {
    if (a.getKind() == AggregationKind::entmax)
      entmax.push_back(a);
  });
  for (AttentionOp a : entmax)
    (void)unfuseAttention(rw, a);
  SmallVector<Operation *> todo;
  fn.walk([&](Operation *op) {
    if (auto a = dyn_cast<AttentionOp>(op);
        a && a.getKind() == AggregationKind::softmax && !a.getLse())
      todo.push_back(op);
    if (auto a = dyn_cast<AggregateOp>(op);
        a && a.getKind() == AggregationKind::softmax && !a.getLse())
      todo.push_back(op);
  });
  for (Operation *op : todo)
    withLse(op, op->getResult(0));
  SmallVector<linalg::LinalgOp> named;
  fn.walk([&](linalg::LinalgOp op) {
    if (!isa<linalg::GenericOp>(op))
      named.push_back(op);
  });
  for (linalg::LinalgOp op : named) {
    rw.setInsertionPoint(op);
    if (failed(linalg::generalizeNamedOp(rw, op)))
      return op->emitOpError("attn-grad: cannot generalise this linalg op");
  }
  return success();
}

/// The reverse sweep over one function body.
class ReverseSweep {
public:
  ReverseSweep(OpBuilder &b, Location loc) : b(b), g(b, loc) {}

  /// Adds `grad` to the adjoint of `v`.
  void accumulate(Value v, Value grad);
  Value adjoint(Value v) const { return adjoints.lookup(v); }
  /// The adjoint of `v`, or zeros of its type.
  Value adjointOrZero(Value v);
  LogicalResult visit(Operation *op);

private:
  LogicalResult visitAttention(AttentionOp op);
  LogicalResult visitLinear(LinearAggregateOp op);
  LogicalResult visitUnfused(Operation *op);

  OpBuilder &b;
  GenericBuilder g;
  DenseMap<Value, Value> adjoints;
};

void ReverseSweep::accumulate(Value v, Value grad) {
  if (!isFloatTensor(v.getType()) || !grad)
    return;
  grad = castTo(b, g.loc, grad, v.getType());
  Value &slot = adjoints[v];
  if (!slot) {
    slot = grad;
    return;
  }
  Type elt = cast<ShapedType>(v.getType()).getElementType();
  slot = castTo(
      b, g.loc,
      elementwise(g, {slot, grad}, elt,
                  [](OpBuilder &nb, Location l, ValueRange a) {
                    return arith::AddFOp::create(nb, l, a[0], a[1]).getResult();
                  }),
      v.getType());
}

Value ReverseSweep::adjointOrZero(Value v) {
  if (Value a = adjoint(v))
    return a;
  Type elt = cast<ShapedType>(v.getType()).getElementType();
  Value zero = arith::ConstantOp::create(b, g.loc, b.getFloatAttr(elt, 0.0));
  return castTo(b, g.loc,
                g.filled(tensor::getMixedSizes(b, g.loc, v), elt, zero),
                v.getType());
}

LogicalResult ReverseSweep::visitAttention(AttentionOp op) {
  if (!op.getPositions().empty())
    return op.emitOpError("with positions has no gradient yet: differentiate "
                          "the program before attn-ring");
  Value dOut = adjointOrZero(op.getOutput());
  Value dLse = op.getLse() ? adjoint(op.getLse()) : Value();
  SmallVector<Value> captures;
  if (!op.getScoreMod().empty())
    captures = capturedFloatTensors(op.getScoreMod());
  Value sinks = op.getSinks();
  auto grad = AttentionGradOp::create(
      b, op.getLoc(), op.getQuery().getType(), op.getKey().getType(),
      op.getValue().getType(), sinks ? sinks.getType() : Type(),
      ValueRange(captures).getTypes(), op.getKindAttr(), op.getQuery(),
      op.getKey(), op.getValue(), op.getOutput(), dOut, op.getPatternsAttr(),
      op.getMaskOperands(), op.getLse(), dLse, sinks, captures,
      /*positions=*/ValueRange(), op.getScaleAttr());
  IRMapping none;
  op.getScoreMod().cloneInto(&grad.getScoreMod(), none);
  op.getPredicate().cloneInto(&grad.getPredicate(), none);
  accumulate(op.getQuery(), grad.getGradQuery());
  accumulate(op.getKey(), grad.getGradKey());
  accumulate(op.getValue(), grad.getGradValue());
  if (sinks)
    accumulate(sinks, grad.getGradSinks());
  for (auto [c, d] : llvm::zip(captures, grad.getGradCaptures()))
    accumulate(c, d);
  return success();
}

LogicalResult ReverseSweep::visitLinear(LinearAggregateOp op) {
  if (op.getState())
    return op.emitOpError("has no derivative rule when it carries a state "
                          "(attn-grad differentiates whole sequences)");
  Value decay = op.getDecay();
  auto grad = LinearAggregateGradOp::create(
      b, op.getLoc(), op.getQuery().getType(), op.getKey().getType(),
      op.getValue().getType(), decay ? decay.getType() : Type(), op.getQuery(),
      op.getKey(), op.getValue(), op.getOutput(), adjointOrZero(op.getOutput()),
      decay, op.getCausalAttr(), op.getNormalizeAttr(), op.getEpsAttr());
  accumulate(op.getQuery(), grad.getGradQuery());
  accumulate(op.getKey(), grad.getGradKey());
  accumulate(op.getValue(), grad.getGradValue());
  if (decay)
    accumulate(decay, grad.getGradDecay());
  return success();
}

LogicalResult ReverseSweep::visitUnfused(Operation *op) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<ScoreOp>([&](ScoreOp s) -> LogicalResult {
        FailureOr<ScoreGrads> d =
            scoreVJP(g, s.getQuery(), s.getKey(), s.getEffectiveScale(),
                     adjoint(s.getScores()));
        if (failed(d))
          return s.emitOpError("attn-grad needs static head counts");
        accumulate(s.getQuery(), d->query);
        accumulate(s.getKey(), d->key);
        return success();
      })
      .Case<ScoreModOp>([&](ScoreModOp s) {
        SmallVector<Value> captures = capturedFloatTensors(s.getBody());
        FailureOr<ScoreModGrads> d = scoreModVJP(
            g, s.getBody(), s.getScores(), adjoint(s.getResult()), captures);
        if (failed(d))
          return failure();
        accumulate(s.getScores(), d->scores);
        for (auto [c, dc] : llvm::zip(captures, d->captures))
          accumulate(c, dc);
        return success();
      })
      .Case<MaskOp>([&](MaskOp m) {
        accumulate(m.getScores(),
                   maskVJP(g, m.getResult(), adjoint(m.getResult())));
        return success();
      })
      .Case<AggregateOp>([&](AggregateOp a) -> LogicalResult {
        FailureOr<AggregateGrads> d = aggregateVJP(
            g, a.getKind(), a.getScores(), a.getValue(), a.getOutput(),
            a.getLse(), a.getSinks(), adjointOrZero(a.getOutput()),
            a.getLse() ? adjoint(a.getLse()) : Value(), alphaOf(a));
        if (failed(d))
          return a.emitOpError("attn-grad needs static head counts");
        accumulate(a.getScores(), d->scores);
        accumulate(a.getValue(), d->value);
        if (a.getSinks())
          accumulate(a.getSinks(), d->sinks);
        return success();
      })
      .Case<NormalizeOp>([&](NormalizeOp n) -> LogicalResult {
        accumulate(n.getScores(),
                   normalizeVJP(g, n.getKind(), n.getScores(), n.getResult(),
                                adjoint(n.getResult()), alphaOf(n)));
        return success();
      })
      .Case<MergeOp>([&](MergeOp m) {
        SmallVector<Value> d =
            mergeVJP(g, m.getPartials(), m.getOutput(), m.getLse(),
                     adjointOrZero(m.getOutput()), adjoint(m.getLse()));
        for (auto [p, dp] : llvm::zip(m.getPartials(), d))
          accumulate(p, dp);
        return success();
      })
      .Case<FeatureMapOp>([&](FeatureMapOp f) {
        FeatureMapGrads d =
            featureMapVJP(g, f.getKind(), f.getInput(), f.getWeights(),
                          f.getResult(), adjoint(f.getResult()));
        accumulate(f.getInput(), d.input);
        if (f.getWeights())
          accumulate(f.getWeights(), d.weights);
        return success();
      })
      .Case<linalg::GenericOp>([&](linalg::GenericOp l) -> LogicalResult {
        SmallVector<Value> dOuts;
        for (Value r : l->getResults())
          dOuts.push_back(adjoint(r));
        FailureOr<SmallVector<Value>> d = genericVJP(g, l, dOuts);
        if (failed(d))
          return failure();
        for (auto [operand, grad] : llvm::zip(l->getOperands(), *d))
          accumulate(operand, grad);
        return success();
      })
      .Case<tensor::CastOp, tensor::ExpandShapeOp, tensor::CollapseShapeOp,
            tensor::ExtractSliceOp, tensor::InsertSliceOp>(
          [&](Operation *t) -> LogicalResult {
            FailureOr<SmallVector<Value>> d =
                tensorOpVJP(g, t, adjoint(t->getResult(0)));
            if (failed(d))
              return failure();
            for (auto [operand, grad] : llvm::zip(t->getOperands(), *d))
              accumulate(operand, grad);
            return success();
          })
      .Default([&](Operation *other) {
        return other->emitOpError(
            "has no derivative rule: attn-grad cannot differentiate through "
            "it");
      });
}

LogicalResult ReverseSweep::visit(Operation *op) {
  if (llvm::none_of(op->getResults(), [&](Value r) { return adjoint(r); }))
    return success();
  // Piecewise constant or without float operands: nothing flows back.
  if (isa<SelectBlocksOp, SelectTopkOp, ClusterOp, LshOp, tensor::EmptyOp,
          arith::ConstantOp>(op) ||
      llvm::none_of(op->getOperandTypes(), isFloatTensor))
    return success();
  b.setInsertionPoint(op->getBlock()->getTerminator());
  if (auto a = dyn_cast<AttentionOp>(op))
    return visitAttention(a);
  if (auto l = dyn_cast<LinearAggregateOp>(op))
    return visitLinear(l);
  return visitUnfused(op);
}

} // namespace

FailureOr<func::FuncOp> mlir::attn::buildGradientFunction(func::FuncOp func) {
  std::string name = (func.getSymName() + "_grad").str();
  auto module = func->getParentOfType<ModuleOp>();
  if (SymbolTable::lookupSymbolIn(module, name))
    return func.emitError("attn-grad: a function named '")
           << name << "' already exists";
  if (!func.getBody().hasOneBlock())
    return func.emitError("attn-grad needs a function with one block");
  func::FuncOp grad = func.clone();
  grad.setSymName(name);
  grad.setPublic();
  OpBuilder top(func);
  top.setInsertionPointAfter(func);
  top.insert(grad);
  if (failed(prepareForward(grad))) {
    grad.erase();
    return failure();
  }
  Block &body = grad.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  OpBuilder b(ret);
  ReverseSweep sweep(b, grad.getLoc());
  SmallVector<Type> argTypes(func.getArgumentTypes());
  for (Value r : ret.getOperands())
    if (isFloatTensor(r.getType())) {
      argTypes.push_back(r.getType());
      sweep.accumulate(r, body.addArgument(r.getType(), r.getLoc()));
    }
  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (failed(sweep.visit(op))) {
      grad.erase();
      return failure();
    }
  b.setInsertionPoint(ret);
  SmallVector<Value> grads;
  for (BlockArgument arg :
       body.getArguments().take_front(func.getNumArguments()))
    if (isFloatTensor(arg.getType()))
      grads.push_back(sweep.adjointOrZero(arg));
  func::ReturnOp::create(b, ret.getLoc(), grads);
  ret.erase();
  grad.setFunctionType(FunctionType::get(func.getContext(), argTypes,
                                         ValueRange(grads).getTypes()));
  return grad;
}

namespace {
struct AttnGradPass : attn::impl::AttnGradBase<AttnGradPass> {
  using AttnGradBase::AttnGradBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> targets;
    for (auto fn : module.getOps<func::FuncOp>()) {
      bool selected = functions.empty()
                          ? fn.isPublic() && !fn.isExternal()
                          : llvm::is_contained(functions, fn.getSymName());
      if (selected)
        targets.push_back(fn);
    }
    for (const std::string &name : functions)
      if (!module.lookupSymbol<func::FuncOp>(name)) {
        module.emitError("attn-grad: no function named '") << name << "'";
        return signalPassFailure();
      }
    for (func::FuncOp fn : targets)
      if (failed(buildGradientFunction(fn)))
        return signalPassFailure();
  }
};
} // namespace
