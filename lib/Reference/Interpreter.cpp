//===- Interpreter.cpp - f64 reference interpreter for attn ---------------===//
//
// A tree-walking interpreter over dense tensors of doubles. Every attn op is a
// plain loop nest written from the semantics in docs/language.md; nothing is
// shared with the lowerings (lib/Kernel, lib/Transforms, lib/Conversion), so
// a bug there cannot hide here as well. The fused attn.attention runs the
// very loops of the graph ops it stands for.
//
// Values: tensors are row-major vectors of doubles; scalars are single
// doubles. Integers are held as their signed value wrapped to the bit width of
// their type, except i1, which is held as 0/1. Floats stay in double whatever
// their type (this is the f64 oracle).
//
// RecordedEvaluation (at the end) keeps an interpreter's values after a run
// and re-runs region bodies point by point, for the reverse mode of
// Gradient.cpp.
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/Interpreter.h"
#include "attn/IR/AttnOps.h"
#include "attn/IR/AttnShapes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::reference;

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {

using TensorRef = std::shared_ptr<const Tensor>;
using RtValue = RuntimeValue;

constexpr double kInf = std::numeric_limits<double>::infinity();
/// Refuse absurd allocations (2^31 doubles = 16 GiB) instead of aborting.
constexpr int64_t kMaxElements = int64_t(1) << 31;
/// func.call nesting limit, so runaway recursion fails instead of crashing.
constexpr unsigned kMaxCallDepth = 64;

//===----------------------------------------------------------------------===//
// Integer representation
//===----------------------------------------------------------------------===//

/// Bit width of an integer or index type; 0 for anything else.
unsigned intWidth(Type t) {
  if (t.isIndex())
    return 64;
  if (auto it = dyn_cast<IntegerType>(t))
    return it.getWidth();
  return 0;
}

bool isScalarType(Type t) { return isa<FloatType, IntegerType, IndexType>(t); }

/// double -> int64 without undefined behaviour for NaN or out-of-range input.
int64_t toInt(double v) {
  if (std::isnan(v))
    return 0;
  if (v >= 9223372036854775808.0)
    return std::numeric_limits<int64_t>::max();
  if (v < -9223372036854775808.0)
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

/// Wraps raw bits to `width`: i1 as 0/1, wider types as their signed value.
int64_t wrap(uint64_t bits, unsigned width) {
  if (width == 1)
    return bits & 1;
  if (width >= 64)
    return static_cast<int64_t>(bits);
  unsigned shift = 64 - width;
  return static_cast<int64_t>(bits << shift) >> shift;
}

/// The signed reading of a held integer (i1 true is -1, as in MLIR).
int64_t asSigned(double v, unsigned width) {
  int64_t x = toInt(v);
  if (width == 1)
    return (x & 1) ? -1 : 0;
  return x;
}

/// The unsigned reading of a held integer.
uint64_t asUnsigned(double v, unsigned width) {
  uint64_t x = static_cast<uint64_t>(toInt(v));
  if (width >= 64)
    return x;
  return x & ((uint64_t(1) << width) - 1);
}

/// Rounds `v` to what an element of type `t` can hold (integers wrap).
double roundTo(Type t, double v) {
  unsigned w = intWidth(t);
  if (!w)
    return v;
  return static_cast<double>(wrap(static_cast<uint64_t>(toInt(v)), w));
}

int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t ceilDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) == (b < 0))) ? q + 1 : q;
}

double toDouble(APFloat f) {
  bool lost;
  f.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
  return f.convertToDouble();
}

/// Row-major offsets of rank-3 and rank-4 indices.
int64_t off3(ArrayRef<int64_t> s, int64_t a, int64_t b, int64_t c) {
  return (a * s[1] + b) * s[2] + c;
}
int64_t off4(ArrayRef<int64_t> s, int64_t a, int64_t b, int64_t c, int64_t d) {
  return ((a * s[1] + b) * s[2] + c) * s[3] + d;
}

SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/// Evaluates an affine expression on dimension values `dims` (linalg indexing
/// maps have no symbols); nullopt for symbols or division by zero.
std::optional<int64_t> evalAffine(AffineExpr e, ArrayRef<int64_t> dims) {
  if (auto d = dyn_cast<AffineDimExpr>(e)) {
    if (d.getPosition() >= dims.size())
      return std::nullopt;
    return dims[d.getPosition()];
  }
  if (auto c = dyn_cast<AffineConstantExpr>(e))
    return c.getValue();
  auto bin = dyn_cast<AffineBinaryOpExpr>(e);
  if (!bin)
    return std::nullopt;
  std::optional<int64_t> l = evalAffine(bin.getLHS(), dims);
  std::optional<int64_t> r = evalAffine(bin.getRHS(), dims);
  if (!l || !r)
    return std::nullopt;
  switch (e.getKind()) {
  case AffineExprKind::Add:
    return *l + *r;
  case AffineExprKind::Mul:
    return *l * *r;
  case AffineExprKind::Mod: {
    if (*r <= 0)
      return std::nullopt;
    int64_t m = *l % *r;
    return m < 0 ? m + *r : m;
  }
  case AffineExprKind::FloorDiv:
    return *r == 0 ? std::nullopt : std::optional<int64_t>(floorDiv(*l, *r));
  case AffineExprKind::CeilDiv:
    return *r == 0 ? std::nullopt : std::optional<int64_t>(ceilDiv(*l, *r));
  default:
    return std::nullopt;
  }
}

/// One mask pattern with the operands it consumed (in order) and, for
/// #attn.any, its alternatives.
struct MaskPattern {
  Attribute attr;
  SmallVector<const Tensor *, 2> operands;
  std::vector<int64_t> rowPtr, cols; // validated CSR structure
  std::vector<MaskPattern> alternatives;
};

struct ScalarOperands;

/// Sizes of the score tensor a mask applies to.
/// The positions of a positioned attn.attention: query i at query + i, key
/// j at key + j.
struct Positions {
  int64_t query, key;
};

struct MaskGeometry {
  int64_t batch, heads, sq, skv;
  const Positions *positions = nullptr;
};

//===----------------------------------------------------------------------===//
// Interpreter
//===----------------------------------------------------------------------===//

class Interpreter {
public:
  /// Whether values must have the static sizes of their types
  /// (evaluateIgnoringStaticSizes clears it).
  bool enforceStaticSizes = true;
  Interpreter(std::string &error, unsigned depth)
      : error(error), depth(depth) {}

  bool run(func::FuncOp fn, ArrayRef<RtValue> args,
           SmallVectorImpl<RtValue> &results);

private:
  friend class mlir::attn::reference::RecordedEvaluation;

  bool fail(const Twine &msg) {
    if (error.empty())
      error = msg.str();
    return false;
  }
  bool failOp(Operation *op, const Twine &msg) {
    return fail(position(op) + "'" + op->getName().getStringRef() +
                "': " + msg);
  }
  bool unsupported(Operation *op) {
    return fail(position(op) + "unsupported op '" +
                op->getName().getStringRef() + "' in reference interpreter");
  }
  /// "LINE:COLUMN: " of the op in its source file, or nothing.
  static std::string position(Operation *op) {
    auto at = op->getLoc()->findInstanceOf<FileLineColLoc>();
    if (!at)
      return "";
    return (Twine(at.getLine()) + ":" + Twine(at.getColumn()) + ": ").str();
  }

  // Value environment.
  RtValue get(Value v) const {
    RtValue r;
    if (isa<TensorType>(v.getType()))
      r.tensor = tensors.lookup(v);
    else
      r.scalar = scalars.lookup(v);
    return r;
  }
  double scalar(Value v) const { return scalars.lookup(v); }
  int64_t index(Value v) const {
    return asSigned(scalar(v), intWidth(v.getType()));
  }
  const Tensor &tensor(Value v) const { return *tensors.lookup(v); }
  bool bind(Value v, const RtValue &r);
  bool setTensor(Value v, Tensor &&t);
  bool alloc(Operation *op, ArrayRef<int64_t> shape, Tensor &t);

  // Execution.
  bool runBlock(Block &block, ArrayRef<RtValue> args,
                SmallVectorImpl<RtValue> &yielded);
  bool exec(Operation &op);
  bool execConstant(arith::ConstantOp op);
  bool execElementwise(Operation *op);
  FailureOr<double> evalScalar(Operation *op, ArrayRef<double> a);
  // The op families of evalScalar; std::nullopt when `op` is not theirs.
  std::optional<FailureOr<double>> evalFloatArith(Operation *op,
                                                  const ScalarOperands &x);
  std::optional<FailureOr<double>> evalIntArith(Operation *op,
                                                const ScalarOperands &x);
  std::optional<FailureOr<double>> evalMath(Operation *op,
                                            const ScalarOperands &x);
  bool execCall(func::CallOp op);
  bool execFor(scf::ForOp op);
  bool execIf(scf::IfOp op);
  bool execLinalg(linalg::LinalgOp op);
  bool execTensorOp(Operation *op);
  bool execTensor(tensor::CollapseShapeOp op);
  bool execTensor(tensor::ExpandShapeOp op);
  bool execTensor(tensor::ExtractSliceOp op);
  bool execTensor(tensor::InsertSliceOp op);
  bool execTensor(tensor::GenerateOp op);
  bool flatOffset(Operation *op, const Tensor &t, ValueRange indices,
                  int64_t &off);
  bool resultShape(Operation *op, ValueRange dynSizes,
                   SmallVectorImpl<int64_t> &shape);
  bool sliceIndices(Operation *op, ArrayRef<int64_t> srcShape,
                    ArrayRef<OpFoldResult> offsets,
                    ArrayRef<OpFoldResult> sizes,
                    ArrayRef<OpFoldResult> strides,
                    SmallVectorImpl<int64_t> &positions,
                    SmallVectorImpl<int64_t> &sliceShape);
  bool foldedInt(OpFoldResult ofr, int64_t &out);

  // attn ops.
  bool checkShapes(Operation *op);
  bool execAttn(ScoreOp op);
  bool execAttn(ScoreModOp op);
  bool execAttn(MaskOp op);
  bool execAttn(AggregateOp op);
  bool execAttn(NormalizeOp op);
  bool execAttn(MergeOp op);
  bool execAttn(FeatureMapOp op);
  bool execAttn(LinearAggregateOp op);
  bool execAttn(SelectBlocksOp op);
  bool execAttn(SelectTopkOp op);
  bool execAttn(ClusterOp op);
  bool execAttn(LshOp op);
  bool execAttn(AttentionOp op);
  // Shared pieces of score, score_mod, mask and aggregate, so that the fused
  // attn.attention runs exactly the code its graph runs.
  bool computeScores(Operation *op, const Tensor &q, const Tensor &k,
                     double scale, Tensor &s);
  bool applyScoreMod(Operation *op, Block &body, Tensor &s,
                     const Positions *positions = nullptr);
  bool applyMask(Operation *op, ArrayAttr patternAttrs, ValueRange operands,
                 Region &predicateRegion, Tensor &s,
                 const Positions *positions = nullptr);
  bool aggregate(Operation *op, AggregationKind kind, const Tensor &s,
                 const Tensor &v, const Tensor *sinks, Tensor &o, Tensor &lse,
                 double alpha = 0);
  bool buildPattern(Attribute attr, ValueRange &operands, const MaskGeometry &g,
                    MaskPattern &out);
  bool keeps(const MaskPattern &p, const MaskGeometry &g, int64_t b, int64_t h,
             int64_t i, int64_t j) const;

  DenseMap<Value, double> scalars;
  DenseMap<Value, TensorRef> tensors;
  /// The iteration point of the innermost linalg op (for linalg.index).
  SmallVectorImpl<int64_t> *loopIndices = nullptr;
  std::string &error;
  unsigned depth;
};

