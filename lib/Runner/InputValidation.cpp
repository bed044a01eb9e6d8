//===- InputValidation.cpp - checks of a program's inputs -----------------===//

#include "attn/Runner/InputValidation.h"
#include "attn/Runner/ToolSupport.h"

#include "attn/IR/AttnOps.h"
#include "llvm/Support/raw_ostream.h"

using namespace attn_run;
using namespace mlir;
using attn_tools::fail;

//===----------------------------------------------------------------------===//
// Mask operand roles
//===----------------------------------------------------------------------===//

namespace {

void collectRoles(Attribute pattern, SmallVectorImpl<MaskRole> &roles) {
  if (auto any = dyn_cast<attn::AnyAttr>(pattern)) {
    for (Attribute inner : any.getPatterns())
      collectRoles(inner, roles);
    return;
  }
  unsigned n =
      cast<attn::MaskPatternAttrInterface>(pattern).getNumMaskOperands();
  unsigned first = roles.size();
  for (unsigned i = 0; i < n; ++i)
    roles.push_back({pattern, i, first});
}

} // namespace

std::optional<MaskSite> attn_run::maskSite(Operation *op) {
  if (auto m = dyn_cast<attn::MaskOp>(op))
    return MaskSite{m.getPatterns(),
                    m.getMaskOperands(),
                    m.getScores(),
                    m.getScores(),
                    2,
                    3};
  if (auto a = dyn_cast<attn::AttentionOp>(op))
    return MaskSite{
        a.getPatterns(), a.getMaskOperands(), a.getQuery(), a.getKey(), 2, 2};
  return std::nullopt;
}

SmallVector<MaskRole> attn_run::maskRoles(const MaskSite &site) {
  SmallVector<MaskRole> roles;
  for (Attribute p : site.patterns)
    collectRoles(p, roles);
  return roles;
}

std::optional<std::pair<MaskRole, MaskSite>>
attn_run::argumentMaskRole(func::FuncOp func, unsigned index) {
  std::optional<std::pair<MaskRole, MaskSite>> found;
  Value arg = func.getArgument(index);
  for (Operation *user : arg.getUsers())
    if (std::optional<MaskSite> site = maskSite(user)) {
      SmallVector<MaskRole> roles = maskRoles(*site);
      for (auto [i, operand] : llvm::enumerate(site->operands))
        if (operand == arg)
          found = {roles[i], *site};
    }
  return found;
}

//===----------------------------------------------------------------------===//
// Signature and arguments
//===----------------------------------------------------------------------===//

void attn_run::checkSignature(func::FuncOp func, const std::string &file) {
  for (auto [i, t] : llvm::enumerate(func.getArgumentTypes())) {
    auto rt = dyn_cast<RankedTensorType>(t);
    if (!rt || storageSize(rt.getElementType()) == 0)
      fail(file, "argument #" + std::to_string(i) + " of @" +
                     func.getName().str() +
                     " must be a ranked tensor of f32, f16, bf16, f64, i1, "
                     "i8, i16, i32, i64 or index");
  }
  for (auto [i, t] : llvm::enumerate(func.getResultTypes())) {
    auto rt = dyn_cast<RankedTensorType>(t);
    if (!rt || storageSize(rt.getElementType()) == 0)
      fail(file, "result #" + std::to_string(i) + " of @" +
                     func.getName().str() + " must be a ranked tensor");
  }
}

HostTensor attn_run::readArgument(func::FuncOp func, unsigned index,
                                  const std::string &path) {
  NpyArray array;
  std::string error;
  if (!readNpy(path, array, error))
    fail(path, error);
  HostTensor t;
  auto type = cast<RankedTensorType>(func.getArgumentTypes()[index]);
  if (!fromNpy(array, type, t, error))
    fail(path, "argument #" + std::to_string(index) + ": " + error);
  return t;
}

//===----------------------------------------------------------------------===//
// Dynamic-size consistency
//===----------------------------------------------------------------------===//

namespace {

std::string locString(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (auto loc = dyn_cast<FileLineColLoc>(op->getLoc()))
    os << loc.getFilename().getValue() << ":" << loc.getLine() << ":"
       << loc.getColumn();
  else
    os << op->getName();
  return s;
}

} // namespace

void attn_run::propagateShapes(
    func::FuncOp func, KnownShapes &known, attn::SizeRecorder *recorder,
    function_ref<void(Operation *, const std::string &)> onError,
    bool ignoreDeclaredSizes) {
  auto shapeOf = [&](Value v) -> attn::Shape {
    if (auto it = known.find(v); it != known.end())
      return it->second;
    if (auto t = dyn_cast<RankedTensorType>(v.getType()))
      return attn::Shape(t.getShape());
    return {};
  };
  func.walk([&](Operation *op) {
    if (!isa<attn::AttnDialect>(op->getDialect()) || isa<attn::YieldOp>(op))
      return;
    std::string prefix = "'" + op->getName().getStringRef().str() +
                         "' with the given argument sizes: ";
    if (recorder)
      recorder->setContext(locString(op) + ": " + prefix);
    SmallVector<attn::Shape> results;
    std::string error;
    if (!attn::checkAttnOpShapes(op, shapeOf, results, error, recorder))
      onError(op, prefix + error);
    for (auto [result, shape] : llvm::zip(op->getResults(), results)) {
      // A declared static size must agree with the propagated one.
      auto type = cast<RankedTensorType>(result.getType());
      for (unsigned d = 0; d < shape.size(); ++d) {
        if (ignoreDeclaredSizes || type.isDynamicDim(d) ||
            ShapedType::isDynamic(shape[d]))
          continue;
        if (recorder && attn::SizeRecorder::isTag(shape[d]))
          recorder->record(attn::SizeRecorder::Rule::Equal, shape[d],
                           type.getDimSize(d),
                           "result dimension " + Twine(d) +
                               " of the declared type does not match the "
                               "argument sizes");
        else if (type.getDimSize(d) != shape[d])
          onError(op, "result type " + attn::formatShape(type.getShape()) +
                          " does not match the argument sizes, which give " +
                          attn::formatShape(shape));
      }
      known[result] = shape;
    }
  });
}

