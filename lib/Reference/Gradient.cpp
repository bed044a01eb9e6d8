//===- Gradient.cpp - reverse-mode gradients of the reference -------------===//
//
// evaluateGradient runs the function once with RecordedEvaluation, which
// keeps every value, then sweeps the body backwards: each op, once all its
// uses are behind it, turns the adjoints of its results into adjoints of its
// operands (accumulated, since a value may have several uses). Region bodies
// that the forward runs once per element (score_mod, linalg payloads,
// tensor.generate) are re-run point by point to record a scalar tape, which
// is then swept backwards the same way; a float tensor that such a body reads
// with tensor.extract receives its adjoint at the indices read.
//
// Only ops that some adjoint reaches are visited; such an op without a rule
// is an error naming it, never a silent zero. Integer and i1 values carry no
// adjoint, so selection ops, masks' operands and index arithmetic need none.
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/Gradient.h"
#include "attn/IR/AttnOps.h"
#include "attn/IR/AttnShapes.h"
#include "attn/Reference/AttnAdjoints.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <limits>
#include <unordered_map>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::reference;

bool mlir::attn::reference::isFloatType(Type type) {
  return isa<FloatType>(getElementTypeOrSelf(type));
}

SmallVector<unsigned>
mlir::attn::reference::cotangentResults(func::FuncOp func) {
  SmallVector<unsigned> indices;
  for (auto [k, type] : llvm::enumerate(func.getResultTypes()))
    if (isFloatType(type))
      indices.push_back(k);
  return indices;
}

