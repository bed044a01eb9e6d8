//===- AotEntries.cpp - checked entry points of compiled objects ----------===//

#include "attn/Runner/AotEntries.h"
#include "attn/Runner/InputValidation.h"

#include "attn/IR/AttnOps.h"
#include "attn/IR/AttnShapes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/FunctionCallUtils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace attn_run;
using attn::SizeRecorder;

namespace {

constexpr StringLiteral kReport = "__attn_report";
constexpr StringLiteral kCheckPrefix = "__attn_check_";
constexpr StringLiteral kErrorText = "attn_last_error_text";
constexpr StringLiteral kNumThreads = "attn_num_threads_setting";
constexpr StringLiteral kLastError = "attn_last_error";
constexpr StringLiteral kSetNumThreads = "attn_set_num_threads";
/// The header's entry table (attn-compile's ATTN_EXPORT_ENTRY_TABLE).
constexpr StringLiteral kEntryTable = "attn_aot_entries";
constexpr int64_t kErrorTextBytes = 1024;

/// printf's text for `s`: '%' doubled.
std::string escapePercent(StringRef s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '%')
      out += '%';
  }
  return out;
}

//===----------------------------------------------------------------------===//
// The first failing check, kept with selects (no branches)
//===----------------------------------------------------------------------===//

/// A failure flag, the printf format of the first failure and its three
/// numbers. Built with LLVM dialect ops, which are legal both in func.func
/// (before lowering) and in llvm.func. The messages are globals named
/// `prefix` and a number, so `prefix` must be unique in the module.
struct FirstFailure {
  FirstFailure(OpBuilder &b, Location loc, std::string prefix)
      : b(b), loc(loc), prefix(std::move(prefix)) {
    failed = LLVM::ConstantOp::create(b, loc, b.getI1Type(), 0);
    format = LLVM::ZeroOp::create(b, loc,
                                  LLVM::LLVMPointerType::get(b.getContext()));
    Value zero = LLVM::ConstantOp::create(b, loc, b.getI64Type(), 0);
    numbers = {zero, zero, zero};
  }

  /// Records `fails` with `message` unless an earlier check failed.
  void add(Value fails, StringRef message, ArrayRef<Value> values = {}) {
    Value text = LLVM::createGlobalString(
        loc, b, prefix + std::to_string(messages++),
        (message + Twine('\0')).str(), LLVM::Linkage::Internal);
    Value one = LLVM::ConstantOp::create(b, loc, b.getI1Type(), 1);
    Value first = LLVM::AndOp::create(b, loc, fails,
                                      LLVM::XOrOp::create(b, loc, failed, one));
    format = LLVM::SelectOp::create(b, loc, first, text, format);
    for (auto [i, v] : llvm::enumerate(values))
      numbers[i] = LLVM::SelectOp::create(b, loc, first, v, numbers[i]);
    failed = LLVM::OrOp::create(b, loc, failed, fails);
  }

  /// failed, format and the numbers: what a region yields or a branch
  /// passes on.
  SmallVector<Value, 5> state() const {
    return {failed, format, numbers[0], numbers[1], numbers[2]};
  }

  OpBuilder &b;
  Location loc;
  Value failed, format;
  SmallVector<Value, 3> numbers;
  std::string prefix;
  unsigned messages = 0;
};

//===----------------------------------------------------------------------===//
// Run-time shape rules (before lowering)
//===----------------------------------------------------------------------===//

/// Records the shape rules of `func`'s attn ops on its dynamic argument
/// sizes, as attn-run's checkConcreteShapes evaluates them.
void recordShapeRules(func::FuncOp func, SizeRecorder &recorder,
                      KnownShapes &known) {
  for (BlockArgument arg : func.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type)
      continue;
    attn::Shape shape(type.getShape());
    for (auto [d, size] : llvm::enumerate(shape))
      if (ShapedType::isDynamic(size))
        size = recorder.argumentDim(arg.getArgNumber(), d);
    known[arg] = shape;
  }
  // The verifier saw every static size already: no rule can fail here.
  propagateShapes(func, known, &recorder,
                  [](Operation *, const std::string &) {});
}