bool Interpreter::bind(Value v, const RtValue &r) {
  if (auto type = dyn_cast<RankedTensorType>(v.getType())) {
    if (!r.tensor)
      return fail("expected a tensor value for " +
                  Twine(formatShape(type.getShape())));
    ArrayRef<int64_t> shape = r.tensor->shape;
    bool ok = shape.size() == static_cast<size_t>(type.getRank());
    for (unsigned d = 0; ok && d < shape.size(); ++d)
      ok = type.isDynamicDim(d) || !enforceStaticSizes ||
           type.getDimSize(d) == shape[d];
    if (!ok)
      return fail("runtime shape " + formatShape(shape) +
                  " does not match the type's shape " +
                  formatShape(type.getShape()));
    tensors[v] = r.tensor;
    return true;
  }
  if (!isScalarType(v.getType())) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << v.getType();
    return fail("unsupported value type " + s + " in reference interpreter");
  }
  scalars[v] = r.scalar;
  return true;
}

bool Interpreter::setTensor(Value v, Tensor &&t) {
  t.elementType = cast<ShapedType>(v.getType()).getElementType();
  RtValue r;
  r.tensor = std::make_shared<const Tensor>(std::move(t));
  if (bind(v, r))
    return true;
  // Name the op that produced the mismatching shape.
  if (Operation *def = v.getDefiningOp()) {
    std::string msg = error;
    error.clear();
    return failOp(def, msg);
  }
  return false;
}

bool Interpreter::alloc(Operation *op, ArrayRef<int64_t> shape, Tensor &t) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return failOp(op, "negative size " + Twine(d));
    if (d && n > kMaxElements / d)
      return failOp(op, "tensor of shape " + formatShape(shape) +
                            " is too large for the reference interpreter");
    n *= d;
  }
  t.shape.assign(shape.begin(), shape.end());
  t.data.assign(n, 0.0);
  return true;
}

bool Interpreter::runBlock(Block &block, ArrayRef<RtValue> args,
                           SmallVectorImpl<RtValue> &yielded) {
  if (block.getNumArguments() != args.size())
    return fail("block expects " + Twine(block.getNumArguments()) +
                " arguments, got " + Twine(args.size()));
  for (auto [arg, value] : llvm::zip(block.getArguments(), args))
    if (!bind(arg, value))
      return false;
  if (block.empty())
    return fail("block without terminator");
  for (Operation &op : block.without_terminator())
    if (!exec(op))
      return false;
  Operation &term = block.back();
  if (!isa<func::ReturnOp, YieldOp, scf::YieldOp, linalg::YieldOp,
           tensor::YieldOp>(term))
    return unsupported(&term);
  yielded.clear();
  for (Value v : term.getOperands())
    yielded.push_back(get(v));
  return true;
}

bool Interpreter::run(func::FuncOp fn, ArrayRef<RtValue> args,
                      SmallVectorImpl<RtValue> &results) {
  if (fn.isExternal())
    return fail("function '" + fn.getSymName() + "' has no body");
  if (!fn.getBody().hasOneBlock())
    return fail("function '" + fn.getSymName() +
                "' has several blocks (unstructured control flow is not "
                "supported by the reference interpreter)");
  return runBlock(fn.getBody().front(), args, results);
}

bool Interpreter::exec(Operation &op) {
  return llvm::TypeSwitch<Operation *, bool>(&op)
      .Case<arith::ConstantOp>([&](auto c) { return execConstant(c); })
      .Case<func::CallOp>([&](auto c) { return execCall(c); })
      .Case<scf::ForOp>([&](auto f) { return execFor(f); })
      .Case<scf::IfOp>([&](auto i) { return execIf(i); })
      .Case<linalg::IndexOp>([&](linalg::IndexOp i) {
        if (!loopIndices || i.getDim() >= loopIndices->size())
          return failOp(i, "used outside a linalg op body");
        scalars[i.getResult()] =
            static_cast<double>((*loopIndices)[i.getDim()]);
        return true;
      })
      .Case<tensor::ExtractOp, tensor::DimOp, tensor::EmptyOp,
            tensor::FromElementsOp, tensor::CastOp, tensor::InsertOp,
            tensor::SplatOp, tensor::CollapseShapeOp, tensor::ExpandShapeOp,
            tensor::ExtractSliceOp, tensor::InsertSliceOp, tensor::GenerateOp>(
          [&](Operation *t) { return execTensorOp(t); })
      .Case<ScoreOp, ScoreModOp, MaskOp, AggregateOp, NormalizeOp, MergeOp,
            FeatureMapOp, LinearAggregateOp, SelectBlocksOp, SelectTopkOp,
            ClusterOp, LshOp, AttentionOp>(
          [&](auto a) { return checkShapes(a) && execAttn(a); })
      .Default([&](Operation *o) {
        if (auto linalgOp = dyn_cast<linalg::LinalgOp>(o))
          return execLinalg(linalgOp);
        StringRef ns = o->getName().getDialectNamespace();
        if (ns == "arith" || ns == "math")
          return execElementwise(o);
        return unsupported(o);
      });
}

//===----------------------------------------------------------------------===//
// arith / math
//===----------------------------------------------------------------------===//

bool Interpreter::execConstant(arith::ConstantOp op) {
  Attribute value = op.getValue();
  Type type = op.getType();
  if (auto f = dyn_cast<FloatAttr>(value)) {
    scalars[op.getResult()] = toDouble(f.getValue());
    return true;
  }
  if (auto i = dyn_cast<IntegerAttr>(value)) {
    unsigned w = intWidth(type);
    if (!w || w > 64)
      return unsupported(op);
    scalars[op.getResult()] =
        static_cast<double>(wrap(i.getValue().getZExtValue(), w));
    return true;
  }
  auto dense = dyn_cast<DenseIntOrFPElementsAttr>(value);
  if (!dense)
    return failOp(op, "unsupported constant value in reference interpreter");
  auto tensorType = cast<ShapedType>(dense.getType());
  Type elt = tensorType.getElementType();
  Tensor t;
  if (!alloc(op, tensorType.getShape(), t))
    return false;
  int64_t k = 0;
  if (isa<FloatType>(elt)) {
    for (APFloat f : dense.getValues<APFloat>())
      t.data[k++] = toDouble(f);
  } else {
    unsigned w = intWidth(elt);
    if (!w || w > 64)
      return unsupported(op);
    for (APInt i : dense.getValues<APInt>())
      t.data[k++] = static_cast<double>(wrap(i.getZExtValue(), w));
  }
  return setTensor(op.getResult(), std::move(t));
}

/// arith and math ops act on scalars or elementwise on tensors of one shape.
bool Interpreter::execElementwise(Operation *op) {
  if (op->getNumResults() != 1)
    return unsupported(op);
  const Tensor *shapeOf = nullptr;
  SmallVector<RtValue, 3> operands;
  for (Value v : op->getOperands()) {
    operands.push_back(get(v));
    const Tensor *t = operands.back().tensor.get();
    if (!t)
      continue;
    if (shapeOf && shapeOf->shape != t->shape)
      return failOp(op,
                    "operand shapes differ: " + formatShape(shapeOf->shape) +
                        " vs " + formatShape(t->shape));
    if (!shapeOf)
      shapeOf = t;
  }
  SmallVector<double, 3> args(operands.size());
  if (!shapeOf) {
    for (auto [k, v] : llvm::enumerate(operands))
      args[k] = v.scalar;
    FailureOr<double> r = evalScalar(op, args);
    if (failed(r))
      return false;
    scalars[op->getResult(0)] = *r;
    return true;
  }
  Tensor out;
  if (!alloc(op, shapeOf->shape, out))
    return false;
  for (int64_t e = 0, n = out.numElements(); e < n; ++e) {
    for (auto [k, v] : llvm::enumerate(operands))
      args[k] = v.tensor ? v.tensor->data[e] : v.scalar;
    FailureOr<double> r = evalScalar(op, args);
    if (failed(r))
      return false;
    out.data[e] = *r;
  }
  return setTensor(op->getResult(0), std::move(out));
}

/// The operands of one scalar arith/math evaluation with their integer
/// readings, and the wrapping of an integer result to the result's width.
struct ScalarOperands {
  ArrayRef<double> a;
  unsigned wi, wo; // integer widths of operand 0 and of the result (0: none)

  int64_t s(unsigned k) const { return asSigned(a[k], wi); }
  uint64_t u(unsigned k) const { return asUnsigned(a[k], wi); }
  uint64_t bits(unsigned k) const { return static_cast<uint64_t>(toInt(a[k])); }
  FailureOr<double> out(uint64_t v) const {
    return static_cast<double>(wrap(v, wo));
  }
  FailureOr<double> outS(int64_t v) const {
    return out(static_cast<uint64_t>(v));
  }
  bool isMinOverMinusOne() const {
    return s(0) == std::numeric_limits<int64_t>::min() && s(1) == -1;
  }
  bool isOrdered() const { return !std::isnan(a[0]) && !std::isnan(a[1]); }
};

/// fptosi/fptoui: truncation toward zero, defined for every input.
uint64_t fpToInt(double x) {
  double t = std::trunc(x);
  if (std::isnan(t))
    return 0;
  if (t >= 9223372036854775808.0 && t < 18446744073709551616.0)
    return static_cast<uint64_t>(t);
  return static_cast<uint64_t>(toInt(t));
}

FailureOr<double> Interpreter::evalScalar(Operation *op, ArrayRef<double> a) {
  Type inTy = op->getNumOperands()
                  ? getElementTypeOrSelf(op->getOperand(0).getType())
                  : Type();
  Type outTy = getElementTypeOrSelf(op->getResult(0).getType());
  ScalarOperands x{a, inTy ? intWidth(inTy) : 0, intWidth(outTy)};
  if (std::optional<FailureOr<double>> r = evalFloatArith(op, x))
    return *r;
  if (std::optional<FailureOr<double>> r = evalIntArith(op, x))
    return *r;
  if (std::optional<FailureOr<double>> r = evalMath(op, x))
    return *r;
  unsupported(op);
  return failure();
}

std::optional<FailureOr<double>>
Interpreter::evalFloatArith(Operation *op, const ScalarOperands &x) {
  using R = FailureOr<double>;
  ArrayRef<double> a = x.a;
  return llvm::TypeSwitch<Operation *, std::optional<R>>(op)
      .Case<arith::AddFOp>([&](auto) -> R { return a[0] + a[1]; })
      .Case<arith::SubFOp>([&](auto) -> R { return a[0] - a[1]; })
      .Case<arith::MulFOp>([&](auto) -> R { return a[0] * a[1]; })
      .Case<arith::DivFOp>([&](auto) -> R { return a[0] / a[1]; })
      .Case<arith::RemFOp>([&](auto) -> R { return std::fmod(a[0], a[1]); })
      .Case<arith::NegFOp>([&](auto) -> R { return -a[0]; })
      .Case<arith::MaximumFOp>([&](auto) -> R {
        if (!x.isOrdered())
          return std::numeric_limits<double>::quiet_NaN();
        if (a[0] == a[1]) // +0 > -0
          return std::signbit(a[0]) ? a[1] : a[0];
        return std::max(a[0], a[1]);
      })
      .Case<arith::MinimumFOp>([&](auto) -> R {
        if (!x.isOrdered())
          return std::numeric_limits<double>::quiet_NaN();
        if (a[0] == a[1])
          return std::signbit(a[0]) ? a[0] : a[1];
        return std::min(a[0], a[1]);
      })
      .Case<arith::MaxNumFOp>([&](auto) -> R { return std::fmax(a[0], a[1]); })
      .Case<arith::MinNumFOp>([&](auto) -> R { return std::fmin(a[0], a[1]); })
      .Case<arith::CmpFOp>([&](arith::CmpFOp c) -> R {
        return arith::applyCmpPredicate(c.getPredicate(), APFloat(a[0]),
                                        APFloat(a[1]))
                   ? 1.0
                   : 0.0;
      })
      .Case<arith::SelectOp>([&](auto) -> R { return a[0] != 0 ? a[1] : a[2]; })
      // Float types are not rounded: this is the f64 oracle.
      .Case<arith::ExtFOp, arith::TruncFOp>([&](auto) -> R { return a[0]; })
      .Case<arith::SIToFPOp>(
          [&](auto) -> R { return static_cast<double>(x.s(0)); })
      .Case<arith::UIToFPOp>(
          [&](auto) -> R { return static_cast<double>(x.u(0)); })
      .Case<arith::FPToSIOp, arith::FPToUIOp>(
          [&](auto) -> R { return x.out(fpToInt(a[0])); })
      .Default([](Operation *) { return std::nullopt; });
}