KnownShapes attn_run::checkConcreteShapes(func::FuncOp func,
                                          ArrayRef<HostTensor> args,
                                          bool ignoreDeclaredSizes) {
  KnownShapes known;
  for (auto [arg, tensor] : llvm::zip(func.getArguments(), args))
    known[arg] = attn::Shape(tensor.shape.begin(), tensor.shape.end());
  propagateShapes(
      func, known, /*recorder=*/nullptr,
      [](Operation *op, const std::string &message) {
        fail(locString(op), message);
      },
      ignoreDeclaredSizes);
  return known;
}

//===----------------------------------------------------------------------===//
// Mask data
//===----------------------------------------------------------------------===//

namespace {

/// #attn.indices entries must be -1 (none) or a key position.
void validateIndices(const HostTensor &t, const std::string &name,
                     int64_t skv) {
  for (int64_t e = 0; e < t.numElements(); ++e) {
    double v = t.get(e);
    if (v < -1 || v >= skv)
      fail(name, "#attn.indices entry " + std::to_string((int64_t)v) +
                     " at flat index " + std::to_string(e) +
                     " is outside [-1, " + std::to_string(skv) + ")");
  }
}

/// A CSR mask: row pointers from 0 to nnz, never decreasing, and per row
/// sorted, unique column indices in [0, Skv).
void validateCsr(const HostTensor &rp, const std::string &name,
                 const HostTensor &cols, const std::string &colsName,
                 int64_t sq, int64_t skv) {
  int64_t nnz = cols.numElements();
  if (rp.get(0) != 0)
    fail(name, "invalid CSR: row_ptr[0] must be 0");
  for (int64_t r = 0; r < sq; ++r) {
    int64_t lo = rp.get(r), hi = rp.get(r + 1);
    if (hi < lo)
      fail(name, "invalid CSR: row_ptr decreases at row " + std::to_string(r));
    if (hi > nnz)
      fail(name, "invalid CSR: row_ptr[" + std::to_string(r + 1) +
                     "] exceeds the " + std::to_string(nnz) +
                     " column indices");
    for (int64_t p = lo; p < hi; ++p) {
      int64_t c = cols.get(p);
      if (c < 0 || c >= skv)
        fail(colsName, "invalid CSR: column index " + std::to_string(c) +
                           " in row " + std::to_string(r) + " is outside [0, " +
                           std::to_string(skv) + ")");
      if (p > lo && c <= (int64_t)cols.get(p - 1))
        fail(colsName, "invalid CSR: column indices of row " +
                           std::to_string(r) + " are not sorted and unique");
    }
  }
  if (rp.get(sq) != nnz)
    fail(name,
         "invalid CSR: row_ptr[Sq] = " + std::to_string((int64_t)rp.get(sq)) +
             " but there are " + std::to_string(nnz) + " column indices");
}

} // namespace

SmallVector<ArgumentMaskData>
attn_run::argumentMaskData(func::FuncOp func, const KnownShapes &known) {
  auto argIndex = [&](Value v) -> int {
    auto ba = dyn_cast<BlockArgument>(v);
    if (!ba || ba.getOwner() != &func.getBody().front())
      return -1;
    return ba.getArgNumber();
  };
  SmallVector<ArgumentMaskData> data;
  func.walk([&](Operation *op) {
    std::optional<MaskSite> site = maskSite(op);
    if (!site)
      return;
    // Sizes from the propagated shapes, else from the types.
    auto sizeOf = [&](Value v, unsigned dim) {
      attn::Shape shape = known.lookup(v);
      if (shape.size() > dim)
        return shape[dim];
      return cast<RankedTensorType>(v.getType()).getDimSize(dim);
    };
    int64_t sq = sizeOf(site->queries, site->qDim);
    int64_t skv = sizeOf(site->keys, site->kDim);
    if (ShapedType::isDynamic(sq) || ShapedType::isDynamic(skv))
      return;
    SmallVector<MaskRole> roles = maskRoles(*site);
    ValueRange operands = site->operands;
    for (unsigned i = 0; i < roles.size(); ++i) {
      if (isa<attn::IndicesAttr>(roles[i].pattern))
        if (int a = argIndex(operands[i]); a >= 0)
          data.push_back({false, unsigned(a), 0, sq, skv});
      if (isa<attn::CsrAttr>(roles[i].pattern) && roles[i].position == 0) {
        int ra = argIndex(operands[i]), ca = argIndex(operands[i + 1]);
        if (ra >= 0 && ca >= 0)
          data.push_back({true, unsigned(ra), unsigned(ca), sq, skv});
      }
    }
  });
  return data;
}

void attn_run::validateMaskData(func::FuncOp func, ArrayRef<HostTensor> args,
                                ArrayRef<std::string> argNames,
                                const KnownShapes &known) {
  for (const ArgumentMaskData &m : argumentMaskData(func, known)) {
    if (m.csr)
      validateCsr(args[m.argument], argNames[m.argument], args[m.columns],
                  argNames[m.columns], m.sq, m.skv);
    else
      validateIndices(args[m.argument], argNames[m.argument], m.skv);
  }
}