/// The mask-data helpers: (code, three numbers) with code 0 for valid data;
/// the codes are CheckBuilder::csr's and ::indices' messages.
constexpr StringLiteral kMaskDataHelpers = R"mlir(
func.func private @__attn_check_indices(%ind: tensor<?xi32>, %skv: i64)
    -> (i32, i64, i64, i64) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %ok = arith.constant 0 : i32
  %bad = arith.constant 1 : i32
  %z = arith.constant 0 : i64
  %m1 = arith.constant -1 : i64
  %n = tensor.dim %ind, %c0 : tensor<?xi32>
  %r:3 = scf.for %e = %c0 to %n step %c1 iter_args(%code = %ok, %x = %z, %y = %z)
      -> (i32, i64, i64) {
    %v32 = tensor.extract %ind[%e] : tensor<?xi32>
    %v = arith.extsi %v32 : i32 to i64
    %low = arith.cmpi slt, %v, %m1 : i64
    %high = arith.cmpi sge, %v, %skv : i64
    %out = arith.ori %low, %high : i1
    %clean = arith.cmpi eq, %code, %ok : i32
    %first = arith.andi %out, %clean : i1
    %e64 = arith.index_cast %e : index to i64
    %code2 = arith.select %first, %bad, %code : i32
    %x2 = arith.select %first, %v, %x : i64
    %y2 = arith.select %first, %e64, %y : i64
    scf.yield %code2, %x2, %y2 : i32, i64, i64
  }
  return %r#0, %r#1, %r#2, %skv : i32, i64, i64, i64
}

func.func private @__attn_check_csr(%rp: tensor<?xi32>, %cols: tensor<?xi32>,
                                    %sq64: i64, %skv: i64)
    -> (i32, i64, i64, i64) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %ok = arith.constant 0 : i32
  %k1 = arith.constant 1 : i32
  %k2 = arith.constant 2 : i32
  %k3 = arith.constant 3 : i32
  %k4 = arith.constant 4 : i32
  %k5 = arith.constant 5 : i32
  %k6 = arith.constant 6 : i32
  %z = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %m1 = arith.constant -1 : i64
  %sq = arith.index_cast %sq64 : i64 to index
  %nnz = tensor.dim %cols, %c0 : tensor<?xi32>
  %nnz64 = arith.index_cast %nnz : index to i64
  %rp0 = tensor.extract %rp[%c0] : tensor<?xi32>
  %first = arith.extsi %rp0 : i32 to i64
  %badFirst = arith.cmpi ne, %first, %z : i64
  %code0 = arith.select %badFirst, %k1, %ok : i32
  %rows:3 = scf.for %i = %c0 to %sq step %c1
      iter_args(%code = %code0, %x = %first, %y = %z) -> (i32, i64, i64) {
    %clean = arith.cmpi eq, %code, %ok : i32
    %next:3 = scf.if %clean -> (i32, i64, i64) {
      %i64 = arith.index_cast %i : index to i64
      %i1 = arith.addi %i, %c1 : index
      %lo32 = tensor.extract %rp[%i] : tensor<?xi32>
      %hi32 = tensor.extract %rp[%i1] : tensor<?xi32>
      %lo = arith.extsi %lo32 : i32 to i64
      %hi = arith.extsi %hi32 : i32 to i64
      %dec = arith.cmpi slt, %hi, %lo : i64
      %over = arith.cmpi sgt, %hi, %nnz64 : i64
      %row:3 = scf.if %dec -> (i32, i64, i64) {
        scf.yield %k2, %i64, %z : i32, i64, i64
      } else {
        %r2:3 = scf.if %over -> (i32, i64, i64) {
          %i64p1 = arith.addi %i64, %one : i64
          scf.yield %k3, %i64p1, %nnz64 : i32, i64, i64
        } else {
          %loI = arith.index_cast %lo : i64 to index
          %hiI = arith.index_cast %hi : i64 to index
          %cs:4 = scf.for %p = %loI to %hiI step %c1
              iter_args(%cc = %ok, %cx = %z, %cy = %z, %prev = %m1)
              -> (i32, i64, i64, i64) {
            %v32 = tensor.extract %cols[%p] : tensor<?xi32>
            %v = arith.extsi %v32 : i32 to i64
            %neg = arith.cmpi slt, %v, %z : i64
            %big = arith.cmpi sge, %v, %skv : i64
            %range = arith.ori %neg, %big : i1
            %unsorted = arith.cmpi sle, %v, %prev : i64
            %cand0 = arith.select %unsorted, %k5, %ok : i32
            %cand = arith.select %range, %k4, %cand0 : i32
            %cleanc = arith.cmpi eq, %cc, %ok : i32
            %fresh = arith.cmpi ne, %cand, %ok : i32
            %take = arith.andi %cleanc, %fresh : i1
            %isRange = arith.cmpi eq, %cand, %k4 : i32
            %xv = arith.select %isRange, %v, %i64 : i64
            %yv = arith.select %isRange, %i64, %z : i64
            %cc2 = arith.select %take, %cand, %cc : i32
            %cx2 = arith.select %take, %xv, %cx : i64
            %cy2 = arith.select %take, %yv, %cy : i64
            scf.yield %cc2, %cx2, %cy2, %v : i32, i64, i64, i64
          }
          scf.yield %cs#0, %cs#1, %cs#2 : i32, i64, i64
        }
        scf.yield %r2#0, %r2#1, %r2#2 : i32, i64, i64
      }
      scf.yield %row#0, %row#1, %row#2 : i32, i64, i64
    } else {
      scf.yield %code, %x, %y : i32, i64, i64
    }
    scf.yield %next#0, %next#1, %next#2 : i32, i64, i64
  }
  %cleanEnd = arith.cmpi eq, %rows#0, %ok : i32
  %last32 = tensor.extract %rp[%sq] : tensor<?xi32>
  %last = arith.extsi %last32 : i32 to i64
  %mismatch = arith.cmpi ne, %last, %nnz64 : i64
  %badEnd = arith.andi %cleanEnd, %mismatch : i1
  %code = arith.select %badEnd, %k6, %rows#0 : i32
  %x = arith.select %badEnd, %last, %rows#1 : i64
  %y = arith.select %badEnd, %nnz64, %rows#2 : i64
  return %code, %x, %y, %skv : i32, i64, i64, i64
}
)mlir";