std::optional<FailureOr<double>>
Interpreter::evalIntArith(Operation *op, const ScalarOperands &x) {
  using R = FailureOr<double>;
  unsigned wi = x.wi;
  auto divByZero = [&]() -> R {
    failOp(op, "integer division by zero");
    return failure();
  };
  return llvm::TypeSwitch<Operation *, std::optional<R>>(op)
      .Case<arith::AddIOp>([&](auto) { return x.out(x.bits(0) + x.bits(1)); })
      .Case<arith::SubIOp>([&](auto) { return x.out(x.bits(0) - x.bits(1)); })
      .Case<arith::MulIOp>([&](auto) { return x.out(x.bits(0) * x.bits(1)); })
      .Case<arith::DivSIOp>([&](auto) -> R {
        if (x.s(1) == 0)
          return divByZero();
        return x.isMinOverMinusOne() ? x.outS(x.s(0)) : x.outS(x.s(0) / x.s(1));
      })
      .Case<arith::DivUIOp>([&](auto) -> R {
        if (x.u(1) == 0)
          return divByZero();
        return x.out(x.u(0) / x.u(1));
      })
      .Case<arith::CeilDivSIOp>([&](auto) -> R {
        if (x.s(1) == 0)
          return divByZero();
        return x.isMinOverMinusOne() ? x.outS(x.s(0))
                                     : x.outS(ceilDiv(x.s(0), x.s(1)));
      })
      .Case<arith::CeilDivUIOp>([&](auto) -> R {
        if (x.u(1) == 0)
          return divByZero();
        return x.out(x.u(0) / x.u(1) + (x.u(0) % x.u(1) != 0));
      })
      .Case<arith::FloorDivSIOp>([&](auto) -> R {
        if (x.s(1) == 0)
          return divByZero();
        return x.isMinOverMinusOne() ? x.outS(x.s(0))
                                     : x.outS(floorDiv(x.s(0), x.s(1)));
      })
      .Case<arith::RemSIOp>([&](auto) -> R {
        if (x.s(1) == 0)
          return divByZero();
        return x.isMinOverMinusOne() ? x.outS(0) : x.outS(x.s(0) % x.s(1));
      })
      .Case<arith::RemUIOp>([&](auto) -> R {
        if (x.u(1) == 0)
          return divByZero();
        return x.out(x.u(0) % x.u(1));
      })
      .Case<arith::AndIOp>([&](auto) { return x.out(x.bits(0) & x.bits(1)); })
      .Case<arith::OrIOp>([&](auto) { return x.out(x.bits(0) | x.bits(1)); })
      .Case<arith::XOrIOp>([&](auto) { return x.out(x.bits(0) ^ x.bits(1)); })
      // Shifts by the bit width or more are poison; give a fixed answer.
      .Case<arith::ShLIOp>(
          [&](auto) { return x.out(x.u(1) >= wi ? 0 : x.bits(0) << x.u(1)); })
      .Case<arith::ShRUIOp>(
          [&](auto) { return x.out(x.u(1) >= wi ? 0 : x.u(0) >> x.u(1)); })
      .Case<arith::ShRSIOp>([&](auto) {
        return x.outS(x.u(1) >= wi ? (x.s(0) < 0 ? -1 : 0) : x.s(0) >> x.u(1));
      })
      .Case<arith::MaxSIOp>(
          [&](auto) { return x.outS(std::max(x.s(0), x.s(1))); })
      .Case<arith::MinSIOp>(
          [&](auto) { return x.outS(std::min(x.s(0), x.s(1))); })
      .Case<arith::MaxUIOp>(
          [&](auto) { return x.out(std::max(x.u(0), x.u(1))); })
      .Case<arith::MinUIOp>(
          [&](auto) { return x.out(std::min(x.u(0), x.u(1))); })
      .Case<arith::CmpIOp>([&](arith::CmpIOp c) -> R {
        return arith::applyCmpPredicate(c.getPredicate(), APInt(wi, x.u(0)),
                                        APInt(wi, x.u(1)))
                   ? 1.0
                   : 0.0;
      })
      .Case<arith::ExtSIOp, arith::IndexCastOp>(
          [&](auto) { return x.outS(x.s(0)); })
      .Case<arith::ExtUIOp, arith::IndexCastUIOp>(
          [&](auto) { return x.out(x.u(0)); })
      .Case<arith::TruncIOp>([&](auto) { return x.out(x.bits(0)); })
      .Default([](Operation *) { return std::nullopt; });
}

std::optional<FailureOr<double>>
Interpreter::evalMath(Operation *op, const ScalarOperands &x) {
  using R = FailureOr<double>;
  ArrayRef<double> a = x.a;
  return llvm::TypeSwitch<Operation *, std::optional<R>>(op)
      .Case<math::ExpOp>([&](auto) -> R { return std::exp(a[0]); })
      .Case<math::Exp2Op>([&](auto) -> R { return std::exp2(a[0]); })
      .Case<math::ExpM1Op>([&](auto) -> R { return std::expm1(a[0]); })
      .Case<math::LogOp>([&](auto) -> R { return std::log(a[0]); })
      .Case<math::Log2Op>([&](auto) -> R { return std::log2(a[0]); })
      .Case<math::Log10Op>([&](auto) -> R { return std::log10(a[0]); })
      .Case<math::Log1pOp>([&](auto) -> R { return std::log1p(a[0]); })
      .Case<math::TanhOp>([&](auto) -> R { return std::tanh(a[0]); })
      .Case<math::SqrtOp>([&](auto) -> R { return std::sqrt(a[0]); })
      .Case<math::RsqrtOp>([&](auto) -> R { return 1.0 / std::sqrt(a[0]); })
      .Case<math::CbrtOp>([&](auto) -> R { return std::cbrt(a[0]); })
      .Case<math::PowFOp>([&](auto) -> R { return std::pow(a[0], a[1]); })
      .Case<math::FPowIOp>([&](auto) -> R {
        return std::pow(
            a[0], static_cast<double>(
                      asSigned(a[1], intWidth(op->getOperand(1).getType()))));
      })
      .Case<math::AbsFOp>([&](auto) -> R { return std::fabs(a[0]); })
      .Case<math::AbsIOp>([&](auto) {
        return x.out(x.s(0) < 0 ? uint64_t(0) - x.bits(0) : x.bits(0));
      })
      .Case<math::CopySignOp>(
          [&](auto) -> R { return std::copysign(a[0], a[1]); })
      .Case<math::ErfOp>([&](auto) -> R { return std::erf(a[0]); })
      .Case<math::ErfcOp>([&](auto) -> R { return std::erfc(a[0]); })
      .Case<math::SinOp>([&](auto) -> R { return std::sin(a[0]); })
      .Case<math::CosOp>([&](auto) -> R { return std::cos(a[0]); })
      .Case<math::TanOp>([&](auto) -> R { return std::tan(a[0]); })
      .Case<math::SinhOp>([&](auto) -> R { return std::sinh(a[0]); })
      .Case<math::CoshOp>([&](auto) -> R { return std::cosh(a[0]); })
      .Case<math::AsinOp>([&](auto) -> R { return std::asin(a[0]); })
      .Case<math::AcosOp>([&](auto) -> R { return std::acos(a[0]); })
      .Case<math::AtanOp>([&](auto) -> R { return std::atan(a[0]); })
      .Case<math::Atan2Op>([&](auto) -> R { return std::atan2(a[0], a[1]); })
      .Case<math::FloorOp>([&](auto) -> R { return std::floor(a[0]); })
      .Case<math::CeilOp>([&](auto) -> R { return std::ceil(a[0]); })
      .Case<math::TruncOp>([&](auto) -> R { return std::trunc(a[0]); })
      .Case<math::RoundOp>([&](auto) -> R { return std::round(a[0]); })
      // nearbyint rounds half to even in the default rounding mode.
      .Case<math::RoundEvenOp>([&](auto) -> R { return std::nearbyint(a[0]); })
      .Case<math::FmaOp>([&](auto) -> R { return std::fma(a[0], a[1], a[2]); })
      .Case<math::IsNaNOp>([&](auto) -> R { return std::isnan(a[0]) ? 1 : 0; })
      .Case<math::IsInfOp>([&](auto) -> R { return std::isinf(a[0]) ? 1 : 0; })
      .Case<math::IsFiniteOp>(
          [&](auto) -> R { return std::isfinite(a[0]) ? 1 : 0; })
      .Default([](Operation *) { return std::nullopt; });
}

//===----------------------------------------------------------------------===//
// func / scf
//===----------------------------------------------------------------------===//

bool Interpreter::execCall(func::CallOp op) {
  auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      op, op.getCalleeAttr());
  if (!callee)
    return failOp(op, "callee '" + op.getCallee() + "' not found");
  if (depth + 1 >= kMaxCallDepth)
    return failOp(op, "call nesting deeper than " + Twine(kMaxCallDepth));
  SmallVector<RtValue> args, results;
  for (Value v : op.getOperands())
    args.push_back(get(v));
  // A fresh environment keeps recursive calls from clobbering our values.
  Interpreter nested(error, depth + 1);
  if (!nested.run(callee, args, results))
    return false;
  if (results.size() != op.getNumResults())
    return failOp(op, "callee returned the wrong number of values");
  for (auto [v, r] : llvm::zip(op.getResults(), results))
    if (!bind(v, r))
      return false;
  return true;
}

bool Interpreter::execFor(scf::ForOp op) {
  bool isUnsigned = op.getUnsignedCmp();
  auto bound = [&](Value v) -> int64_t {
    unsigned w = intWidth(v.getType());
    return isUnsigned ? static_cast<int64_t>(asUnsigned(scalar(v), w))
                      : asSigned(scalar(v), w);
  };
  int64_t lb = bound(op.getLowerBound()), ub = bound(op.getUpperBound());
  int64_t step = bound(op.getStep());
  if (step <= 0)
    return failOp(op, "step must be positive, got " + Twine(step));
  SmallVector<RtValue> iter, yielded;
  RtValue iv;
  iter.push_back(iv);
  for (Value v : op.getInitArgs())
    iter.push_back(get(v));
  for (int64_t i = lb; i < ub;) {
    iter[0].scalar = static_cast<double>(i);
    if (!runBlock(*op.getBody(), iter, yielded))
      return false;
    if (yielded.size() + 1 != iter.size())
      return failOp(op, "body yields the wrong number of values");
    std::copy(yielded.begin(), yielded.end(), iter.begin() + 1);
    if (ub - i <= step)
      break;
    i += step;
  }
  for (auto [v, r] : llvm::zip(op.getResults(), ArrayRef(iter).drop_front()))
    if (!bind(v, r))
      return false;
  return true;
}

bool Interpreter::execIf(scf::IfOp op) {
  Region &region =
      scalar(op.getCondition()) != 0 ? op.getThenRegion() : op.getElseRegion();
  SmallVector<RtValue> yielded;
  if (region.empty())
    return op.getNumResults() == 0 || failOp(op, "missing else region");
  if (!runBlock(region.front(), {}, yielded))
    return false;
  if (yielded.size() != op.getNumResults())
    return failOp(op, "region yields the wrong number of values");
  for (auto [v, r] : llvm::zip(op.getResults(), yielded))
    if (!bind(v, r))
      return false;
  return true;
}

//===----------------------------------------------------------------------===//
// linalg
//===----------------------------------------------------------------------===//