SmallVector<unsigned>
mlir::attn::reference::gradientArguments(func::FuncOp func) {
  SmallVector<unsigned> indices;
  for (auto [k, type] : llvm::enumerate(func.getArgumentTypes()))
    if (isa<TensorType>(type) && isFloatType(type))
      indices.push_back(k);
  return indices;
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
/// The reduction history a linalg op may keep (doubles, 2 GiB).
constexpr int64_t kMaxHistory = int64_t(1) << 28;

//===----------------------------------------------------------------------===//
// Scalar derivatives
//===----------------------------------------------------------------------===//

/// d r / d a[k] of the arith ops on floats at operands `a` with result `r`;
/// std::nullopt when `op` is not one of them.
std::optional<bool> arithPartials(Operation *op, ArrayRef<double> a, double r,
                                  MutableArrayRef<double> d) {
  // Subgradients: max/min pick the operand that is the result (the first on
  // ties); select flows to the chosen operand.
  auto pick = [&] {
    if (r == a[0] || (std::isnan(r) && std::isnan(a[0])))
      d[0] = 1;
    else
      d[1] = 1;
    return true;
  };
  return llvm::TypeSwitch<Operation *, std::optional<bool>>(op)
      .Case<arith::AddFOp>([&](auto) { return d[0] = 1, d[1] = 1, true; })
      .Case<arith::SubFOp>([&](auto) { return d[0] = 1, d[1] = -1, true; })
      .Case<arith::MulFOp>([&](auto) { return d[0] = a[1], d[1] = a[0], true; })
      .Case<arith::DivFOp>([&](auto) {
        d[0] = 1 / a[1];
        d[1] = -a[0] / (a[1] * a[1]);
        return true;
      })
      .Case<arith::RemFOp>([&](auto) {
        d[0] = 1;
        d[1] = -std::trunc(a[0] / a[1]);
        return true;
      })
      .Case<arith::NegFOp>([&](auto) { return d[0] = -1, true; })
      .Case<arith::MaximumFOp, arith::MinimumFOp, arith::MaxNumFOp,
            arith::MinNumFOp>([&](auto) { return pick(); })
      .Case<arith::SelectOp>([&](auto) {
        (a[0] != 0 ? d[1] : d[2]) = 1;
        return true;
      })
      .Case<arith::ExtFOp, arith::TruncFOp>(
          [&](auto) { return d[0] = 1, true; })
      .Default([](Operation *) { return std::nullopt; });
}

/// d r / d a[k] of the math ops on floats; std::nullopt when `op` is not one
/// of them. Piecewise-constant functions (floor, round, ...) have 0.
std::optional<bool> mathPartials(Operation *op, ArrayRef<double> a, double r,
                                 MutableArrayRef<double> d) {
  const double ln2 = std::log(2.0), ln10 = std::log(10.0);
  const double twoOverSqrtPi = 2 / std::sqrt(std::acos(-1.0));
  auto set = [&](double x) { return d[0] = x, true; };
  return llvm::TypeSwitch<Operation *, std::optional<bool>>(op)
      .Case<math::ExpOp>([&](auto) { return set(r); })
      .Case<math::Exp2Op>([&](auto) { return set(r * ln2); })
      .Case<math::ExpM1Op>([&](auto) { return set(r + 1); })
      .Case<math::LogOp>([&](auto) { return set(1 / a[0]); })
      .Case<math::Log2Op>([&](auto) { return set(1 / (a[0] * ln2)); })
      .Case<math::Log10Op>([&](auto) { return set(1 / (a[0] * ln10)); })
      .Case<math::Log1pOp>([&](auto) { return set(1 / (1 + a[0])); })
      .Case<math::TanhOp>([&](auto) { return set(1 - r * r); })
      .Case<math::SqrtOp>([&](auto) { return set(0.5 / r); })
      .Case<math::RsqrtOp>([&](auto) { return set(-0.5 * r * r * r); })
      .Case<math::CbrtOp>([&](auto) { return set(1 / (3 * r * r)); })
      .Case<math::PowFOp>([&](auto) {
        d[0] = a[1] == 0 ? 0.0 : a[1] * std::pow(a[0], a[1] - 1);
        // d/db = r log a, taken as 0 where a <= 0 (only integer b are
        // defined there).
        d[1] = a[0] > 0 ? r * std::log(a[0]) : 0.0;
        return true;
      })
      .Case<math::FPowIOp>([&](auto) {
        return set(a[1] == 0 ? 0.0 : a[1] * std::pow(a[0], a[1] - 1));
      })
      .Case<math::AbsFOp>(
          [&](auto) { return set(a[0] > 0 ? 1.0 : (a[0] < 0 ? -1.0 : 0.0)); })
      .Case<math::CopySignOp>([&](auto) {
        return set(std::signbit(a[0]) == std::signbit(a[1]) ? 1.0 : -1.0);
      })
      .Case<math::ErfOp>(
          [&](auto) { return set(twoOverSqrtPi * std::exp(-a[0] * a[0])); })
      .Case<math::ErfcOp>(
          [&](auto) { return set(-twoOverSqrtPi * std::exp(-a[0] * a[0])); })
      .Case<math::SinOp>([&](auto) { return set(std::cos(a[0])); })
      .Case<math::CosOp>([&](auto) { return set(-std::sin(a[0])); })
      .Case<math::TanOp>([&](auto) { return set(1 + r * r); })
      .Case<math::SinhOp>([&](auto) { return set(std::cosh(a[0])); })
      .Case<math::CoshOp>([&](auto) { return set(std::sinh(a[0])); })
      .Case<math::AsinOp>(
          [&](auto) { return set(1 / std::sqrt(1 - a[0] * a[0])); })
      .Case<math::AcosOp>(
          [&](auto) { return set(-1 / std::sqrt(1 - a[0] * a[0])); })
      .Case<math::AtanOp>([&](auto) { return set(1 / (1 + a[0] * a[0])); })
      .Case<math::Atan2Op>([&](auto) {
        double n = a[0] * a[0] + a[1] * a[1];
        d[0] = a[1] / n;
        d[1] = -a[0] / n;
        return true;
      })
      .Case<math::FloorOp, math::CeilOp, math::TruncOp, math::RoundOp,
            math::RoundEvenOp>([&](auto) { return true; })
      .Case<math::FmaOp>([&](auto) {
        d[0] = a[1];
        d[1] = a[0];
        d[2] = 1;
        return true;
      })
      .Default([](Operation *) { return std::nullopt; });
}

/// d r / d a[k] of a scalar arith/math op with float result `r` (`d` starts
/// as zeros); false when there is no rule for `op`.
bool scalarPartials(Operation *op, ArrayRef<double> a, double r,
                    MutableArrayRef<double> d) {
  if (std::optional<bool> done = arithPartials(op, a, r, d))
    return *done;
  if (std::optional<bool> done = mathPartials(op, a, r, d))
    return *done;
  return false;
}

//===----------------------------------------------------------------------===//
// The reverse sweep
//===----------------------------------------------------------------------===//

using TensorRef = std::shared_ptr<const Tensor>;

/// The adjoint of one value: flat for a tensor, `scalar` otherwise.
struct Adjoint {
  bool present = false;
  std::vector<double> tensor;
  double scalar = 0;

  /// The tensor adjoint, empty (standing for 0) when absent.
  ArrayRef<double> orEmpty() const {
    return present ? ArrayRef<double>(tensor) : ArrayRef<double>();
  }
};

/// The iteration domain of a recorded linalg op, walked as the forward
/// walks it (lexicographically, the last loop fastest).
struct LinalgDomain {
  SmallVector<AffineMap> maps;
  SmallVector<RuntimeValue> operands;
  SmallVector<SmallVector<int64_t>> strides;
  SmallVector<int64_t> bounds;
  int64_t total = 1;

  /// The iteration point number `it`.
  void point(int64_t it, SmallVectorImpl<int64_t> &idx) const {
    idx.resize(bounds.size());
    for (int64_t d = static_cast<int64_t>(bounds.size()) - 1; d >= 0; --d) {
      idx[d] = it % bounds[d];
      it /= bounds[d];
    }
  }
  /// The flat offset operand `n` (a tensor) reads at `idx`.
  int64_t offset(unsigned n, ArrayRef<int64_t> idx) const {
    int64_t off = 0;
    for (auto [d, e] : llvm::enumerate(maps[n].getResults()))
      off += evaluateAffine(e, idx).value_or(0) * strides[n][d];
    return off;
  }
};

class Differentiator {
public:
  Differentiator(RecordedEvaluation &fwd, std::string &error)
      : fwd(fwd), error(error) {}

  /// Adds `adj` to the adjoint of `v` (nothing for a non-float value).
  void accumulate(Value v, const Adjoint &adj);
  /// Removes and returns the adjoint of `v`.
  Adjoint take(Value v);
  /// Sweeps the ops of `block` but its terminator backwards.
  bool backpropBlock(Block &block);

private:
  bool fail(const Twine &msg) {
    if (error.empty())
      error = msg.str();
    return false;
  }
  bool noRule(Operation *op) {
    return fail("no gradient rule for '" + op->getName().getStringRef() +
                "' in the reference interpreter");
  }
  TensorRef recorded(Value v) const { return fwd.value(v).tensor; }
  void addScalar(Value v, double x);
  /// The adjoint of tensor `v`, created as zeros of its recorded shape;
  /// empty for a non-float value. It stays valid while the sweep goes on.
  MutableArrayRef<double> tensorAdjoint(Value v);

  bool backprop(Operation &op);
  bool elementwise(Operation *op, const Adjoint &result);
  bool tensorRule(Operation *op, const Adjoint &result);
  bool sliceRule(Operation *op, const Adjoint &result);
  bool generateRule(tensor::GenerateOp op, const Adjoint &result);
  bool linalgDomain(linalg::LinalgOp op, LinalgDomain &dom);
  bool linalgHistory(linalg::LinalgOp op, const LinalgDomain &dom,
                     std::vector<double> &history);
  bool linalgRule(linalg::LinalgOp op, MutableArrayRef<Adjoint> results);
  bool callRule(func::CallOp op, ArrayRef<Adjoint> results);
  bool ifRule(scf::IfOp op, ArrayRef<Adjoint> results);
  bool attnRule(Operation *op, MutableArrayRef<Adjoint> results);
  bool linearRule(LinearAggregateOp op, ArrayRef<Adjoint> results);
  bool attentionRule(AttentionOp op, ArrayRef<Adjoint> results);
  bool scoreModTape(Block &body, const Tensor &in, ArrayRef<double> dOut,
                    MutableArrayRef<double> dIn);
  bool tape(Block &body, ArrayRef<RuntimeValue> args,
            ArrayRef<int64_t> loopIndices, ArrayRef<double> seeds,
            SmallVectorImpl<double> &argAdjoints);

  RecordedEvaluation &fwd;
  std::string &error;
  // Node-based maps: an adjoint's storage stays put while others are added.
  std::unordered_map<const void *, std::vector<double>> tensors;
  std::unordered_map<const void *, double> scalars;
};

void Differentiator::addScalar(Value v, double x) {
  if (isFloatType(v.getType()))
    scalars[v.getAsOpaquePointer()] += x;
}

MutableArrayRef<double> Differentiator::tensorAdjoint(Value v) {
  if (!isFloatType(v.getType()))
    return {};
  auto it = tensors.find(v.getAsOpaquePointer());
  if (it == tensors.end()) {
    TensorRef t = recorded(v);
    it = tensors
             .emplace(v.getAsOpaquePointer(),
                      std::vector<double>(t ? t->numElements() : 0, 0.0))
             .first;
  }
  return it->second;
}

void Differentiator::accumulate(Value v, const Adjoint &adj) {
  if (!adj.present || !isFloatType(v.getType()))
    return;
  if (!isa<TensorType>(v.getType())) {
    addScalar(v, adj.scalar);
    return;
  }
  MutableArrayRef<double> dst = tensorAdjoint(v);
  for (auto [d, s] : llvm::zip(dst, adj.tensor))
    d += s;
}

Adjoint Differentiator::take(Value v) {
  Adjoint adj;
  if (isa<TensorType>(v.getType())) {
    auto it = tensors.find(v.getAsOpaquePointer());
    if (it != tensors.end()) {
      adj.present = true;
      adj.tensor = std::move(it->second);
      tensors.erase(it);
    }
    return adj;
  }
  auto it = scalars.find(v.getAsOpaquePointer());
  if (it != scalars.end()) {
    adj.present = true;
    adj.scalar = it->second;
    scalars.erase(it);
  }
  return adj;
}

bool Differentiator::backpropBlock(Block &block) {
  for (Operation &op : llvm::reverse(block.without_terminator()))
    if (!backprop(op))
      return false;
  return true;
}

bool Differentiator::backprop(Operation &op) {
  SmallVector<Adjoint, 2> results;
  bool reached = false;
  for (Value r : op.getResults()) {
    results.push_back(take(r));
    reached |= results.back().present;
  }
  if (!reached)
    return true;
  // An op that reads no float value passes nothing on (constants,
  // tensor.empty, conversions from integers, ...).
  if (op.getNumRegions() == 0 &&
      llvm::none_of(op.getOperandTypes(), isFloatType))
    return true;
  return llvm::TypeSwitch<Operation *, bool>(&op)
      .Case<func::CallOp>([&](auto c) { return callRule(c, results); })
      .Case<scf::IfOp>([&](auto i) { return ifRule(i, results); })
      .Case<tensor::ExtractOp, tensor::InsertOp, tensor::FromElementsOp,
            tensor::SplatOp, tensor::CastOp, tensor::CollapseShapeOp,
            tensor::ExpandShapeOp, tensor::ExtractSliceOp,
            tensor::InsertSliceOp, tensor::GenerateOp>(
          [&](Operation *t) { return tensorRule(t, results[0]); })
      .Case<ScoreOp, ScoreModOp, MaskOp, AggregateOp, NormalizeOp, MergeOp,
            FeatureMapOp, LinearAggregateOp, AttentionOp>(
          [&](Operation *a) { return attnRule(a, results); })
      .Default([&](Operation *o) {
        if (auto linalgOp = dyn_cast<linalg::LinalgOp>(o))
          return linalgRule(linalgOp, results);
        StringRef ns = o->getName().getDialectNamespace();
        if ((ns == "arith" || ns == "math") && o->getNumResults() == 1 &&
            o->getNumRegions() == 0)
          return elementwise(o, results[0]);
        return noRule(o);
      });
}

/// arith/math on scalars, or elementwise on tensors (scalar operands
/// broadcast, so their adjoint sums over the elements).
bool Differentiator::elementwise(Operation *op, const Adjoint &result) {
  unsigned n = op->getNumOperands();
  SmallVector<double, 3> a(n, 0.0), d(n, 0.0);
  // Whether a rule exists is decided before looking at any data.
  if (!scalarPartials(op, a, 0.0, d))
    return noRule(op);
  SmallVector<RuntimeValue, 3> in;
  SmallVector<MutableArrayRef<double>, 3> dIn;
  for (Value v : op->getOperands()) {
    in.push_back(fwd.value(v));
    dIn.push_back(in.back().tensor ? tensorAdjoint(v)
                                   : MutableArrayRef<double>());
  }
  RuntimeValue out = fwd.value(op->getResult(0));
  int64_t count = out.tensor ? out.tensor->numElements() : 1;
  for (int64_t e = 0; e < count; ++e) {
    double g = out.tensor ? result.tensor[e] : result.scalar;
    if (g == 0)
      continue; // also keeps 0 * inf partials out
    for (unsigned k = 0; k < n; ++k)
      a[k] = in[k].tensor ? in[k].tensor->data[e] : in[k].scalar;
    std::fill(d.begin(), d.end(), 0.0);
    scalarPartials(op, a, out.tensor ? out.tensor->data[e] : out.scalar, d);
    for (unsigned k = 0; k < n; ++k) {
      if (d[k] == 0)
        continue;
      if (!in[k].tensor)
        addScalar(op->getOperand(k), g * d[k]);
      else if (!dIn[k].empty())
        dIn[k][e] += g * d[k];
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// tensor
//===----------------------------------------------------------------------===//

/// Flat offset of the recorded `indices` into tensor `t`.
int64_t flatOffset(const RecordedEvaluation &fwd, const Tensor &t,
                   ValueRange indices) {
  int64_t off = 0;
  for (auto [d, v] : llvm::enumerate(indices))
    off = off * t.shape[d] + static_cast<int64_t>(fwd.value(v).scalar);
  return off;
}

bool Differentiator::tensorRule(Operation *op, const Adjoint &result) {
  return llvm::TypeSwitch<Operation *, bool>(op)
      .Case<tensor::ExtractOp>([&](tensor::ExtractOp e) {
        MutableArrayRef<double> dst = tensorAdjoint(e.getTensor());
        dst[flatOffset(fwd, *recorded(e.getTensor()), e.getIndices())] +=
            result.scalar;
        return true;
      })
      .Case<tensor::InsertOp>([&](tensor::InsertOp ins) {
        int64_t off =
            flatOffset(fwd, *recorded(ins.getDest()), ins.getIndices());
        addScalar(ins.getScalar(), result.tensor[off]);
        MutableArrayRef<double> dst = tensorAdjoint(ins.getDest());
        for (auto [k, g] : llvm::enumerate(result.tensor))
          if (static_cast<int64_t>(k) != off && !dst.empty())
            dst[k] += g;
        return true;
      })
      .Case<tensor::FromElementsOp>([&](tensor::FromElementsOp f) {
        for (auto [k, v] : llvm::enumerate(f.getElements()))
          addScalar(v, result.tensor[k]);
        return true;
      })
      .Case<tensor::SplatOp>([&](tensor::SplatOp s) {
        double sum = 0;
        for (double g : result.tensor)
          sum += g;
        addScalar(s.getInput(), sum);
        return true;
      })
      .Case<tensor::CastOp, tensor::CollapseShapeOp, tensor::ExpandShapeOp>(
          [&](Operation *o) {
            // Same elements in the same order.
            accumulate(o->getOperand(0), result);
            return true;
          })
      .Case<tensor::ExtractSliceOp, tensor::InsertSliceOp>(
          [&](Operation *o) { return sliceRule(o, result); })
      .Case<tensor::GenerateOp>(
          [&](tensor::GenerateOp g) { return generateRule(g, result); })
      .Default([&](Operation *o) { return noRule(o); });
}

bool Differentiator::sliceRule(Operation *op, const Adjoint &result) {
  SmallVector<int64_t> positions;
  if (!fwd.slicePositions(op, positions, error))
    return false;
  if (auto extract = dyn_cast<tensor::ExtractSliceOp>(op)) {
    MutableArrayRef<double> dst = tensorAdjoint(extract.getSource());
    for (auto [k, p] : llvm::enumerate(positions))
      dst[p] += result.tensor[k];
    return true;
  }
  auto insert = cast<tensor::InsertSliceOp>(op);
  MutableArrayRef<double> src = tensorAdjoint(insert.getSource());
  std::vector<double> rest = result.tensor;
  for (auto [k, p] : llvm::enumerate(positions)) {
    if (!src.empty())
      src[k] += rest[p];
    rest[p] = 0; // overwritten: the destination's element does not flow
  }
  MutableArrayRef<double> dst = tensorAdjoint(insert.getDest());
  for (auto [d, g] : llvm::zip(dst, rest))
    d += g;
  return true;
}

bool Differentiator::generateRule(tensor::GenerateOp op,
                                  const Adjoint &result) {
  ArrayRef<int64_t> shape = recorded(op.getResult())->shape;
  SmallVector<RuntimeValue> args(shape.size());
  SmallVector<double> argAdjoints;
  for (auto [e, g] : llvm::enumerate(result.tensor)) {
    if (g == 0)
      continue;
    int64_t r = e;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      args[d].scalar = static_cast<double>(r % shape[d]);
      r /= shape[d];
    }
    if (!tape(op.getBody().front(), args, {}, {g}, argAdjoints))
      return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Region bodies
//===----------------------------------------------------------------------===//

bool Differentiator::tape(Block &body, ArrayRef<RuntimeValue> args,
                          ArrayRef<int64_t> loopIndices, ArrayRef<double> seeds,
                          SmallVectorImpl<double> &argAdjoints) {
  SmallVector<RuntimeValue, 2> yielded;
  if (!fwd.runBlock(body, args, loopIndices, yielded, error))
    return false;
  for (auto [v, s] : llvm::zip(body.getTerminator()->getOperands(), seeds))
    if (s != 0)
      addScalar(v, s);
  if (!backpropBlock(body))
    return false;
  argAdjoints.clear();
  for (BlockArgument arg : body.getArguments())
    argAdjoints.push_back(take(arg).scalar);
  return true;
}

bool Differentiator::scoreModTape(Block &body, const Tensor &in,
                                  ArrayRef<double> dOut,
                                  MutableArrayRef<double> dIn) {
  SmallVector<RuntimeValue> args(5);
  SmallVector<double> argAdjoints;
  int64_t e = 0;
  for (int64_t b = 0; b < in.shape[0]; ++b)
    for (int64_t h = 0; h < in.shape[1]; ++h)
      for (int64_t i = 0; i < in.shape[2]; ++i)
        for (int64_t j = 0; j < in.shape[3]; ++j, ++e) {
          if (dOut.empty() || dOut[e] == 0)
            continue;
          args[0].scalar = in.data[e];
          args[1].scalar = b;
          args[2].scalar = h;
          args[3].scalar = i;
          args[4].scalar = j;
          if (!tape(body, args, {}, {dOut[e]}, argAdjoints))
            return false;
          if (!dIn.empty())
            dIn[e] += argAdjoints[0];
        }
  return true;
}

//===----------------------------------------------------------------------===//
// linalg
//===----------------------------------------------------------------------===//

bool Differentiator::linalgDomain(linalg::LinalgOp op, LinalgDomain &dom) {
  Operation *o = op.getOperation();
  dom.maps = op.getIndexingMapsArray();
  SmallVector<int64_t> allSizes;
  for (Value v : o->getOperands()) {
    dom.operands.push_back(fwd.value(v));
    dom.strides.emplace_back();
    if (const TensorRef &t = dom.operands.back().tensor) {
      allSizes.append(t->shape.begin(), t->shape.end());
      int64_t stride = 1;
      dom.strides.back().assign(t->shape.size(), 1);
      for (int64_t d = static_cast<int64_t>(t->shape.size()) - 1; d >= 0; --d) {
        dom.strides.back()[d] = stride;
        stride *= t->shape[d];
      }
    }
  }
  AffineMap shapesToLoops = op.getShapesToLoopsMap();
  if (!shapesToLoops)
    return noRule(o);
  for (AffineExpr e : shapesToLoops.getResults()) {
    dom.bounds.push_back(evaluateAffine(e, allSizes).value_or(0));
    dom.total *= dom.bounds.back();
  }
  return true;
}

/// The value each output element had before each iteration point wrote it
/// (a reduction reads its own partial result), by replaying the forward.
bool Differentiator::linalgHistory(linalg::LinalgOp op, const LinalgDomain &dom,
                                   std::vector<double> &history) {
  unsigned numInputs = op.getNumDpsInputs(), numOuts = op.getNumDpsInits();
  if (dom.total * numOuts > kMaxHistory)
    return fail("'" + op->getName().getStringRef() +
                "': reduction too large for the reference gradient");
  SmallVector<std::vector<double>> outs;
  for (unsigned k = 0; k < numOuts; ++k)
    outs.push_back(dom.operands[numInputs + k].tensor->data);
  history.assign(dom.total * numOuts, 0.0);
  SmallVector<OpOperand *> bbOperands = op.getOpOperandsMatchingBBargs();
  SmallVector<RuntimeValue> args(bbOperands.size()), yielded;
  SmallVector<int64_t> idx, outOff(numOuts);
  for (int64_t it = 0; it < dom.total; ++it) {
    dom.point(it, idx);
    for (unsigned k = 0; k < numOuts; ++k) {
      outOff[k] = dom.offset(numInputs + k, idx);
      history[it * numOuts + k] = outs[k][outOff[k]];
    }
    for (auto [k, operand] : llvm::enumerate(bbOperands)) {
      unsigned n = operand->getOperandNumber();
      const RuntimeValue &v = dom.operands[n];
      args[k].scalar = !v.tensor ? v.scalar
                       : n < numInputs
                           ? v.tensor->data[dom.offset(n, idx)]
                           : outs[n - numInputs][outOff[n - numInputs]];
    }
    if (!fwd.runBlock(*op.getBlock(), args, idx, yielded, error))
      return false;
    for (unsigned k = 0; k < numOuts; ++k)
      outs[k][outOff[k]] = yielded[k].scalar;
  }
  return true;
}

/// Walks the iteration points backwards: at each, the adjoint of the output
/// element it wrote seeds the payload's tape; the payload's output argument
/// (the element's previous value) takes over that adjoint.
bool Differentiator::linalgRule(linalg::LinalgOp op,
                                MutableArrayRef<Adjoint> results) {
  Operation *o = op.getOperation();
  LinalgDomain dom;
  if (!op.hasPureTensorSemantics() || !op.getBlock() || !linalgDomain(op, dom))
    return noRule(o);
  unsigned numInputs = op.getNumDpsInputs(), numOuts = op.getNumDpsInits();
  std::vector<double> history;
  if (op.getNumReductionLoops() > 0 && !linalgHistory(op, dom, history))
    return false;
  SmallVector<std::vector<double>> outAdj;
  for (unsigned k = 0; k < numOuts; ++k)
    outAdj.push_back(
        results[k].present
            ? std::move(results[k].tensor)
            : std::vector<double>(
                  dom.operands[numInputs + k].tensor->numElements()));
  SmallVector<OpOperand *> bbOperands = op.getOpOperandsMatchingBBargs();
  SmallVector<MutableArrayRef<double>> dIn;
  for (OpOperand *operand : bbOperands) {
    unsigned n = operand->getOperandNumber();
    dIn.push_back(n < numInputs && dom.operands[n].tensor
                      ? tensorAdjoint(operand->get())
                      : MutableArrayRef<double>());
  }
  SmallVector<RuntimeValue> args(bbOperands.size());
  SmallVector<double> seeds(numOuts), argAdjoints;
  SmallVector<int64_t> idx, outOff(numOuts);
  for (int64_t it = dom.total - 1; it >= 0; --it) {
    dom.point(it, idx);
    bool any = false;
    for (unsigned k = 0; k < numOuts; ++k) {
      outOff[k] = dom.offset(numInputs + k, idx);
      seeds[k] = outAdj[k][outOff[k]];
      any |= seeds[k] != 0;
    }
    if (!any)
      continue;
    for (auto [k, operand] : llvm::enumerate(bbOperands)) {
      unsigned n = operand->getOperandNumber();
      const RuntimeValue &v = dom.operands[n];
      if (!v.tensor)
        args[k].scalar = v.scalar;
      else if (n < numInputs)
        args[k].scalar = v.tensor->data[dom.offset(n, idx)];
      else if (!history.empty())
        args[k].scalar = history[it * numOuts + (n - numInputs)];
      else
        args[k].scalar = v.tensor->data[outOff[n - numInputs]];
    }
    if (!tape(*op.getBlock(), args, idx, seeds, argAdjoints))
      return false;
    for (auto [k, operand] : llvm::enumerate(bbOperands)) {
      unsigned n = operand->getOperandNumber();
      if (n >= numInputs)
        outAdj[n - numInputs][outOff[n - numInputs]] = argAdjoints[k];
      else if (!dom.operands[n].tensor)
        addScalar(operand->get(), argAdjoints[k]);
      else if (!dIn[k].empty())
        dIn[k][dom.offset(n, idx)] += argAdjoints[k];
    }
  }
  for (unsigned k = 0; k < numOuts; ++k) {
    Adjoint init;
    init.present = true;
    init.tensor = std::move(outAdj[k]);
    accumulate(o->getOperand(numInputs + k), init);
  }
  return true;
}

//===----------------------------------------------------------------------===//
// func / scf
//===----------------------------------------------------------------------===//

bool Differentiator::callRule(func::CallOp op, ArrayRef<Adjoint> results) {
  auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      op, op.getCalleeAttr());
  if (!callee || callee.isExternal())
    return noRule(op);
  // The callee's values are not kept by the caller's run: record them anew.
  SmallVector<Tensor> args, ignored;
  for (Value v : op.getOperands()) {
    RuntimeValue rv = fwd.value(v);
    if (rv.tensor) {
      args.push_back(*rv.tensor);
      continue;
    }
    Tensor t;
    t.elementType = v.getType();
    t.data.push_back(rv.scalar);
    args.push_back(std::move(t));
  }
  RecordedEvaluation nested;
  if (!nested.run(callee, args, ignored, error))
    return false;
  Differentiator inner(nested, error);
  Block &body = callee.getBody().front();
  for (auto [v, adj] : llvm::zip(body.getTerminator()->getOperands(), results))
    inner.accumulate(v, adj);
  if (!inner.backpropBlock(body))
    return false;
  for (auto [arg, operand] : llvm::zip(body.getArguments(), op.getOperands()))
    accumulate(operand, inner.take(arg));
  return true;
}

bool Differentiator::ifRule(scf::IfOp op, ArrayRef<Adjoint> results) {
  Region &region = fwd.value(op.getCondition()).scalar != 0
                       ? op.getThenRegion()
                       : op.getElseRegion();
  if (region.empty())
    return true;
  Block &block = region.front();
  for (auto [v, adj] : llvm::zip(block.getTerminator()->getOperands(), results))
    accumulate(v, adj);
  return backpropBlock(block);
}

//===----------------------------------------------------------------------===//
// attn
//===----------------------------------------------------------------------===//

/// The aggregation kind of an aggregate, normalize or attention op.
std::optional<AggregationKind> aggregationKind(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<AggregationKind>>(op)
      .Case<AggregateOp, NormalizeOp, AttentionOp>(
          [](auto a) { return a.getKind(); })
      .Default([](Operation *) { return std::nullopt; });
}

bool Differentiator::attnRule(Operation *op, MutableArrayRef<Adjoint> results) {
  // The kinds AttnAdjoints.cpp differentiates: a kind added to the dialect
  // later is an error until it gets its rule, never a zero.
  std::optional<AggregationKind> kind = aggregationKind(op);
  if (kind && *kind != AggregationKind::softmax &&
      *kind != AggregationKind::sigmoid && *kind != AggregationKind::none &&
      *kind != AggregationKind::entmax)
    return fail("no gradient rule for '" + op->getName().getStringRef() +
                "' of kind '" + stringifyAggregationKind(*kind) +
                "' in the reference interpreter");
  ArrayRef<double> dOut = results[0].orEmpty();
  auto optional = [&](Value v) {
    return v ? tensorAdjoint(v) : MutableArrayRef<double>();
  };
  return llvm::TypeSwitch<Operation *, bool>(op)
      .Case<ScoreOp>([&](ScoreOp s) {
        scoreAdjoint(*recorded(s.getQuery()), *recorded(s.getKey()),
                     s.getEffectiveScale(), dOut, tensorAdjoint(s.getQuery()),
                     tensorAdjoint(s.getKey()));
        return true;
      })
      .Case<ScoreModOp>([&](ScoreModOp s) {
        return scoreModTape(s.getBody().front(), *recorded(s.getScores()), dOut,
                            tensorAdjoint(s.getScores()));
      })
      .Case<MaskOp>([&](MaskOp m) {
        // Flows where kept, 0 where masked.
        TensorRef out = recorded(m.getResult());
        MutableArrayRef<double> dIn = tensorAdjoint(m.getScores());
        for (auto [e, g] : llvm::enumerate(dOut))
          if (out->data[e] != -kInf)
            dIn[e] += g;
        return true;
      })
      .Case<AggregateOp>([&](AggregateOp a) {
        TensorRef sinks = a.getSinks() ? recorded(a.getSinks()) : nullptr;
        aggregateAdjoint(a.getKind(), *recorded(a.getScores()),
                         *recorded(a.getValue()), sinks.get(), dOut,
                         results.size() > 1 ? results[1].orEmpty()
                                            : ArrayRef<double>(),
                         tensorAdjoint(a.getScores()),
                         tensorAdjoint(a.getValue()), optional(a.getSinks()),
                         a.getAlpha() ? a.getAlpha()->convertToDouble() : 0);
        return true;
      })
      .Case<NormalizeOp>([&](NormalizeOp n) {
        normalizeAdjoint(n.getKind(), *recorded(n.getScores()), dOut,
                         tensorAdjoint(n.getScores()),
                         n.getAlpha() ? n.getAlpha()->convertToDouble() : 0);
        return true;
      })
      .Case<MergeOp>([&](MergeOp m) {
        SmallVector<TensorRef> keep;
        SmallVector<const Tensor *> outs, lses;
        SmallVector<MutableArrayRef<double>> dOuts, dLses;
        for (auto [k, v] : llvm::enumerate(m.getPartials())) {
          keep.push_back(recorded(v));
          (k % 2 ? lses : outs).push_back(keep.back().get());
          (k % 2 ? dLses : dOuts).push_back(tensorAdjoint(v));
        }
        mergeAdjoint(outs, lses, *recorded(m.getOutput()),
                     *recorded(m.getLse()), dOut, results[1].orEmpty(), dOuts,
                     dLses);
        return true;
      })
      .Case<FeatureMapOp>([&](FeatureMapOp f) {
        TensorRef w = f.getWeights() ? recorded(f.getWeights()) : nullptr;
        featureMapAdjoint(f.getKind(), *recorded(f.getInput()), w.get(),
                          *recorded(f.getResult()), dOut,
                          tensorAdjoint(f.getInput()),
                          optional(f.getWeights()));
        return true;
      })
      .Case<LinearAggregateOp>(
          [&](LinearAggregateOp l) { return linearRule(l, results); })
      .Case<AttentionOp>(
          [&](AttentionOp a) { return attentionRule(a, results); })
      .Default([&](Operation *o) { return noRule(o); });
}

bool Differentiator::linearRule(LinearAggregateOp op,
                                ArrayRef<Adjoint> results) {
  TensorRef q = recorded(op.getQuery()), k = recorded(op.getKey()),
            v = recorded(op.getValue());
  TensorRef decay = op.getDecay() ? recorded(op.getDecay()) : nullptr;
  TensorRef state = op.getState() ? recorded(op.getState()) : nullptr;
  LinearAggregateOperands in{*q,
                             *k,
                             *v,
                             decay.get(),
                             state.get(),
                             op.getCausal(),
                             op.getNormalize(),
                             op.getEps().convertToDouble()};
  auto optional = [&](Value x) {
    return x ? tensorAdjoint(x) : MutableArrayRef<double>();
  };
  LinearAggregateAdjoints out{tensorAdjoint(op.getQuery()),
                              tensorAdjoint(op.getKey()),
                              tensorAdjoint(op.getValue()),
                              optional(op.getDecay()), optional(op.getState())};
  linearAggregateAdjoint(
      in, *recorded(op.getOutput()), results[0].orEmpty(),
      results.size() > 1 ? results[1].orEmpty() : ArrayRef<double>(), out);
  return true;
}

/// The fused op is its graph: score, score_mod, mask, aggregate, whose
/// intermediate scores the forward recomputes.
bool Differentiator::attentionRule(AttentionOp op, ArrayRef<Adjoint> results) {
  Tensor raw, masked;
  if (!fwd.attentionScores(op, raw, masked, error))
    return false;
  TensorRef sinks = op.getSinks() ? recorded(op.getSinks()) : nullptr;
  std::vector<double> dMasked(masked.numElements(), 0.0);
  aggregateAdjoint(
      op.getKind(), masked, *recorded(op.getValue()), sinks.get(),
      results[0].orEmpty(),
      results.size() > 1 ? results[1].orEmpty() : ArrayRef<double>(), dMasked,
      tensorAdjoint(op.getValue()),
      op.getSinks() ? tensorAdjoint(op.getSinks()) : MutableArrayRef<double>(),
      op.getAlpha() ? op.getAlpha()->convertToDouble() : 0);
  for (auto [g, s] : llvm::zip(dMasked, masked.data))
    if (s == -kInf)
      g = 0;
  std::vector<double> dRaw;
  if (op.getScoreMod().empty()) {
    dRaw = std::move(dMasked);
  } else {
    dRaw.assign(raw.numElements(), 0.0);
    if (!scoreModTape(op.getScoreMod().front(), raw, dMasked, dRaw))
      return false;
  }
  scoreAdjoint(*recorded(op.getQuery()), *recorded(op.getKey()),
               op.getEffectiveScale(), dRaw, tensorAdjoint(op.getQuery()),
               tensorAdjoint(op.getKey()));
  return true;
}

/// Checks the cotangents against the results of the recorded run.
bool checkCotangents(func::FuncOp func, ArrayRef<Tensor> results,
                     ArrayRef<Tensor> cotangents, std::string &error) {
  SmallVector<unsigned> indices = cotangentResults(func);
  if (cotangents.size() != indices.size()) {
    error = llvm::formatv("function '{0}' has {1} floating-point result(s), "
                          "so it takes {1} cotangent(s), got {2}",
                          func.getSymName(), indices.size(), cotangents.size())
                .str();
    return false;
  }
  for (auto [k, r] : llvm::enumerate(indices)) {
    const Tensor &c = cotangents[k];
    if (c.shape != results[r].shape ||
        static_cast<int64_t>(c.data.size()) != c.numElements()) {
      error = llvm::formatv("cotangent #{0}: shape {1} does not match the "
                            "shape {2} of result #{3}",
                            k, formatShape(c.shape),
                            formatShape(results[r].shape), r)
                  .str();
      return false;
    }
  }
  return true;
}

} // namespace

bool mlir::attn::reference::evaluateGradient(func::FuncOp func,
                                             ArrayRef<Tensor> args,
                                             ArrayRef<Tensor> cotangents,
                                             SmallVectorImpl<Tensor> &grads,
                                             std::string &error,
                                             bool ignoreStaticSizes) {
  error.clear();
  grads.clear();
  RecordedEvaluation fwd;
  if (ignoreStaticSizes)
    fwd.ignoreStaticSizes();
  SmallVector<Tensor> results;
  if (!fwd.run(func, args, results, error) ||
      !checkCotangents(func, results, cotangents, error))
    return false;
  Differentiator differentiator(fwd, error);
  Block &body = func.getBody().front();
  Operation *ret = body.getTerminator();
  for (auto [k, r] : llvm::enumerate(cotangentResults(func))) {
    Adjoint seed;
    seed.present = true;
    seed.tensor = cotangents[k].data;
    seed.scalar = cotangents[k].data.empty() ? 0.0 : cotangents[k].data[0];
    differentiator.accumulate(ret->getOperand(r), seed);
  }
  if (!differentiator.backpropBlock(body))
    return false;
  for (unsigned a : gradientArguments(func)) {
    Tensor g;
    g.shape = args[a].shape;
    g.elementType = getElementTypeOrSelf(func.getArgumentTypes()[a]);
    Adjoint adj = differentiator.take(func.getArgument(a));
    g.data = adj.present ? std::move(adj.tensor)
                         : std::vector<double>(args[a].numElements(), 0.0);
    grads.push_back(std::move(g));
  }
  return true;
}