/// Parses the mask-data helpers into `module` once.
void addMaskDataHelpers(ModuleOp module) {
  if (module.lookupSymbol("__attn_check_csr"))
    return;
  OwningOpRef<ModuleOp> helpers =
      parseSourceString<ModuleOp>(kMaskDataHelpers, module.getContext());
  assert(helpers && "the mask-data helpers parse");
  for (Operation &op : llvm::make_early_inc_range(*helpers->getBody()))
    op.moveBefore(module.getBody(), module.getBody()->end());
}

/// Builds the run-time checks of one function into its check function.
class CheckBuilder {
public:
  CheckBuilder(OpBuilder &b, func::FuncOp check, StringRef entry)
      : b(b), loc(check.getLoc()), check(check), entry(entry.str()) {}

  /// A recorded size as an i64 value (tags become tensor.dim and arithmetic).
  Value size(const SizeRecorder &recorder, int64_t v) {
    if (!SizeRecorder::isTag(v))
      return constant(v);
    auto [it, inserted] = sizes.try_emplace(v, Value());
    if (!inserted)
      return it->second;
    const SizeRecorder::Size &s = recorder.size(v);
    Value result;
    switch (s.kind) {
    case SizeRecorder::Size::Kind::ArgumentDim:
      result = arith::IndexCastOp::create(
          b, loc, b.getI64Type(),
          tensor::DimOp::create(b, loc, check.getArgument(s.a), s.b));
      break;
    case SizeRecorder::Size::Kind::CeilDiv:
      result = arith::CeilDivSIOp::create(b, loc, size(recorder, s.a),
                                          constant(s.b));
      break;
    case SizeRecorder::Size::Kind::Plus:
      result =
          arith::AddIOp::create(b, loc, size(recorder, s.a), constant(s.b));
      break;
    }
    return sizes[v] = result;
  }