/// Runs any structured op: iterate the whole iteration domain in
/// lexicographic order and evaluate the payload on the elements the indexing
/// maps select; reductions just read back the partial output element.
bool Interpreter::execLinalg(linalg::LinalgOp op) {
  Operation *o = op.getOperation();
  if (!op.hasPureTensorSemantics())
    return unsupported(o);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (maps.size() != o->getNumOperands())
    return unsupported(o);
  SmallVector<RtValue> operands;
  SmallVector<int64_t> allSizes;
  for (auto [n, v] : llvm::enumerate(o->getOperands())) {
    operands.push_back(get(v));
    const Tensor *t = operands.back().tensor.get();
    unsigned rank = t ? t->shape.size() : 0;
    if (maps[n].getNumResults() != rank)
      return failOp(o, "indexing map #" + Twine(n) + " does not match rank " +
                           Twine(rank));
    if (t)
      allSizes.append(t->shape.begin(), t->shape.end());
  }
  unsigned numLoops = op.getNumLoops();
  AffineMap shapesToLoops = op.getShapesToLoopsMap();
  if (!shapesToLoops || shapesToLoops.getNumResults() != numLoops ||
      shapesToLoops.getNumDims() != allSizes.size())
    return failOp(o, "cannot derive the loop bounds from the operand shapes");
  SmallVector<int64_t> bounds;
  int64_t total = 1;
  for (AffineExpr e : shapesToLoops.getResults()) {
    std::optional<int64_t> b = evalAffine(e, allSizes);
    if (!b || *b < 0)
      return failOp(o, "cannot derive the loop bounds from the operand shapes");
    bounds.push_back(*b);
    if (*b && total > kMaxElements * 64 / *b)
      return failOp(o, "iteration domain too large for the reference "
                       "interpreter");
    total *= *b;
  }
  // Operand dimensions indexed by a plain loop must span exactly that loop
  // (this is where mismatched runtime shapes, e.g. a matmul's K, show up).
  SmallVector<SmallVector<int64_t>> strides;
  for (auto [n, map] : llvm::enumerate(maps)) {
    const Tensor *t = operands[n].tensor.get();
    strides.push_back(t ? stridesOf(t->shape) : SmallVector<int64_t>());
    for (auto [d, e] : llvm::enumerate(map.getResults()))
      if (auto dim = dyn_cast<AffineDimExpr>(e))
        if (t->shape[d] != bounds[dim.getPosition()])
          return failOp(o, llvm::formatv("operand #{0} has size {1} in dim "
                                         "{2}, but the loop spans {3}",
                                         n, t->shape[d], d,
                                         bounds[dim.getPosition()])
                               .str());
  }
  unsigned numInputs = op.getNumDpsInputs();
  SmallVector<Tensor> outs;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    if (!operands[init.getOperandNumber()].tensor)
      return unsupported(o);
    outs.push_back(*operands[init.getOperandNumber()].tensor);
  }
  SmallVector<int64_t> idx(numLoops, 0);
  // Flat offset of operand `n` at the current iteration point.
  auto offsetOf = [&](unsigned n, int64_t &off) {
    const Tensor &t = *operands[n].tensor;
    off = 0;
    for (auto [d, e] : llvm::enumerate(maps[n].getResults())) {
      int64_t c;
      if (auto dim = dyn_cast<AffineDimExpr>(e)) {
        c = idx[dim.getPosition()];
      } else {
        std::optional<int64_t> v = evalAffine(e, idx);
        if (!v || *v < 0 || *v >= t.shape[d])
          return failOp(o,
                        "operand #" + Twine(n) + " is accessed out of bounds");
        c = *v;
      }
      off += c * strides[n][d];
    }
    return true;
  };
  Block *body = op.getBlock();
  SmallVector<OpOperand *> bbOperands = op.getOpOperandsMatchingBBargs();
  if (!body || body->getNumArguments() != bbOperands.size())
    return unsupported(o);
  SmallVector<RtValue> args(bbOperands.size()), yielded;
  SmallVectorImpl<int64_t> *savedIndices = loopIndices;
  loopIndices = &idx;
  llvm::scope_exit restore([&] { loopIndices = savedIndices; });
  for (int64_t it = 0; it < total; ++it) {
    for (auto [k, operand] : llvm::enumerate(bbOperands)) {
      unsigned n = operand->getOperandNumber();
      if (!operands[n].tensor) {
        args[k].scalar = operands[n].scalar;
        continue;
      }
      int64_t off;
      if (!offsetOf(n, off))
        return false;
      const Tensor &src =
          n >= numInputs ? outs[n - numInputs] : *operands[n].tensor;
      args[k].scalar = src.data[off];
    }
    if (!runBlock(*body, args, yielded))
      return false;
    if (yielded.size() != outs.size())
      return failOp(o, "payload yields the wrong number of values");
    for (auto [k, out] : llvm::enumerate(outs)) {
      int64_t off;
      if (!offsetOf(numInputs + k, off))
        return false;
      out.data[off] =
          roundTo(cast<ShapedType>(o->getOperand(numInputs + k).getType())
                      .getElementType(),
                  yielded[k].scalar);
    }
    for (int64_t d = static_cast<int64_t>(numLoops) - 1; d >= 0; --d) {
      if (++idx[d] < bounds[d])
        break;
      idx[d] = 0;
    }
  }
  for (auto [k, out] : llvm::enumerate(outs))
    if (!setTensor(o->getResult(k), std::move(out)))
      return false;
  return true;
}

//===----------------------------------------------------------------------===//
// tensor
//===----------------------------------------------------------------------===//

bool Interpreter::foldedInt(OpFoldResult ofr, int64_t &out) {
  if (auto attr = dyn_cast<Attribute>(ofr)) {
    auto i = dyn_cast<IntegerAttr>(attr);
    if (!i)
      return fail("expected an integer attribute");
    out = i.getInt();
    return true;
  }
  out = index(cast<Value>(ofr));
  return true;
}

/// Flat source positions of a strided slice in row-major order of the slice.
/// Dropped (rank-reduced) unit dims do not change that order.
bool Interpreter::sliceIndices(Operation *op, ArrayRef<int64_t> srcShape,
                               ArrayRef<OpFoldResult> offsets,
                               ArrayRef<OpFoldResult> sizes,
                               ArrayRef<OpFoldResult> strides,
                               SmallVectorImpl<int64_t> &positions,
                               SmallVectorImpl<int64_t> &sliceShape) {
  unsigned rank = srcShape.size();
  if (offsets.size() != rank || sizes.size() != rank || strides.size() != rank)
    return failOp(op, "slice rank differs from the tensor rank");
  SmallVector<int64_t> off(rank), size(rank), stride(rank);
  int64_t total = 1;
  for (unsigned d = 0; d < rank; ++d) {
    if (!foldedInt(offsets[d], off[d]) || !foldedInt(sizes[d], size[d]) ||
        !foldedInt(strides[d], stride[d]))
      return false;
    if (size[d] < 0)
      return failOp(op, "negative slice size");
    // Both the first and the last element of the slice must be in bounds.
    int64_t last = off[d] + (size[d] - 1) * stride[d];
    if (size[d] > 0 && (off[d] < 0 || off[d] >= srcShape[d] || last < 0 ||
                        last >= srcShape[d]))
      return failOp(op,
                    llvm::formatv("slice [offset {0}, size {1}, stride "
                                  "{2}] is out of bounds of dim {3} "
                                  "(size {4})",
                                  off[d], size[d], stride[d], d, srcShape[d])
                        .str());
    total *= size[d];
  }
  if (total > kMaxElements)
    return failOp(op, "slice too large for the reference interpreter");
  sliceShape.assign(size.begin(), size.end());
  SmallVector<int64_t> srcStrides = stridesOf(srcShape), idx(rank, 0);
  positions.clear();
  for (int64_t e = 0; e < total; ++e) {
    int64_t p = 0;
    for (unsigned d = 0; d < rank; ++d)
      p += (off[d] + idx[d] * stride[d]) * srcStrides[d];
    positions.push_back(p);
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      if (++idx[d] < size[d])
        break;
      idx[d] = 0;
    }
  }
  return true;
}

/// Flat offset of `indices` into `t`, bounds checked.
bool Interpreter::flatOffset(Operation *op, const Tensor &t, ValueRange indices,
                             int64_t &off) {
  if (indices.size() != t.shape.size())
    return failOp(op, "wrong number of indices");
  off = 0;
  for (auto [d, v] : llvm::enumerate(indices)) {
    int64_t i = index(v);
    if (i < 0 || i >= t.shape[d])
      return failOp(op, llvm::formatv("index {0} out of bounds for dim {1} "
                                      "of {2}",
                                      i, d, formatShape(t.shape))
                            .str());
    off = off * t.shape[d] + i;
  }
  return true;
}

/// The shape of `op`'s result type with its dynamic sizes taken from
/// `dynSizes`.
bool Interpreter::resultShape(Operation *op, ValueRange dynSizes,
                              SmallVectorImpl<int64_t> &shape) {
  auto type = cast<RankedTensorType>(op->getResult(0).getType());
  auto dyn = dynSizes.begin();
  for (int64_t d : type.getShape()) {
    if (!ShapedType::isDynamic(d)) {
      shape.push_back(d);
      continue;
    }
    if (dyn == dynSizes.end())
      return failOp(op, "missing dynamic size");
    shape.push_back(index(*dyn++));
  }
  return true;
}

bool Interpreter::execTensorOp(Operation *op) {
  return llvm::TypeSwitch<Operation *, bool>(op)
      .Case<tensor::ExtractOp>([&](tensor::ExtractOp e) {
        const Tensor &t = tensor(e.getTensor());
        int64_t off;
        if (!flatOffset(op, t, e.getIndices(), off))
          return false;
        scalars[e.getResult()] = t.data[off];
        return true;
      })
      .Case<tensor::DimOp>([&](tensor::DimOp d) {
        const Tensor &t = tensor(d.getSource());
        int64_t i = index(d.getIndex());
        if (i < 0 || i >= static_cast<int64_t>(t.shape.size()))
          return failOp(op, "dimension " + Twine(i) + " out of range");
        scalars[d.getResult()] = static_cast<double>(t.shape[i]);
        return true;
      })
      .Case<tensor::EmptyOp>([&](tensor::EmptyOp e) {
        SmallVector<int64_t> shape;
        Tensor t;
        return resultShape(op, e.getDynamicSizes(), shape) &&
               alloc(op, shape, t) && setTensor(e.getResult(), std::move(t));
      })
      .Case<tensor::SplatOp>([&](tensor::SplatOp s) {
        SmallVector<int64_t> shape;
        Tensor t;
        if (!resultShape(op, s.getDynamicSizes(), shape) ||
            !alloc(op, shape, t))
          return false;
        std::fill(t.data.begin(), t.data.end(), scalar(s.getInput()));
        return setTensor(s.getResult(), std::move(t));
      })
      .Case<tensor::FromElementsOp>([&](tensor::FromElementsOp f) {
        Tensor t;
        if (!alloc(op, f.getType().getShape(), t))
          return false;
        if (static_cast<int64_t>(f.getElements().size()) != t.numElements())
          return failOp(op, "element count does not match the shape");
        for (auto [k, v] : llvm::enumerate(f.getElements()))
          t.data[k] = scalar(v);
        return setTensor(f.getResult(), std::move(t));
      })
      .Case<tensor::CastOp>([&](tensor::CastOp c) {
        Tensor t = tensor(c.getSource());
        return setTensor(c.getResult(), std::move(t));
      })
      .Case<tensor::InsertOp>([&](tensor::InsertOp ins) {
        Tensor t = tensor(ins.getDest());
        int64_t off;
        if (!flatOffset(op, t, ins.getIndices(), off))
          return false;
        t.data[off] = scalar(ins.getScalar());
        return setTensor(ins.getResult(), std::move(t));
      })
      .Case<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
            tensor::ExtractSliceOp, tensor::InsertSliceOp, tensor::GenerateOp>(
          [&](auto t) { return execTensor(t); })
      .Default([&](Operation *o) { return unsupported(o); });
}

bool Interpreter::execTensor(tensor::CollapseShapeOp c) {
  Tensor t = tensor(c.getSrc());
  SmallVector<int64_t> shape;
  for (ReassociationIndices group : c.getReassociationIndices()) {
    int64_t n = 1;
    for (int64_t d : group) {
      if (d >= static_cast<int64_t>(t.shape.size()))
        return failOp(c, "reassociation does not match the rank");
      n *= t.shape[d];
    }
    shape.push_back(n);
  }
  t.shape = shape;
  return setTensor(c.getResult(), std::move(t));
}

bool Interpreter::execTensor(tensor::ExpandShapeOp e) {
  Tensor t = tensor(e.getSrc());
  SmallVector<int64_t> shape;
  for (OpFoldResult ofr : e.getMixedOutputShape()) {
    int64_t d;
    if (!foldedInt(ofr, d))
      return false;
    shape.push_back(d);
  }
  SmallVector<ReassociationIndices> groups = e.getReassociationIndices();
  if (groups.size() != t.shape.size())
    return failOp(e, "reassociation does not match the rank");
  for (auto [src, group] : llvm::enumerate(groups)) {
    int64_t n = 1;
    for (int64_t d : group)
      n *= shape[d];
    if (n != t.shape[src])
      return failOp(e, llvm::formatv("cannot expand dim {0} of size "
                                     "{1} into {2} elements",
                                     src, t.shape[src], n)
                           .str());
  }
  t.shape = shape;
  return setTensor(e.getResult(), std::move(t));
}

bool Interpreter::execTensor(tensor::ExtractSliceOp s) {
  const Tensor &src = tensor(s.getSource());
  SmallVector<int64_t> positions, sliceShape;
  if (!sliceIndices(s, src.shape, s.getMixedOffsets(), s.getMixedSizes(),
                    s.getMixedStrides(), positions, sliceShape))
    return false;
  llvm::SmallBitVector dropped = s.getDroppedDims();
  SmallVector<int64_t> shape;
  for (auto [d, n] : llvm::enumerate(sliceShape))
    if (!dropped.test(d))
      shape.push_back(n);
  Tensor t;
  if (!alloc(s, shape, t))
    return false;
  for (auto [k, p] : llvm::enumerate(positions))
    t.data[k] = src.data[p];
  return setTensor(s.getResult(), std::move(t));
}

bool Interpreter::execTensor(tensor::InsertSliceOp s) {
  const Tensor &src = tensor(s.getSource());
  Tensor t = tensor(s.getDest());
  SmallVector<int64_t> positions, sliceShape;
  if (!sliceIndices(s, t.shape, s.getMixedOffsets(), s.getMixedSizes(),
                    s.getMixedStrides(), positions, sliceShape))
    return false;
  if (static_cast<int64_t>(positions.size()) != src.numElements())
    return failOp(s, "source shape " + formatShape(src.shape) +
                         " does not match the slice " +
                         formatShape(sliceShape));
  for (auto [k, p] : llvm::enumerate(positions))
    t.data[p] = src.data[k];
  return setTensor(s.getResult(), std::move(t));
}

bool Interpreter::execTensor(tensor::GenerateOp g) {
  SmallVector<int64_t> shape;
  Tensor t;
  if (!resultShape(g, g.getDynamicExtents(), shape) || !alloc(g, shape, t))
    return false;
  SmallVector<RtValue> args(shape.size()), yielded;
  for (int64_t e = 0, n = t.numElements(); e < n; ++e) {
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1, r = e; d >= 0;
         --d) {
      args[d].scalar = static_cast<double>(r % shape[d]);
      r /= shape[d];
    }
    if (!runBlock(g.getBody().front(), args, yielded))
      return false;
    if (yielded.size() != 1 || yielded[0].tensor)
      return failOp(g, "body must yield one scalar");
    t.data[e] = yielded[0].scalar;
  }
  return setTensor(g.getResult(), std::move(t));
}

//===----------------------------------------------------------------------===//
// attn: shapes, scores, masks
//===----------------------------------------------------------------------===//

/// Applies the op's shape rules to the concrete operand shapes, so runtime
/// mismatches (dynamic dims) become errors before any loop indexes them.
bool Interpreter::checkShapes(Operation *op) {
  auto shapeOf = [&](Value v) -> Shape {
    if (const TensorRef &t = tensors.lookup(v))
      return Shape(t->shape.begin(), t->shape.end());
    if (auto type = dyn_cast<ShapedType>(v.getType()))
      return Shape(type.getShape().begin(), type.getShape().end());
    return Shape();
  };
  SmallVector<Shape> resultShapes;
  std::string msg;
  if (!checkAttnOpShapes(op, shapeOf, resultShapes, msg))
    return failOp(op, msg);
  return true;
}

/// s = scale * Q K^T, with query head h reading key head h / (Hq / Hkv).
bool Interpreter::computeScores(Operation *op, const Tensor &q, const Tensor &k,
                                double scale, Tensor &s) {
  int64_t nb = q.shape[0], hq = q.shape[1], sq = q.shape[2], dim = q.shape[3];
  int64_t skv = k.shape[2], group = hq / k.shape[1];
  if (!alloc(op, {nb, hq, sq, skv}, s))
    return false;
  double *out = s.data.data();
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < sq; ++i) {
        const double *qi = q.data.data() + off4(q.shape, b, h, i, 0);
        for (int64_t j = 0; j < skv; ++j) {
          const double *kj = k.data.data() + off4(k.shape, b, h / group, j, 0);
          double dot = 0;
          for (int64_t d = 0; d < dim; ++d)
            dot += qi[d] * kj[d];
          *out++ = scale * dot;
        }
      }
  return true;
}

bool Interpreter::execAttn(ScoreOp op) {
  Tensor s;
  return computeScores(op, tensor(op.getQuery()), tensor(op.getKey()),
                       op.getEffectiveScale(), s) &&
         setTensor(op.getScores(), std::move(s));
}

/// Replaces every score x at (b, h, i, j) by what `body` yields for it.
bool Interpreter::applyScoreMod(Operation *op, Block &body, Tensor &s,
                                const Positions *positions) {
  SmallVector<RtValue> args(5), yielded;
  const int64_t qBase = positions ? positions->query : 0;
  const int64_t kBase = positions ? positions->key : 0;
  int64_t e = 0;
  for (int64_t b = 0; b < s.shape[0]; ++b)
    for (int64_t h = 0; h < s.shape[1]; ++h)
      for (int64_t i = 0; i < s.shape[2]; ++i)
        for (int64_t j = 0; j < s.shape[3]; ++j, ++e) {
          args[0].scalar = s.data[e];
          args[1].scalar = b;
          args[2].scalar = h;
          args[3].scalar = qBase + i;
          args[4].scalar = kBase + j;
          if (!runBlock(body, args, yielded))
            return false;
          if (yielded.size() != 1 || yielded[0].tensor)
            return failOp(op, "region must yield one scalar");
          s.data[e] = yielded[0].scalar;
        }
  return true;
}

bool Interpreter::execAttn(ScoreModOp op) {
  Tensor r = tensor(op.getScores());
  return applyScoreMod(op, op.getBody().front(), r) &&
         setTensor(op.getResult(), std::move(r));
}

bool Interpreter::buildPattern(Attribute attr, ValueRange &operands,
                               const MaskGeometry &g, MaskPattern &out) {
  out.attr = attr;
  if (auto any = dyn_cast<AnyAttr>(attr)) {
    for (Attribute inner : any.getPatterns()) {
      out.alternatives.emplace_back();
      if (!buildPattern(inner, operands, g, out.alternatives.back()))
        return false;
    }
    return true;
  }
  auto pattern = dyn_cast<MaskPatternAttrInterface>(attr);
  if (!pattern)
    return fail("mask pattern must be an #attn pattern attribute");
  unsigned n = pattern.getNumMaskOperands();
  if (operands.size() < n)
    return fail("mask patterns consume more operands than given");
  for (Value v : operands.take_front(n))
    out.operands.push_back(&tensor(v));
  operands = operands.drop_front(n);

  auto positive = [&](int64_t v, StringRef what) {
    return v > 0 || fail(Twine(what) + " must be positive, got " + Twine(v));
  };
  return llvm::TypeSwitch<Attribute, bool>(attr)
      .Case<CausalAttr, WindowAttr, SinkAttr, PrefixAttr, SegmentsAttr,
            RowsAttr, DenseAttr>([](auto) { return true; })
      .Case<ChunkAttr>(
          [&](ChunkAttr c) { return positive(c.getSize(), "chunk size"); })
      .Case<BlockLocalAttr>([&](BlockLocalAttr b) {
        return positive(b.getBlock(), "block_local block");
      })
      .Case<BlockMaskAttr>([&](BlockMaskAttr b) {
        if (!positive(b.getBlockQ(), "block_mask block_q") ||
            !positive(b.getBlockKv(), "block_mask block_kv"))
          return false;
        // A positioned attention reads the sequence's mask at positions.
        if (!g.positions)
          return true;
        const Tensor &m = *out.operands[0];
        int64_t needQ = ceilDiv(g.positions->query + g.sq, b.getBlockQ());
        int64_t needK = ceilDiv(g.positions->key + g.skv, b.getBlockKv());
        if (m.shape.size() != 4 || m.shape[2] < needQ || m.shape[3] < needK)
          return fail("#attn.block_mask of a positioned attention needs at "
                      "least " +
                      Twine(needQ) + " x " + Twine(needK) +
                      " blocks for its positions");
        return true;
      })
      .Case<CsrAttr>([&](CsrAttr) {
        const Tensor &rp = *out.operands[0], &cols = *out.operands[1];
        int64_t nnz = cols.numElements();
        for (double v : rp.data)
          out.rowPtr.push_back(toInt(v));
        for (double v : cols.data)
          out.cols.push_back(toInt(v));
        if (out.rowPtr.empty() || out.rowPtr[0] != 0)
          return fail("invalid CSR: row pointer 0 must be 0");
        for (int64_t i = 0; i < g.sq; ++i) {
          int64_t lo = out.rowPtr[i], hi = out.rowPtr[i + 1];
          if (hi < lo || hi > nnz)
            return fail(llvm::formatv("invalid CSR: row pointers must be "
                                      "non-decreasing and at most nnz = {0} "
                                      "(row {1}: [{2}, {3}))",
                                      nnz, i, lo, hi)
                            .str());
          for (int64_t p = lo; p < hi; ++p) {
            int64_t c = out.cols[p];
            if (c < 0 || c >= g.skv)
              return fail(llvm::formatv("invalid CSR: column index {0} in "
                                        "row {1} is outside [0, {2})",
                                        c, i, g.skv)
                              .str());
            if (p > lo && c <= out.cols[p - 1])
              return fail(llvm::formatv("invalid CSR: column indices of row "
                                        "{0} are not strictly increasing",
                                        i)
                              .str());
          }
        }
        if (out.rowPtr[g.sq] != nnz)
          return fail(llvm::formatv("invalid CSR: last row pointer is {0}, "
                                    "but there are {1} column indices",
                                    out.rowPtr[g.sq], nnz)
                          .str());
        return true;
      })
      .Case<IndicesAttr>([&](IndicesAttr) {
        const Tensor &t = *out.operands[0];
        for (auto [e, v] : llvm::enumerate(t.data)) {
          if (v >= -1 && v < g.skv)
            continue;
          int64_t k = t.shape[3], row = k ? e / k : 0;
          return fail(llvm::formatv("invalid indices: entry {0} at [{1}, {2}, "
                                    "{3}, {4}] is outside [-1, {5})",
                                    toInt(v), row / (g.sq * g.heads),
                                    row / g.sq % g.heads, row % g.sq,
                                    k ? e % k : 0, g.skv)
                          .str());
        }
        return true;
      })
      .Default([&](Attribute a) {
        std::string s;
        llvm::raw_string_ostream os(s);
        os << a;
        return fail("unsupported mask pattern " + s +
                    " in reference interpreter");
      });
}