  /// The recorded shape rules, in the words of ShapeChecker.
  void shapeRules(const SizeRecorder &recorder, FirstFailure &first) {
    for (const SizeRecorder::Check &c : recorder.checks()) {
      Value a = size(recorder, c.a), bv = size(recorder, c.b);
      std::string prefix = entry + ": " + escapePercent(c.context);
      std::string what = escapePercent(c.what);
      switch (c.rule) {
      case SizeRecorder::Rule::Equal:
        first.add(cmp(arith::CmpIPredicate::ne, a, bv),
                  prefix + what + " (%lld vs %lld)", {a, bv});
        break;
      case SizeRecorder::Rule::EqualOrOne:
        first.add(arith::AndIOp::create(
                      b, loc, cmp(arith::CmpIPredicate::ne, a, bv),
                      cmp(arith::CmpIPredicate::ne, a, constant(1))),
                  prefix + what + " must be 1 or %lld, got %lld", {bv, a});
        break;
      case SizeRecorder::Rule::Divides: {
        // a: key/value heads, bv: query heads.
        first.add(cmp(arith::CmpIPredicate::slt, bv, constant(1)),
                  prefix + "query heads must be at least 1, got %lld", {bv});
        Value positive = cmp(arith::CmpIPredicate::sgt, a, constant(0));
        Value divisor =
            arith::SelectOp::create(b, loc, positive, a, constant(1));
        Value rest = arith::RemSIOp::create(b, loc, bv, divisor);
        Value bad = arith::OrIOp::create(
            b, loc, arith::XOrIOp::create(b, loc, positive, flag(true)),
            cmp(arith::CmpIPredicate::ne, rest, constant(0)));
        first.add(bad,
                  prefix + what +
                      " heads (%lld) must divide query heads "
                      "(%lld)",
                  {a, bv});
        break;
      }
      case SizeRecorder::Rule::AtLeastOne:
        first.add(cmp(arith::CmpIPredicate::slt, a, constant(1)),
                  prefix + what + " must be at least 1, got %lld", {a});
        break;
      }
    }
  }

  /// The data of CSR and index mask operands that are arguments, as
  /// attn-run's validateMaskData checks them; runs only when every shape
  /// rule held (the helpers index with the sizes those rules guarantee).
  void maskData(func::FuncOp func, const SizeRecorder &recorder,
                const KnownShapes &known, FirstFailure &first) {
    for (const ArgumentMaskData &m : argumentMaskData(func, known)) {
      if (m.csr)
        csr(m.argument, m.columns, size(recorder, m.sq), size(recorder, m.skv),
            first);
      else
        indices(m.argument, size(recorder, m.skv), first);
    }
  }

  Value constant(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v);
  }
  Value flag(bool v) {
    return arith::ConstantIntOp::create(b, loc, b.getI1Type(), v);
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }

private:
  /// Argument `a` as a 1-d tensor<?xi32>.
  Value flat(unsigned a) {
    Value v = check.getArgument(a);
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getRank() != 1) {
      SmallVector<ReassociationIndices> all(1);
      for (int64_t d = 0; d < type.getRank(); ++d)
        all[0].push_back(d);
      v = tensor::CollapseShapeOp::create(b, loc, v, all);
    }
    return tensor::CastOp::create(
        b, loc, RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type()),
        v);
  }

  /// Calls helper `name` and adds its coded failures (code k uses
  /// messages[k - 1]).
  void helper(StringRef name, ValueRange operands,
              ArrayRef<std::string> messages, FirstFailure &first) {
    addMaskDataHelpers(check->getParentOfType<ModuleOp>());
    Type i64 = b.getI64Type();
    auto call = func::CallOp::create(
        b, loc, name, TypeRange{b.getI32Type(), i64, i64, i64}, operands);
    Value code = call.getResult(0);
    for (auto [k, message] : llvm::enumerate(messages))
      first.add(
          cmp(arith::CmpIPredicate::eq, code,
              arith::ConstantIntOp::create(b, loc, b.getI32Type(), k + 1)),
          message, {call.getResult(1), call.getResult(2), call.getResult(3)});
  }

  void indices(unsigned a, Value skv, FirstFailure &first) {
    std::string arg = entry + ": argument #" + std::to_string(a) + ": ";
    helper("__attn_check_indices", {flat(a), skv},
           {arg + "#attn.indices entry %lld at flat index %lld is outside "
                  "[-1, %lld)"},
           first);
  }

  void csr(unsigned rowPtr, unsigned cols, Value sq, Value skv,
           FirstFailure &first) {
    std::string rp =
        entry + ": argument #" + std::to_string(rowPtr) + ": invalid CSR: ";
    std::string cs =
        entry + ": argument #" + std::to_string(cols) + ": invalid CSR: ";
    helper("__attn_check_csr", {flat(rowPtr), flat(cols), sq, skv},
           {rp + "row_ptr[0] must be 0, got %lld",
            rp + "row_ptr decreases at row %lld",
            rp + "row_ptr[%lld] exceeds the %lld column indices",
            cs + "column index %lld in row %lld is outside [0, %lld)",
            cs + "column indices of row %lld are not sorted and unique",
            rp + "row_ptr[Sq] = %lld but there are %lld column indices"},
           first);
  }

  OpBuilder &b;
  Location loc;
  func::FuncOp check;
  std::string entry;
  llvm::DenseMap<int64_t, Value> sizes;
};

} // namespace