bool Interpreter::keeps(const MaskPattern &p, const MaskGeometry &g, int64_t b,
                        int64_t h, int64_t i, int64_t j) const {
  // Position patterns see the query at its bottom-right aligned position,
  // or both at the positions of a positioned attention (jp).
  int64_t ip = g.positions ? g.positions->query + i : i + (g.skv - g.sq);
  int64_t jp = g.positions ? g.positions->key + j : j;
  // Index into a tensor whose batch/head dims may be broadcast (size 1).
  auto bh = [&](const Tensor &t, int64_t x, int64_t y) {
    return std::make_pair(t.shape[0] == 1 ? 0 : x, t.shape[1] == 1 ? 0 : y);
  };
  return llvm::TypeSwitch<Attribute, bool>(p.attr)
      .Case<CausalAttr>([&](auto) { return jp <= ip; })
      .Case<WindowAttr>([&](WindowAttr w) {
        return ip - w.getLeftFor(h) <= jp && jp <= ip + w.getRightFor(h);
      })
      .Case<ChunkAttr>([&](ChunkAttr c) {
        return floorDiv(ip, c.getSize()) == floorDiv(jp, c.getSize());
      })
      .Case<SinkAttr>([&](SinkAttr s) { return jp < s.getCount(); })
      .Case<PrefixAttr>(
          [&](PrefixAttr pr) { return jp < pr.getLength() || jp <= ip; })
      .Case<BlockLocalAttr>([&](BlockLocalAttr bl) {
        int64_t start = floorDiv(ip, bl.getBlock()) * bl.getBlock();
        return start - bl.getHalo() <= jp &&
               jp < start + bl.getBlock() + bl.getHalo();
      })
      .Case<AnyAttr>([&](auto) {
        return llvm::any_of(p.alternatives, [&](const MaskPattern &alt) {
          return keeps(alt, g, b, h, i, j);
        });
      })
      .Case<BlockMaskAttr>([&](BlockMaskAttr bm) {
        const Tensor &t = *p.operands[0];
        auto [tb, th] = bh(t, b, h);
        // A positioned attention's block mask is the sequence's.
        int64_t qi = g.positions ? ip : i, kj = g.positions ? jp : j;
        return t.data[off4(t.shape, tb, th, qi / bm.getBlockQ(),
                           kj / bm.getBlockKv())] != 0;
      })
      .Case<SegmentsAttr>([&](auto) {
        auto id = [&](const Tensor &t, int64_t pos) {
          if (t.shape.size() == 2)
            return t.data[b * t.shape[1] + pos];
          return t.data[off3(t.shape, b, t.shape[1] == 1 ? 0 : h, pos)];
        };
        return id(*p.operands[0], i) == id(*p.operands[1], j);
      })
      .Case<CsrAttr>([&](auto) {
        return std::binary_search(p.cols.begin() + p.rowPtr[i],
                                  p.cols.begin() + p.rowPtr[i + 1], j);
      })
      .Case<IndicesAttr>([&](auto) {
        const Tensor &t = *p.operands[0];
        const double *row = t.data.data() + off4(t.shape, b, h, i, 0);
        return std::find(row, row + t.shape[3], static_cast<double>(j)) !=
               row + t.shape[3];
      })
      .Case<RowsAttr>([&](auto) {
        const Tensor &t = *p.operands[0];
        return t.data[off3(t.shape, b, h, i)] != 0;
      })
      .Case<DenseAttr>([&](auto) {
        const Tensor &t = *p.operands[0];
        auto [tb, th] = bh(t, b, h);
        return t.data[off4(t.shape, tb, th, i, j)] != 0;
      })
      .Default([](Attribute) { return false; });
}

/// Sets to -inf every score that a pattern, or else the predicate (when
/// present), drops.
bool Interpreter::applyMask(Operation *op, ArrayAttr patternAttrs,
                            ValueRange operands, Region &predicateRegion,
                            Tensor &s, const Positions *positions) {
  MaskGeometry g{s.shape[0], s.shape[1], s.shape[2], s.shape[3], positions};
  std::vector<MaskPattern> patterns;
  for (Attribute attr : patternAttrs) {
    patterns.emplace_back();
    if (!buildPattern(attr, operands, g, patterns.back()))
      return false;
  }
  Block *predicate =
      predicateRegion.empty() ? nullptr : &predicateRegion.front();
  SmallVector<RtValue> args(4), yielded;
  int64_t e = 0;
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t h = 0; h < g.heads; ++h)
      for (int64_t i = 0; i < g.sq; ++i)
        for (int64_t j = 0; j < g.skv; ++j, ++e) {
          bool keep = llvm::all_of(patterns, [&](const MaskPattern &p) {
            return keeps(p, g, b, h, i, j);
          });
          if (keep && predicate) {
            args[0].scalar = b;
            args[1].scalar = h;
            args[2].scalar = positions ? positions->query + i : i;
            args[3].scalar = positions ? positions->key + j : j;
            if (!runBlock(*predicate, args, yielded))
              return false;
            if (yielded.size() != 1 || yielded[0].tensor)
              return failOp(op, "predicate must yield one i1");
            keep = yielded[0].scalar != 0;
          }
          if (!keep)
            s.data[e] = -kInf;
        }
  return true;
}

bool Interpreter::execAttn(MaskOp op) {
  Tensor r = tensor(op.getScores());
  return applyMask(op, op.getPatterns(), op.getMaskOperands(),
                   op.getPredicate(), r) &&
         setTensor(op.getResult(), std::move(r));
}

//===----------------------------------------------------------------------===//
// attn: aggregation
//===----------------------------------------------------------------------===//

/// NaN-propagating max, so a NaN score poisons its row instead of vanishing.
double maxOf(double acc, double x) {
  return (std::isnan(x) || x > acc) ? x : acc;
}

} // namespace

double mlir::attn::reference::entmaxThreshold(const double *z, int64_t n,
                                              double alpha) {
  // Relative to the row maximum, tau lies in [-1, 0]: the largest value
  // alone reaches 1 at tau = max - 1, and nothing is left at tau = max.
  double top = -kInf;
  for (int64_t j = 0; j < n; ++j)
    top = std::max(top, z[j]);
  std::vector<double> sorted;
  for (int64_t j = 0; j < n; ++j)
    if (z[j] != -kInf)
      sorted.push_back(z[j] - top);
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  const int64_t kept = sorted.size();
  if (alpha == 2.0) {
    // Sparsemax: the support is the largest k with 1 + k z_(k) > sum_{<=k}.
    double sum = 0, tau = 0;
    for (int64_t k = 1; k <= kept; ++k) {
      sum += sorted[k - 1];
      if (1 + k * sorted[k - 1] > sum)
        tau = (sum - 1) / k;
    }
    return tau + top;
  }
  if (alpha == 1.5) {
    // 1.5-entmax (Peters et al. 2019): tau_k from the mean and variance of
    // the k largest; the support is the k with tau_k <= z_(k).
    double sum = 0, sumSq = 0;
    std::vector<double> taus(kept);
    int64_t support = 0;
    for (int64_t k = 1; k <= kept; ++k) {
      double x = sorted[k - 1];
      sum += x;
      sumSq += x * x;
      double mean = sum / k, ss = k * (sumSq / k - mean * mean);
      double delta = std::max(0.0, (1 - ss) / k);
      taus[k - 1] = mean - std::sqrt(delta);
      if (taus[k - 1] <= x)
        ++support;
    }
    return taus[std::max<int64_t>(support, 1) - 1] + top;
  }
  // Bisection to the last bit of a double (well past 1e-12): a threshold
  // that moves in steps would make finite differences of it noisy.
  const double power = 1.0 / (alpha - 1.0);
  double lo = -1, hi = 0;
  for (;;) {
    double mid = 0.5 * (lo + hi), total = 0;
    if (mid <= lo || mid >= hi)
      break;
    for (double x : sorted) {
      if (x <= mid)
        break;
      total += std::pow(x - mid, power);
    }
    (total >= 1 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi) + top;
}

double mlir::attn::reference::rowWeights(AggregationKind kind, const double *s,
                                         int64_t n, const double *sink,
                                         double *w, double alpha) {
  switch (kind) {
  case AggregationKind::softmax: {
    double m = sink ? *sink : -kInf;
    for (int64_t j = 0; j < n; ++j)
      m = maxOf(m, s[j]);
    if (m == -kInf) {
      std::fill(w, w + n, 0.0);
      return -kInf;
    }
    double l = sink ? std::exp(*sink - m) : 0.0;
    for (int64_t j = 0; j < n; ++j) {
      w[j] = std::exp(s[j] - m);
      l += w[j];
    }
    for (int64_t j = 0; j < n; ++j)
      w[j] /= l;
    return m + std::log(l);
  }
  case AggregationKind::sigmoid:
    for (int64_t j = 0; j < n; ++j)
      w[j] = 1.0 / (1.0 + std::exp(-s[j]));
    return 0;
  case AggregationKind::none:
    for (int64_t j = 0; j < n; ++j)
      w[j] = s[j] == -kInf ? 0.0 : s[j];
    return 0;
  case AggregationKind::entmax: {
    std::vector<double> z(n);
    bool anyKept = false, anyNaN = false;
    for (int64_t j = 0; j < n; ++j) {
      z[j] = s[j] == -kInf ? -kInf : (alpha - 1) * s[j];
      anyKept |= s[j] != -kInf;
      anyNaN |= std::isnan(s[j]);
    }
    if (anyNaN || !anyKept) {
      std::fill(w, w + n, anyNaN ? std::nan("") : 0.0);
      return anyNaN ? std::nan("") : -kInf;
    }
    double tau = entmaxThreshold(z.data(), n, alpha), total = 0;
    for (int64_t j = 0; j < n; ++j) {
      w[j] = z[j] > tau ? std::pow(z[j] - tau, 1.0 / (alpha - 1)) : 0.0;
      total += w[j];
    }
    for (int64_t j = 0; j < n; ++j)
      w[j] /= total;
    return 0;
  }
  }
  return 0;
}

namespace {

/// o[b, h, i] = sum_j w_j v[b, h / group, j], with w the weights `kind` gives
/// row s[b, h, i] (and sink sinks[h]); lse gets each row's lse.
bool Interpreter::aggregate(Operation *op, AggregationKind kind,
                            const Tensor &s, const Tensor &v,
                            const Tensor *sinks, Tensor &o, Tensor &lse,
                            double alpha) {
  int64_t nb = s.shape[0], hq = s.shape[1], sq = s.shape[2], skv = s.shape[3];
  int64_t dv = v.shape[3], group = hq / v.shape[1];
  if (!alloc(op, {nb, hq, sq, dv}, o) || !alloc(op, {nb, hq, sq}, lse))
    return false;
  std::vector<double> w(skv);
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < sq; ++i) {
        const double *row = s.data.data() + off4(s.shape, b, h, i, 0);
        lse.data[off3(lse.shape, b, h, i)] =
            rowWeights(kind, row, skv, sinks ? sinks->data.data() + h : nullptr,
                       w.data(), alpha);
        double *out = o.data.data() + off4(o.shape, b, h, i, 0);
        for (int64_t j = 0; j < skv; ++j) {
          // Skip zero weights so that a masked key's value never matters.
          if (w[j] == 0)
            continue;
          const double *vj = v.data.data() + off4(v.shape, b, h / group, j, 0);
          for (int64_t d = 0; d < dv; ++d)
            out[d] += w[j] * vj[d];
        }
      }
  return true;
}

bool Interpreter::execAttn(AggregateOp op) {
  const Tensor *sinks = op.getSinks() ? &tensor(op.getSinks()) : nullptr;
  Tensor o, lse;
  double alpha = op.getAlpha() ? op.getAlpha()->convertToDouble() : 0;
  if (!aggregate(op, op.getKind(), tensor(op.getScores()),
                 tensor(op.getValue()), sinks, o, lse, alpha) ||
      !setTensor(op.getOutput(), std::move(o)))
    return false;
  return !op.getLse() || setTensor(op.getLse(), std::move(lse));
}

//===----------------------------------------------------------------------===//
// attn: fused attention
//===----------------------------------------------------------------------===//

/// attn.attention runs the pieces of its graph in the graph's order:
/// score, score_mod (on every score, as attn.score_mod does), mask, aggregate.
bool Interpreter::execAttn(AttentionOp op) {
  Tensor s;
  if (!computeScores(op, tensor(op.getQuery()), tensor(op.getKey()),
                     op.getEffectiveScale(), s))
    return false;
  std::optional<Positions> positions;
  if (!op.getPositions().empty())
    positions = Positions{static_cast<int64_t>(scalar(op.getPositions()[0])),
                          static_cast<int64_t>(scalar(op.getPositions()[1]))};
  const Positions *at = positions ? &*positions : nullptr;
  if (!op.getScoreMod().empty() &&
      !applyScoreMod(op, op.getScoreMod().front(), s, at))
    return false;
  if (!applyMask(op, op.getPatterns(), op.getMaskOperands(), op.getPredicate(),
                 s, at))
    return false;
  const Tensor *sinks = op.getSinks() ? &tensor(op.getSinks()) : nullptr;
  Tensor o, lse;
  double alpha = op.getAlpha() ? op.getAlpha()->convertToDouble() : 0;
  if (!aggregate(op, op.getKind(), s, tensor(op.getValue()), sinks, o, lse,
                 alpha) ||
      !setTensor(op.getOutput(), std::move(o)))
    return false;
  return !op.getLse() || setTensor(op.getLse(), std::move(lse));
}

bool Interpreter::execAttn(NormalizeOp op) {
  const Tensor &s = tensor(op.getScores());
  Tensor p;
  if (!alloc(op, s.shape, p))
    return false;
  int64_t skv = s.shape[3];
  for (int64_t r = 0, rows = skv ? s.numElements() / skv : 0; r < rows; ++r)
    rowWeights(op.getKind(), s.data.data() + r * skv, skv, nullptr,
               p.data.data() + r * skv,
               op.getAlpha() ? op.getAlpha()->convertToDouble() : 0);
  return setTensor(op.getResult(), std::move(p));
}

bool Interpreter::execAttn(MergeOp op) {
  SmallVector<const Tensor *> outs, lses;
  for (auto [k, v] : llvm::enumerate(op.getPartials()))
    (k % 2 ? lses : outs).push_back(&tensor(v));
  const Tensor &o0 = *outs[0];
  int64_t dv = o0.shape[3], rows = lses[0]->numElements();
  Tensor o, lse;
  if (!alloc(op, o0.shape, o) || !alloc(op, lses[0]->shape, lse))
    return false;
  for (int64_t r = 0; r < rows; ++r) {
    double m = -kInf;
    for (const Tensor *l : lses)
      m = maxOf(m, l->data[r]);
    if (m == -kInf) {
      lse.data[r] = -kInf; // output row stays 0
      continue;
    }
    double sum = 0;
    for (auto [o_k, l_k] : llvm::zip(outs, lses)) {
      // A partial with lse -inf covers no visible key: it contributes nothing.
      if (l_k->data[r] == -kInf)
        continue;
      double w = std::exp(l_k->data[r] - m);
      sum += w;
      for (int64_t d = 0; d < dv; ++d)
        o.data[r * dv + d] += w * o_k->data[r * dv + d];
    }
    for (int64_t d = 0; d < dv; ++d)
      o.data[r * dv + d] /= sum;
    lse.data[r] = m + std::log(sum);
  }
  return setTensor(op.getOutput(), std::move(o)) &&
         setTensor(op.getLse(), std::move(lse));
}

//===----------------------------------------------------------------------===//
// attn: linear family
//===----------------------------------------------------------------------===//

bool Interpreter::execAttn(FeatureMapOp op) {
  const Tensor &x = tensor(op.getInput());
  int64_t dim = x.shape.back(), rows = dim ? x.numElements() / dim : 0;
  SmallVector<int64_t> shape(x.shape.begin(), x.shape.end());
  Tensor r;
  switch (op.getKind()) {
  case FeatureMapKind::taylor2: {
    int64_t f = 1 + dim + dim * dim;
    shape.back() = f;
    if (!alloc(op, shape, r))
      return false;
    for (int64_t row = 0; row < rows; ++row) {
      const double *in = x.data.data() + row * dim;
      double *out = r.data.data() + row * f;
      out[0] = 1;
      for (int64_t a = 0; a < dim; ++a)
        out[1 + a] = in[a];
      for (int64_t a = 0; a < dim; ++a)
        for (int64_t c = 0; c < dim; ++c)
          out[1 + dim + a * dim + c] = in[a] * in[c] / std::sqrt(2.0);
    }
    break;
  }
  case FeatureMapKind::random_features: {
    const Tensor &w = tensor(op.getWeights());
    int64_t f = w.shape[1];
    shape.back() = f;
    if (!alloc(op, shape, r))
      return false;
    for (int64_t row = 0; row < rows; ++row) {
      const double *in = x.data.data() + row * dim;
      double norm2 = 0;
      for (int64_t d = 0; d < dim; ++d)
        norm2 += in[d] * in[d];
      for (int64_t c = 0; c < f; ++c) {
        double proj = 0;
        for (int64_t d = 0; d < dim; ++d)
          proj += in[d] * w.data[d * f + c];
        r.data[row * f + c] =
            std::exp(proj - norm2 / 2) / std::sqrt(static_cast<double>(f));
      }
    }
    break;
  }
  default: {
    if (!alloc(op, shape, r))
      return false;
    FeatureMapKind kind = op.getKind();
    for (auto [k, v] : llvm::enumerate(x.data)) {
      double y = v;
      if (kind == FeatureMapKind::elu_plus_one)
        y = v > 0 ? v + 1 : std::exp(v);
      else if (kind == FeatureMapKind::relu)
        y = v > 0 ? v : 0.0;
      else if (kind == FeatureMapKind::exp)
        y = std::exp(v);
      else if (kind == FeatureMapKind::sigmoid)
        y = 1.0 / (1.0 + std::exp(-v));
      r.data[k] = y;
    }
    break;
  }
  }
  return setTensor(op.getResult(), std::move(r));
}

bool Interpreter::execAttn(LinearAggregateOp op) {
  const Tensor &q = tensor(op.getQuery()), &k = tensor(op.getKey());
  const Tensor &v = tensor(op.getValue());
  const Tensor *decay = op.getDecay() ? &tensor(op.getDecay()) : nullptr;
  int64_t nb = q.shape[0], hq = q.shape[1], sq = q.shape[2], f = q.shape[3];
  int64_t skv = k.shape[2], dv = v.shape[3], group = hq / k.shape[1];
  double eps = op.getEps().convertToDouble();
  Tensor o;
  if (!alloc(op, {nb, hq, sq, dv}, o))
    return false;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < sq; ++i) {
        int64_t ip = i + (skv - sq);
        const double *qi = q.data.data() + off4(q.shape, b, h, i, 0);
        double *out = o.data.data() + off4(o.shape, b, h, i, 0);
        double den = 0;
        for (int64_t j = 0; j < skv; ++j) {
          if (op.getCausal() && j > ip)
            continue;
          const double *kj = k.data.data() + off4(k.shape, b, h / group, j, 0);
          const double *vj = v.data.data() + off4(v.shape, b, h / group, j, 0);
          double a = 0;
          for (int64_t d = 0; d < f; ++d)
            a += qi[d] * kj[d];
          if (decay)
            a *= std::pow(decay->data[h], static_cast<double>(ip - j));
          den += a;
          for (int64_t d = 0; d < dv; ++d)
            out[d] += a * vj[d];
        }
        // The keys of earlier calls, summarised by the state.
        if (op.getState() && ip >= -1) {
          const Tensor &st = tensor(op.getState());
          double w = decay ? std::pow(decay->data[h], double(ip + 1)) : 1.0;
          for (int64_t d = 0; d < f; ++d) {
            const double *row = st.data.data() + off4(st.shape, b, h, d, 0);
            for (int64_t e = 0; e < dv; ++e)
              out[e] += w * qi[d] * row[e];
          }
        }
        if (op.getNormalize())
          for (int64_t d = 0; d < dv; ++d)
            out[d] /= den + eps;
      }
  if (!op.getState())
    return setTensor(op.getOutput(), std::move(o));
  // The state after this call's keys: λ^Skv S0 + Σ_j λ^(Skv-1-j) k_jᵀ v_j.
  const Tensor &st = tensor(op.getState());
  Tensor next;
  if (!alloc(op, {nb, hq, f, dv}, next))
    return false;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t h = 0; h < hq; ++h) {
      double lam = decay ? decay->data[h] : 1.0;
      for (int64_t d = 0; d < f; ++d)
        for (int64_t e = 0; e < dv; ++e) {
          double acc =
              std::pow(lam, double(skv)) * st.data[off4(st.shape, b, h, d, e)];
          for (int64_t j = 0; j < skv; ++j)
            acc += std::pow(lam, double(skv - 1 - j)) *
                   k.data[off4(k.shape, b, h / group, j, d)] *
                   v.data[off4(v.shape, b, h / group, j, e)];
          next.data[off4(next.shape, b, h, d, e)] = acc;
        }
    }
  return setTensor(op.getOutput(), std::move(o)) &&
         setTensor(op.getFinalState(), std::move(next));
}

//===----------------------------------------------------------------------===//
// attn: selection family
//===----------------------------------------------------------------------===//

/// Pools rows [lo, hi) of a [rows, dim] matrix into `out` (mean or max).
void poolRows(const double *m, int64_t dim, int64_t lo, int64_t hi, bool max,
              std::vector<double> &out) {
  out.assign(dim, max ? -kInf : 0.0);
  for (int64_t r = lo; r < hi; ++r)
    for (int64_t d = 0; d < dim; ++d)
      out[d] = max ? maxOf(out[d], m[r * dim + d]) : out[d] + m[r * dim + d];
  if (!max && hi > lo)
    for (double &x : out)
      x /= static_cast<double>(hi - lo);
}

/// Orders candidates by score, descending; ties go to the smaller index.
bool betterCandidate(const std::pair<double, int64_t> &a,
                     const std::pair<double, int64_t> &b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

bool Interpreter::execAttn(SelectBlocksOp op) {
  const Tensor &q = tensor(op.getQuery()), &k = tensor(op.getKey());
  const Tensor *reps = op.getReps() ? &tensor(op.getReps()) : nullptr;
  const Tensor *qreps = op.getQreps() ? &tensor(op.getQreps()) : nullptr;
  int64_t nb = q.shape[0], hq = q.shape[1], sq = q.shape[2], dq = q.shape[3];
  int64_t skv = k.shape[2], dk = k.shape[3];
  int64_t bq = op.getBlockQ(), bkv = op.getBlockKv(), topK = op.getTopK();
  int64_t nqb = (sq + bq - 1) / bq, nkb = (skv + bkv - 1) / bkv;
  bool useMax = op.getPool() == "max";
  Tensor out;
  if (!alloc(op, {nb, hq, nqb, nkb}, out))
    return false;
  std::vector<std::vector<double>> keyReps(nkb);
  std::vector<double> queryRep;
  std::vector<std::pair<double, int64_t>> cands;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t h = 0; h < hq; ++h) {
      for (int64_t kb = 0; kb < nkb; ++kb) {
        if (reps) {
          const double *r =
              reps->data.data() +
              off4(reps->shape, b, h / (hq / reps->shape[1]), kb, 0);
          keyReps[kb].assign(r, r + reps->shape[3]);
        } else {
          poolRows(
              k.data.data() + off4(k.shape, b, h / (hq / k.shape[1]), 0, 0), dk,
              kb * bkv, std::min((kb + 1) * bkv, skv), useMax, keyReps[kb]);
        }
      }
      for (int64_t qb = 0; qb < nqb; ++qb) {
        int64_t lastQuery = std::min((qb + 1) * bq, sq) - 1;
        if (qreps) {
          const double *r =
              qreps->data.data() + off4(qreps->shape, b, h, qb, 0);
          queryRep.assign(r, r + qreps->shape[3]);
        } else {
          poolRows(q.data.data() + off4(q.shape, b, h, 0, 0), dq, qb * bq,
                   lastQuery + 1, useMax, queryRep);
        }
        cands.clear();
        for (int64_t kb = 0; kb < nkb; ++kb) {
          // A key block is a candidate iff its first key is visible to the
          // block's last query (aligned causal).
          if (op.getCausal() && kb * bkv > lastQuery + (skv - sq))
            continue;
          double score = 0;
          for (size_t d = 0; d < queryRep.size(); ++d)
            score += queryRep[d] * keyReps[kb][d];
          cands.emplace_back(score, kb);
        }
        std::sort(cands.begin(), cands.end(), betterCandidate);
        for (size_t c = 0; c < cands.size() && static_cast<int64_t>(c) < topK;
             ++c)
          out.data[off4(out.shape, b, h, qb, cands[c].second)] = 1;
      }
    }
  return setTensor(op.getBlocks(), std::move(out));
}