std::string attn_run::entryNameError(StringRef name) {
  bool identifier =
      !name.empty() && !llvm::isDigit(name[0]) &&
      llvm::all_of(name, [](char c) { return llvm::isAlnum(c) || c == '_'; });
  if (!identifier)
    return "function '" + name.str() +
           "' cannot be an entry point: its name is not a C identifier";
  std::string symbol = "attn_" + name.str();
  if (symbol == kLastError || symbol == kSetNumThreads || symbol == kEntryTable)
    return "function '" + name.str() + "' cannot be an entry point: " + symbol +
           " is a runtime function of every object";
  return "";
}

AotEntry attn_run::addArgumentChecks(func::FuncOp func) {
  auto module = func->getParentOfType<ModuleOp>();
  MLIRContext *ctx = func.getContext();
  OpBuilder b(ctx);
  Location loc = func.getLoc();
  Type i64 = b.getI64Type();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  if (!module.lookupSymbol(kReport)) {
    b.setInsertionPointToStart(module.getBody());
    func::FuncOp::create(b, loc, kReport,
                         b.getFunctionType({ptr, i64, i64, i64}, {}))
        .setPrivate();
  }

  b.setInsertionPointAfter(func);
  auto check = func::FuncOp::create(
      b, loc, (kCheckPrefix + func.getName()).str(),
      b.getFunctionType(func.getArgumentTypes(), {b.getI32Type()}));
  check->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
  b.setInsertionPointToStart(check.addEntryBlock());

  SizeRecorder recorder;
  KnownShapes known;
  recordShapeRules(func, recorder, known);
  std::string entry = "attn_" + func.getName().str();
  CheckBuilder checks(b, check, entry);
  FirstFailure first(b, loc, "__attn_message_" + entry + "_size_");
  checks.shapeRules(recorder, first);

  // Mask data, read only when the shape rules held.
  SmallVector<Type> state = {b.getI1Type(), ptr, i64, i64, i64};
  auto ifOk = scf::IfOp::create(b, loc, state, first.failed,
                                /*withElseRegion=*/true);
  b.setInsertionPointToStart(&ifOk.getThenRegion().front());
  scf::YieldOp::create(b, loc, ValueRange(first.state()));
  b.setInsertionPointToStart(&ifOk.getElseRegion().front());
  FirstFailure data(b, loc, "__attn_message_" + entry + "_data_");
  checks.maskData(func, recorder, known, data);
  scf::YieldOp::create(b, loc, ValueRange(data.state()));
  b.setInsertionPointAfter(ifOk);
  Value failed = ifOk.getResult(0);
  auto report = scf::IfOp::create(b, loc, TypeRange{}, failed,
                                  /*withElseRegion=*/false);
  b.setInsertionPointToStart(&report.getThenRegion().front());
  func::CallOp::create(b, loc, kReport, TypeRange{},
                       ValueRange{ifOk.getResult(1), ifOk.getResult(2),
                                  ifOk.getResult(3), ifOk.getResult(4)});
  b.setInsertionPointAfter(report);
  Value status = arith::SelectOp::create(
      b, loc, failed,
      arith::ConstantIntOp::create(b, loc, b.getI32Type(),
                                   kInvalidArgumentStatus),
      arith::ConstantIntOp::create(b, loc, b.getI32Type(), 0));
  func::ReturnOp::create(b, loc, status);

  return {func.getName().str(), llvm::to_vector(func.getArgumentTypes()),
          func.getNumResults()};
}

//===----------------------------------------------------------------------===//
// Entry points and runtime (after lowering)
//===----------------------------------------------------------------------===//