bool Interpreter::execAttn(SelectTopkOp op) {
  const Tensor &s = tensor(op.getScores());
  int64_t skv = s.shape[3], topK = op.getTopK();
  SmallVector<int64_t> shape(s.shape.begin(), s.shape.end());
  shape.back() = topK;
  Tensor out;
  if (!alloc(op, shape, out))
    return false;
  std::vector<std::pair<double, int64_t>> cands;
  int64_t rows = shape[0] * shape[1] * shape[2];
  for (int64_t r = 0; r < rows; ++r) {
    cands.clear();
    // Masked keys are never chosen; NaN has no rank, so it is skipped too.
    for (int64_t j = 0; j < skv; ++j) {
      double x = s.data[r * skv + j];
      if (x != -kInf && !std::isnan(x))
        cands.emplace_back(x, j);
    }
    std::sort(cands.begin(), cands.end(), betterCandidate);
    for (int64_t c = 0; c < topK; ++c)
      out.data[r * topK + c] =
          c < static_cast<int64_t>(cands.size()) ? cands[c].second : -1;
  }
  return setTensor(op.getIndices(), std::move(out));
}

bool Interpreter::execAttn(ClusterOp op) {
  const Tensor &x = tensor(op.getInput()), &c = tensor(op.getCentroids());
  int64_t nb = x.shape[0], nh = x.shape[1], len = x.shape[2], dim = x.shape[3];
  int64_t numCentroids = c.shape[1];
  if (numCentroids == 0)
    return failOp(op, "needs at least one centroid");
  Tensor out;
  if (!alloc(op, {nb, nh, len}, out))
    return false;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t t = 0; t < len; ++t) {
        const double *xt = x.data.data() + off4(x.shape, b, h, t, 0);
        int64_t best = 0;
        double bestDist = kInf;
        for (int64_t ci = 0; ci < numCentroids; ++ci) {
          const double *cc =
              c.data.data() + off3(c.shape, c.shape[0] == 1 ? 0 : h, ci, 0);
          double dist = 0;
          for (int64_t d = 0; d < dim; ++d)
            dist += (xt[d] - cc[d]) * (xt[d] - cc[d]);
          // Strict comparison: ties keep the smaller centroid id.
          if (dist < bestDist) {
            bestDist = dist;
            best = ci;
          }
        }
        out.data[off3(out.shape, b, h, t)] = static_cast<double>(best);
      }
  return setTensor(op.getIds(), std::move(out));
}

bool Interpreter::execAttn(LshOp op) {
  const Tensor &x = tensor(op.getInput()), &planes = tensor(op.getPlanes());
  int64_t dim = x.shape[3], numPlanes = planes.shape[1];
  int64_t rows = x.shape[0] * x.shape[1] * x.shape[2];
  Tensor out;
  if (!alloc(op, {x.shape[0], x.shape[1], x.shape[2]}, out))
    return false;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t bucket = 0;
    for (int64_t p = 0; p < numPlanes; ++p) {
      double proj = 0;
      for (int64_t d = 0; d < dim; ++d)
        proj += x.data[r * dim + d] * planes.data[d * numPlanes + p];
      if (proj > 0)
        bucket |= int64_t(1) << p;
    }
    out.data[r] = static_cast<double>(bucket);
  }
  return setTensor(op.getBuckets(), std::move(out));
}

} // namespace

//===----------------------------------------------------------------------===//
// Entry point
//===----------------------------------------------------------------------===//

namespace {

/// Checks `args` against the signature of `func` and converts them to
/// runtime values (integers wrapped to their width).
bool convertArguments(func::FuncOp func, ArrayRef<Tensor> args,
                      SmallVectorImpl<RtValue> &rtArgs, std::string &error,
                      bool enforceStaticSizes) {
  FunctionType type = func.getFunctionType();
  if (args.size() != type.getNumInputs()) {
    error = llvm::formatv("function '{0}' expects {1} argument(s), got {2}",
                          func.getSymName(), type.getNumInputs(), args.size())
                .str();
    return false;
  }
  for (auto [k, arg, argType] : llvm::enumerate(args, type.getInputs())) {
    auto fail = [&, k = k](const Twine &msg) {
      error = ("argument #" + Twine(k) + ": " + msg).str();
      return false;
    };
    if (static_cast<int64_t>(arg.data.size()) != arg.numElements())
      return fail(llvm::formatv("{0} elements given for shape {1}",
                                arg.data.size(), formatShape(arg.shape))
                      .str());
    Type elt = getElementTypeOrSelf(argType);
    if (arg.elementType && arg.elementType != elt)
      return fail("element type does not match the function signature");
    RtValue v;
    if (auto tensorType = dyn_cast<RankedTensorType>(argType)) {
      bool ok = arg.shape.size() == static_cast<size_t>(tensorType.getRank());
      for (unsigned d = 0; ok && d < arg.shape.size(); ++d)
        ok = arg.shape[d] >= 0 &&
             (tensorType.isDynamicDim(d) || !enforceStaticSizes ||
              tensorType.getDimSize(d) == arg.shape[d]);
      if (!ok)
        return fail("shape " + formatShape(arg.shape) +
                    " does not match the signature's " +
                    formatShape(tensorType.getShape()));
      auto t = std::make_shared<Tensor>(arg);
      t->elementType = elt;
      for (double &x : t->data)
        x = roundTo(elt, x);
      v.tensor = std::move(t);
    } else if (isScalarType(argType) && arg.data.size() == 1) {
      v.scalar = roundTo(elt, arg.data[0]);
    } else {
      return fail("unsupported argument type");
    }
    rtArgs.push_back(std::move(v));
  }
  return true;
}

/// Runs `func` in `interp` and converts its results to tensors (a scalar
/// result becomes a rank-0 tensor).
bool runFunction(Interpreter &interp, func::FuncOp func, ArrayRef<Tensor> args,
                 SmallVectorImpl<Tensor> &results, std::string &error) {
  error.clear();
  results.clear();
  SmallVector<RtValue> rtArgs;
  if (!convertArguments(func, args, rtArgs, error, interp.enforceStaticSizes))
    return false;
  SmallVector<RtValue> rtResults;
  if (!interp.run(func, rtArgs, rtResults)) {
    if (error.empty())
      error = "reference interpreter failed";
    return false;
  }
  for (auto [v, resultType] :
       llvm::zip(rtResults, func.getFunctionType().getResults())) {
    if (v.tensor) {
      results.push_back(*v.tensor);
      continue;
    }
    Tensor t;
    t.elementType = resultType;
    t.data.push_back(v.scalar);
    results.push_back(std::move(t));
  }
  return true;
}

} // namespace

std::optional<int64_t>
mlir::attn::reference::evaluateAffine(AffineExpr expr, ArrayRef<int64_t> dims) {
  return evalAffine(expr, dims);
}

bool mlir::attn::reference::evaluate(func::FuncOp func, ArrayRef<Tensor> args,
                                     SmallVectorImpl<Tensor> &results,
                                     std::string &error) {
  Interpreter interp(error, 0);
  return runFunction(interp, func, args, results, error);
}

bool mlir::attn::reference::evaluateIgnoringStaticSizes(
    func::FuncOp func, ArrayRef<Tensor> args, SmallVectorImpl<Tensor> &results,
    std::string &error) {
  Interpreter interp(error, 0);
  interp.enforceStaticSizes = false;
  return runFunction(interp, func, args, results, error);
}

//===----------------------------------------------------------------------===//
// Recorded evaluation
//===----------------------------------------------------------------------===//

struct RecordedEvaluation::Impl {
  std::string error;
  Interpreter interp{error, 0};
  SmallVector<int64_t> loopIndices;

  /// Runs `body` with the interpreter's error message cleared and copies a
  /// failure's message to `out`.
  template <typename Body> bool guarded(std::string &out, Body body) {
    error.clear();
    if (body())
      return true;
    out = error.empty() ? "reference interpreter failed" : error;
    return false;
  }
};

RecordedEvaluation::RecordedEvaluation() : impl(std::make_unique<Impl>()) {}
RecordedEvaluation::~RecordedEvaluation() = default;

void RecordedEvaluation::ignoreStaticSizes() {
  impl->interp.enforceStaticSizes = false;
}

bool RecordedEvaluation::run(func::FuncOp func, ArrayRef<Tensor> args,
                             SmallVectorImpl<Tensor> &results,
                             std::string &error) {
  return impl->guarded(error, [&] {
    return runFunction(impl->interp, func, args, results, impl->error);
  });
}

RuntimeValue RecordedEvaluation::value(Value v) const {
  return impl->interp.get(v);
}

bool RecordedEvaluation::runBlock(Block &block, ArrayRef<RuntimeValue> args,
                                  ArrayRef<int64_t> loopIndices,
                                  SmallVectorImpl<RuntimeValue> &yielded,
                                  std::string &error) {
  Interpreter &interp = impl->interp;
  impl->loopIndices.assign(loopIndices.begin(), loopIndices.end());
  SmallVectorImpl<int64_t> *saved = interp.loopIndices;
  interp.loopIndices = &impl->loopIndices;
  llvm::scope_exit restore([&] { interp.loopIndices = saved; });
  return impl->guarded(error,
                       [&] { return interp.runBlock(block, args, yielded); });
}

bool RecordedEvaluation::slicePositions(Operation *sliceOp,
                                        SmallVectorImpl<int64_t> &positions,
                                        std::string &error) {
  Interpreter &interp = impl->interp;
  SmallVector<int64_t> sliceShape;
  return impl->guarded(error, [&] {
    if (auto s = dyn_cast<tensor::ExtractSliceOp>(sliceOp))
      return interp.sliceIndices(s, interp.tensor(s.getSource()).shape,
                                 s.getMixedOffsets(), s.getMixedSizes(),
                                 s.getMixedStrides(), positions, sliceShape);
    if (auto s = dyn_cast<tensor::InsertSliceOp>(sliceOp))
      return interp.sliceIndices(s, interp.tensor(s.getDest()).shape,
                                 s.getMixedOffsets(), s.getMixedSizes(),
                                 s.getMixedStrides(), positions, sliceShape);
    return interp.failOp(sliceOp, "is not a slice op");
  });
}

bool RecordedEvaluation::attentionScores(Operation *attention, Tensor &raw,
                                         Tensor &masked, std::string &error) {
  Interpreter &interp = impl->interp;
  auto op = dyn_cast<AttentionOp>(attention);
  return impl->guarded(error, [&] {
    if (!op)
      return interp.failOp(attention, "is not attn.attention");
    if (!interp.computeScores(op, interp.tensor(op.getQuery()),
                              interp.tensor(op.getKey()),
                              op.getEffectiveScale(), raw))
      return false;
    masked = raw;
    if (!op.getScoreMod().empty() &&
        !interp.applyScoreMod(op, op.getScoreMod().front(), masked))
      return false;
    return interp.applyMask(op, op.getPatterns(), op.getMaskOperands(),
                            op.getPredicate(), masked);
  });
}