namespace {

/// The declaration of C function `name` (libc, the OpenMP runtime) in
/// `module`, created when missing.
LLVM::LLVMFuncOp cFunction(OpBuilder &b, ModuleOp module, StringRef name,
                           ArrayRef<Type> params, Type result,
                           bool isVarArg = false) {
  FailureOr<LLVM::LLVMFuncOp> f =
      LLVM::lookupOrCreateFn(b, module, name, params, result, isVarArg);
  if (failed(f))
    llvm::report_fatal_error("the program declares " + name +
                             " with another signature");
  return *f;
}

/// Shared by every object of a program (weak_odr): the thread-local
/// message and the thread count; attn_last_error and attn_set_num_threads.
void defineRuntime(OpBuilder &b, ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  Location loc = module.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  auto voidType = LLVM::LLVMVoidType::get(ctx);
  auto text = LLVM::LLVMArrayType::get(b.getI8Type(), kErrorTextBytes);
  b.setInsertionPointToEnd(module.getBody());
  LLVM::GlobalOp::create(
      b, loc, text, /*isConstant=*/false, LLVM::Linkage::WeakODR, kErrorText,
      b.getZeroAttr(RankedTensorType::get({kErrorTextBytes}, b.getI8Type())),
      /*alignment=*/16, /*addrSpace=*/0,
      /*dsoLocal=*/false, /*thread_local_=*/true);
  LLVM::GlobalOp::create(b, loc, i32, /*isConstant=*/false,
                         LLVM::Linkage::WeakODR, kNumThreads,
                         b.getI32IntegerAttr(0));

  auto lastError = LLVM::LLVMFuncOp::create(
      b, loc, kLastError, LLVM::LLVMFunctionType::get(ptr, {}),
      LLVM::Linkage::WeakODR);
  b.setInsertionPointToStart(lastError.addEntryBlock(b));
  LLVM::ReturnOp::create(
      b, loc, ValueRange{LLVM::AddressOfOp::create(b, loc, ptr, kErrorText)});

  b.setInsertionPointToEnd(module.getBody());
  auto setThreads = LLVM::LLVMFuncOp::create(
      b, loc, kSetNumThreads, LLVM::LLVMFunctionType::get(voidType, {i32}),
      LLVM::Linkage::WeakODR);
  Block *body = setThreads.addEntryBlock(b);
  b.setInsertionPointToStart(body);
  LLVM::StoreOp::create(b, loc, body->getArgument(0),
                        LLVM::AddressOfOp::create(b, loc, ptr, kNumThreads));
  LLVM::ReturnOp::create(b, loc, ValueRange{});

  // __attn_report(format, x, y, z): the message, for attn_last_error.
  auto snprintf = cFunction(b, module, "snprintf", {ptr, i64, ptr}, i32,
                            /*isVarArg=*/true);
  auto report = cFunction(b, module, kReport, {ptr, i64, i64, i64}, voidType);
  report.setLinkage(LLVM::Linkage::Internal);
  body = report.addEntryBlock(b);
  b.setInsertionPointToStart(body);
  Value buffer = LLVM::AddressOfOp::create(b, loc, ptr, kErrorText);
  LLVM::CallOp::create(
      b, loc, snprintf,
      ValueRange{buffer, LLVM::ConstantOp::create(b, loc, i64, kErrorTextBytes),
                 body->getArgument(0), body->getArgument(1),
                 body->getArgument(2), body->getArgument(3)});
  LLVM::ReturnOp::create(b, loc, ValueRange{});
}

/// The descriptor checks of tensor argument `index` (a pointer to its
/// memref descriptor): what the compiled code assumes of it.
void checkDescriptor(OpBuilder &b, Location loc, Value descriptor,
                     RankedTensorType type, unsigned index,
                     const std::string &entry, FirstFailure &first) {
  MLIRContext *ctx = b.getContext();
  Type i64 = b.getI64Type();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  int64_t rank = type.getRank();
  SmallVector<Type> fields = {ptr, ptr, i64};
  if (rank > 0) {
    fields.push_back(LLVM::LLVMArrayType::get(i64, rank));
    fields.push_back(LLVM::LLVMArrayType::get(i64, rank));
  }
  auto structType = LLVM::LLVMStructType::getLiteral(ctx, fields);
  auto field = [&](int32_t f, int32_t d) -> Value {
    SmallVector<LLVM::GEPArg> at = {0, f};
    if (f >= 3)
      at.push_back(d);
    Value address =
        LLVM::GEPOp::create(b, loc, ptr, structType, descriptor, at);
    return LLVM::LoadOp::create(b, loc, f == 1 ? Type(ptr) : i64, address);
  };
  auto constant = [&](int64_t v) -> Value {
    return LLVM::ConstantOp::create(b, loc, i64, v);
  };
  auto icmp = [&](LLVM::ICmpPredicate p, Value x, Value y) -> Value {
    return LLVM::ICmpOp::create(b, loc, p, x, y);
  };
  std::string arg = entry + ": argument #" + std::to_string(index) + ": ";
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < rank; ++d) {
    Value size = field(3, d);
    sizes.push_back(size);
    first.add(icmp(LLVM::ICmpPredicate::slt, size, constant(0)),
              arg + "size %lld of dimension " + std::to_string(d) +
                  " is negative",
              {size});
    if (!type.isDynamicDim(d))
      first.add(
          icmp(LLVM::ICmpPredicate::ne, size, constant(type.getDimSize(d))),
          arg + "dimension " + std::to_string(d) +
              " is %lld, but the type says " +
              std::to_string(type.getDimSize(d)),
          {size});
  }
  // Row-major contiguous: the lowered code ignores the strides.
  Type element = type.getElementType();
  // index is 64 bits here; i1 takes a byte.
  unsigned bytes =
      element.isIndex() ? 8 : std::max(1u, element.getIntOrFloatBitWidth() / 8);
  Value expected = constant(1);
  for (int64_t d = rank - 1; d >= 0; --d) {
    Value stride = field(4, d);
    first.add(LLVM::AndOp::create(
                  b, loc, icmp(LLVM::ICmpPredicate::sgt, sizes[d], constant(1)),
                  icmp(LLVM::ICmpPredicate::ne, stride, expected)),
              arg + "stride %lld of dimension " + std::to_string(d) +
                  " is not the contiguous row-major stride %lld",
              {stride, expected});
    Value positive = icmp(LLVM::ICmpPredicate::sgt, sizes[d], constant(0));
    Value divisor =
        LLVM::SelectOp::create(b, loc, positive, sizes[d], constant(1));
    Value limit = LLVM::SDivOp::create(
        b, loc, constant(std::numeric_limits<int64_t>::max() / bytes), divisor);
    first.add(icmp(LLVM::ICmpPredicate::sgt, expected, limit),
              arg + "its size in bytes overflows int64");
    expected = LLVM::MulOp::create(b, loc, expected, sizes[d]);
  }
  Value data = field(1, 0);
  Value null = LLVM::ZeroOp::create(b, loc, ptr);
  first.add(LLVM::AndOp::create(
                b, loc, icmp(LLVM::ICmpPredicate::sgt, expected, constant(0)),
                icmp(LLVM::ICmpPredicate::eq, data, null)),
            arg + "the data pointer (aligned) is null");
}

/// `int32_t attn_NAME(results, args...)`: clears the message, applies the
/// thread count, checks the descriptors, then the arguments
/// (__attn_check_NAME), then calls the function.
void defineEntry(OpBuilder &b, ModuleOp module, const AotEntry &e,
                 bool openmp) {
  MLIRContext *ctx = module.getContext();
  Location loc = module.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  auto impl = module.lookupSymbol<LLVM::LLVMFuncOp>("_mlir_ciface_" + e.name);
  auto check = module.lookupSymbol<LLVM::LLVMFuncOp>(
      ("_mlir_ciface_" + kCheckPrefix + e.name).str());
  assert(impl && check && "lowered with llvm.emit_c_interface");
  ArrayRef<Type> params = impl.getFunctionType().getParams();
  std::string name = "attn_" + e.name;
  b.setInsertionPointToEnd(module.getBody());
  auto entry = LLVM::LLVMFuncOp::create(
      b, loc, name, LLVM::LLVMFunctionType::get(i32, params));
  Block *start = entry.addEntryBlock(b);
  Block *descriptors = entry.addBlock(), *call = entry.addBlock();
  Block *report = entry.addBlock();
  report->addArguments({ptr, i64, i64, i64}, SmallVector<Location>(4, loc));
  unsigned firstArg = e.numResults > 0 ? 1 : 0;
  ValueRange args = start->getArguments();

  b.setInsertionPointToStart(start);
  Value zero8 = LLVM::ConstantOp::create(b, loc, b.getI8Type(), 0);
  LLVM::StoreOp::create(b, loc, zero8,
                        LLVM::AddressOfOp::create(b, loc, ptr, kErrorText));
  if (openmp) {
    // A positive count from attn_set_num_threads reaches this thread's
    // OpenMP parallel regions.
    Value n = LLVM::LoadOp::create(
        b, loc, i32, LLVM::AddressOfOp::create(b, loc, ptr, kNumThreads));
    Value zero32 = LLVM::ConstantOp::create(b, loc, i32, 0);
    auto ompGet = cFunction(b, module, "omp_get_max_threads", {}, i32);
    auto ompSet = cFunction(b, module, "omp_set_num_threads", {i32},
                            LLVM::LLVMVoidType::get(ctx));
    Value current =
        LLVM::CallOp::create(b, loc, ompGet, ValueRange{}).getResult();
    Value wanted = LLVM::SelectOp::create(
        b, loc,
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::sgt, n, zero32), n,
        current);
    LLVM::CallOp::create(b, loc, ompSet, ValueRange{wanted});
  }
  FirstFailure pointers(b, loc, "__attn_message_" + name + "_pointer_");
  Value null = LLVM::ZeroOp::create(b, loc, ptr);
  if (e.numResults > 0)
    pointers.add(
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, args[0], null),
        name + ": the results pointer is null");
  for (auto [i, type] : llvm::enumerate(e.arguments))
    if (isa<RankedTensorType>(type))
      pointers.add(LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq,
                                        args[firstArg + i], null),
                   name + ": argument #" + std::to_string(i) +
                       ": the descriptor pointer is null");
  LLVM::CondBrOp::create(b, loc, pointers.failed, report,
                         ValueRange(pointers.state()).drop_front(), descriptors,
                         ValueRange{});

  b.setInsertionPointToStart(descriptors);
  FirstFailure sizes(b, loc, "__attn_message_" + name + "_descriptor_");
  for (auto [i, type] : llvm::enumerate(e.arguments))
    if (auto tensor = dyn_cast<RankedTensorType>(type))
      checkDescriptor(b, loc, args[firstArg + i], tensor, i, name, sizes);
  LLVM::CondBrOp::create(b, loc, sizes.failed, report,
                         ValueRange(sizes.state()).drop_front(), call,
                         ValueRange{});

  b.setInsertionPointToStart(call);
  Value status = LLVM::CallOp::create(b, loc, check, args.drop_front(firstArg))
                     .getResult();
  Block *run = entry.addBlock(), *refused = entry.addBlock();
  LLVM::CondBrOp::create(
      b, loc,
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, status,
                           LLVM::ConstantOp::create(b, loc, i32, 0)),
      refused, run);
  b.setInsertionPointToStart(refused);
  LLVM::ReturnOp::create(b, loc, status);
  b.setInsertionPointToStart(run);
  LLVM::CallOp::create(b, loc, impl, args);
  LLVM::ReturnOp::create(b, loc,
                         ValueRange{LLVM::ConstantOp::create(b, loc, i32, 0)});

  b.setInsertionPointToStart(report);
  auto reportFn = module.lookupSymbol<LLVM::LLVMFuncOp>(kReport);
  LLVM::CallOp::create(b, loc, reportFn, report->getArguments());
  LLVM::ReturnOp::create(b, loc,
                         ValueRange{LLVM::ConstantOp::create(
                             b, loc, i32, kInvalidArgumentStatus)});
}

} // namespace

void attn_run::defineEntryPoints(ModuleOp module, ArrayRef<AotEntry> entries,
                                 bool openmp) {
  OpBuilder b(module.getContext());
  defineRuntime(b, module);
  llvm::StringSet<> exported;
  for (const AotEntry &e : entries) {
    defineEntry(b, module, e, openmp);
    exported.insert("attn_" + e.name);
  }
  // Nothing else leaves the object: no bare function names.
  for (Operation &op : *module.getBody()) {
    if (auto f = dyn_cast<LLVM::LLVMFuncOp>(op)) {
      if (!f.isExternal() && !exported.contains(f.getName()) &&
          f.getLinkage() != LLVM::Linkage::WeakODR)
        f.setLinkage(LLVM::Linkage::Internal);
    } else if (auto g = dyn_cast<LLVM::GlobalOp>(op)) {
      bool declaration =
          !g.getValueOrNull() && g.getInitializerRegion().empty();
      if (!declaration && g.getLinkage() != LLVM::Linkage::WeakODR)
        g.setLinkage(LLVM::Linkage::Internal);
    }
  }
}
