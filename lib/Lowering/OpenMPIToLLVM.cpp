//===- OpenMPIToLLVM.cpp - mpi ops upstream cannot lower, for Open MPI ----===//
//
// LLVM 22's MPIToLLVM lowers init, finalize, comm_world, comm_rank,
// comm_split, send, recv and allreduce. The ring of sequence parallelism
// also needs the communicator's size, non-blocking transfers, their wait and
// a barrier; decoding across ranks needs an allreduce, whose upstream
// lowering names Open MPI's reductions wrongly (ompi_mpi_max for
// ompi_mpi_op_max). These patterns lower them to Open MPI's C functions, with
// Open MPI's handles (communicators, datatypes, reductions and requests are
// pointers; the predefined ones are the addresses of ompi_mpi_* globals).
//
//===----------------------------------------------------------------------===//

#include "attn/Lowering/OpenMPIToLLVM.h"
#include "attn/Lowering/Passes.h"

#include "mlir/Conversion/LLVMCommon/MemRefBuilder.h"
#include "mlir/Conversion/LLVMCommon/Pattern.h"
#include "mlir/Dialect/LLVMIR/FunctionCallUtils.h"
#include "mlir/Dialect/MPI/IR/MPI.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERMPI
#include "attn/Lowering/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr StringLiteral kImplementationKey = "MPI:Implementation";

/// The address of Open MPI's predefined object `name` (an external global of
/// the opaque struct type `typeName`, declared once per module).
Value predefinedObject(ConversionPatternRewriter &rewriter, Operation *op,
                       StringRef name, StringRef typeName) {
  MLIRContext *ctx = rewriter.getContext();
  auto module = op->getParentOfType<ModuleOp>();
  if (!module.lookupSymbol<LLVM::GlobalOp>(name)) {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(module.getBody());
    LLVM::GlobalOp::create(
        rewriter, op->getLoc(), LLVM::LLVMStructType::getOpaque(typeName, ctx),
        /*isConstant=*/false, LLVM::Linkage::External, name, Attribute());
  }
  return LLVM::AddressOfOp::create(rewriter, op->getLoc(),
                                   LLVM::LLVMPointerType::get(ctx), name);
}

/// Open MPI's predefined datatype for elements of type `type`: floats by
/// width (f16 and bf16 as 16-bit integers: MPI moves their bits), integers
/// by width and signedness; null if there is none.
StringRef datatypeName(Type type) {
  if (type.isF32())
    return "ompi_mpi_float";
  if (type.isF64())
    return "ompi_mpi_double";
  if (type.isF16() || type.isBF16())
    return "ompi_mpi_uint16_t";
  auto integer = dyn_cast<IntegerType>(type);
  if (!integer)
    return {};
  bool isUnsigned = integer.isUnsigned();
  switch (integer.getWidth()) {
  case 8:
    return isUnsigned ? "ompi_mpi_uint8_t" : "ompi_mpi_int8_t";
  case 16:
    return isUnsigned ? "ompi_mpi_uint16_t" : "ompi_mpi_int16_t";
  case 32:
    return isUnsigned ? "ompi_mpi_uint32_t" : "ompi_mpi_int32_t";
  case 64:
    return isUnsigned ? "ompi_mpi_uint64_t" : "ompi_mpi_int64_t";
  default:
    return {};
  }
}

/// Declares (once) and calls `int name(args)`.
FailureOr<Value> callMPI(ConversionPatternRewriter &rewriter, Operation *op,
                         StringRef name, ValueRange args) {
  auto module = op->getParentOfType<ModuleOp>();
  FailureOr<LLVM::LLVMFuncOp> fn = LLVM::lookupOrCreateFn(
      rewriter, module, name, llvm::to_vector(args.getTypes()),
      rewriter.getI32Type());
  if (failed(fn))
    return rewriter.notifyMatchFailure(op,
                                       "conflicting declaration of " + name);
  return LLVM::CallOp::create(rewriter, op->getLoc(), *fn, args).getResult();
}

/// A one-element stack slot of `type`, allocated in the function's entry
/// block so that calls in loops reuse it.
Value slot(ConversionPatternRewriter &rewriter, Operation *op, Type type) {
  OpBuilder::InsertionGuard guard(rewriter);
  auto fn = op->getParentOfType<FunctionOpInterface>();
  rewriter.setInsertionPointToStart(&fn.getFunctionBody().front());
  Location loc = op->getLoc();
  Value one = LLVM::ConstantOp::create(rewriter, loc, rewriter.getI32Type(), 1);
  return LLVM::AllocaOp::create(
      rewriter, loc, LLVM::LLVMPointerType::get(rewriter.getContext()), type,
      one);
}

/// The communicator handle Open MPI takes, from upstream's i64.
Value commHandle(ConversionPatternRewriter &rewriter, Location loc,
                 Value comm) {
  return LLVM::IntToPtrOp::create(
      rewriter, loc, LLVM::LLVMPointerType::get(rewriter.getContext()), comm);
}

/// Replaces `op` by its optional retval (the call's result) followed by
/// `values`.
void replaceWithRetval(ConversionPatternRewriter &rewriter, Operation *op,
                       Value retval, Value rest, bool hasRetval) {
  SmallVector<Value> replacements;
  if (hasRetval)
    replacements.push_back(retval);
  if (rest)
    replacements.push_back(rest);
  if (replacements.empty())
    rewriter.eraseOp(op);
  else
    rewriter.replaceOp(op, replacements);
}

struct CommSizeLowering : ConvertOpToLLVMPattern<mpi::CommSizeOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;
  LogicalResult
  matchAndRewrite(mpi::CommSizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type();
    Value size = slot(rewriter, op, i32);
    FailureOr<Value> rc =
        callMPI(rewriter, op, "MPI_Comm_size",
                {commHandle(rewriter, loc, adaptor.getComm()), size});
    if (failed(rc))
      return failure();
    replaceWithRetval(rewriter, op, *rc,
                      LLVM::LoadOp::create(rewriter, loc, i32, size),
                      bool(op.getRetval()));
    return success();
  }
};

/// A contiguous memref as MPI sees it: the address of its first element and
/// its element count (i32).
struct MPIBuffer {
  Value address, count;
};

FailureOr<MPIBuffer> mpiBuffer(ConversionPatternRewriter &rewriter,
                               const LLVMTypeConverter &converter,
                               Operation *op, MemRefType type,
                               Value descriptor) {
  if (!type.getLayout().isIdentity())
    return rewriter.notifyMatchFailure(op, "the buffer is not contiguous");
  Location loc = op->getLoc();
  MemRefDescriptor desc(descriptor);
  Type elementType = converter.convertType(type.getElementType());
  auto ptrType = LLVM::LLVMPointerType::get(rewriter.getContext());
  Value address = LLVM::GEPOp::create(rewriter, loc, ptrType, elementType,
                                      desc.alignedPtr(rewriter, loc),
                                      ValueRange{desc.offset(rewriter, loc)});
  Value count =
      LLVM::ConstantOp::create(rewriter, loc, rewriter.getI64Type(), 1);
  for (int64_t d = 0; d < type.getRank(); ++d)
    count =
        LLVM::MulOp::create(rewriter, loc, count, desc.size(rewriter, loc, d));
  count = LLVM::TruncOp::create(rewriter, loc, rewriter.getI32Type(), count);
  return MPIBuffer{address, count};
}

/// mpi.isend and mpi.irecv: `int MPI_Isend/Irecv(buf, count, datatype, peer,
/// tag, comm, MPI_Request *)`, the request loaded from its slot.
template <typename OpT>
struct NonBlockingLowering : ConvertOpToLLVMPattern<OpT> {
  NonBlockingLowering(LLVMTypeConverter &converter, StringRef function)
      : ConvertOpToLLVMPattern<OpT>(converter), function(function) {}

  LogicalResult
  matchAndRewrite(OpT op, typename OpT::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<MemRefType>(op.getRef().getType());
    StringRef datatype = datatypeName(type.getElementType());
    if (datatype.empty())
      return rewriter.notifyMatchFailure(op, "no MPI datatype for the element");
    FailureOr<MPIBuffer> buffer = mpiBuffer(rewriter, *this->getTypeConverter(),
                                            op, type, adaptor.getRef());
    if (failed(buffer))
      return failure();
    auto ptrType = LLVM::LLVMPointerType::get(rewriter.getContext());
    Value request = slot(rewriter, op, ptrType);
    FailureOr<Value> rc = callMPI(
        rewriter, op, function,
        {buffer->address, buffer->count,
         predefinedObject(rewriter, op, datatype, "ompi_predefined_datatype_t"),
         peer(adaptor), adaptor.getTag(),
         commHandle(rewriter, loc, adaptor.getComm()), request});
    if (failed(rc))
      return failure();
    replaceWithRetval(rewriter, op, *rc,
                      LLVM::LoadOp::create(rewriter, loc, ptrType, request),
                      bool(op.getRetval()));
    return success();
  }

  static Value peer(mpi::ISendOp::Adaptor adaptor) { return adaptor.getDest(); }
  static Value peer(mpi::IRecvOp::Adaptor adaptor) {
    return adaptor.getSource();
  }

  StringRef function;
};

/// Open MPI's predefined reduction, by name (MPI_MAX is &ompi_mpi_op_max;
/// LLVM 22's MPIToLLVM names it ompi_mpi_max, which Open MPI lacks).
StringRef reductionName(mpi::MPI_ReductionOpEnum op) {
  using R = mpi::MPI_ReductionOpEnum;
  switch (op) {
  case R::MPI_MAX:
    return "ompi_mpi_op_max";
  case R::MPI_MIN:
    return "ompi_mpi_op_min";
  case R::MPI_SUM:
    return "ompi_mpi_op_sum";
  case R::MPI_PROD:
    return "ompi_mpi_op_prod";
  default:
    return {};
  }
}

/// mpi.allreduce: `int MPI_Allreduce(sendbuf, recvbuf, count, datatype, op,
/// comm)`, replacing upstream's lowering, whose Open MPI symbols are wrong.
struct AllReduceLowering : ConvertOpToLLVMPattern<mpi::AllReduceOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;
  LogicalResult
  matchAndRewrite(mpi::AllReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = cast<MemRefType>(op.getSendbuf().getType());
    StringRef datatype = datatypeName(type.getElementType());
    StringRef reduction = reductionName(op.getOp());
    if (datatype.empty() || reduction.empty())
      return rewriter.notifyMatchFailure(op, "no MPI datatype or reduction");
    const LLVMTypeConverter &converter = *getTypeConverter();
    FailureOr<MPIBuffer> send =
        mpiBuffer(rewriter, converter, op, type, adaptor.getSendbuf());
    FailureOr<MPIBuffer> receive = mpiBuffer(
        rewriter, converter, op, cast<MemRefType>(op.getRecvbuf().getType()),
        adaptor.getRecvbuf());
    if (failed(send) || failed(receive))
      return failure();
    FailureOr<Value> rc = callMPI(
        rewriter, op, "MPI_Allreduce",
        {send->address, receive->address, send->count,
         predefinedObject(rewriter, op, datatype, "ompi_predefined_datatype_t"),
         predefinedObject(rewriter, op, reduction, "ompi_predefined_op_t"),
         commHandle(rewriter, op.getLoc(), adaptor.getComm())});
    if (failed(rc))
      return failure();
    replaceWithRetval(rewriter, op, *rc, Value(), bool(op.getRetval()));
    return success();
  }
};

struct WaitLowering : ConvertOpToLLVMPattern<mpi::Wait> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;
  LogicalResult
  matchAndRewrite(mpi::Wait op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // int MPI_Wait(MPI_Request *, MPI_Status *): Open MPI's
    // MPI_STATUS_IGNORE is the null pointer.
    Location loc = op.getLoc();
    auto ptrType = LLVM::LLVMPointerType::get(rewriter.getContext());
    Value request = slot(rewriter, op, ptrType);
    LLVM::StoreOp::create(rewriter, loc, adaptor.getReq(), request);
    FailureOr<Value> rc =
        callMPI(rewriter, op, "MPI_Wait",
                {request, LLVM::ZeroOp::create(rewriter, loc, ptrType)});
    if (failed(rc))
      return failure();
    replaceWithRetval(rewriter, op, *rc, Value(), bool(op.getRetval()));
    return success();
  }
};

struct BarrierLowering : ConvertOpToLLVMPattern<mpi::Barrier> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;
  LogicalResult
  matchAndRewrite(mpi::Barrier op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    FailureOr<Value> rc =
        callMPI(rewriter, op, "MPI_Barrier",
                {commHandle(rewriter, op.getLoc(), adaptor.getComm())});
    if (failed(rc))
      return failure();
    replaceWithRetval(rewriter, op, *rc, Value(), bool(op.getRetval()));
    return success();
  }
};

/// Marks `module` as targeting Open MPI, or fails if it names another MPI.
LogicalResult markOpenMPI(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  FailureOr<Attribute> named =
      dlti::query(module, {StringRef(kImplementationKey)}, /*emitError=*/false);
  if (succeeded(named)) {
    auto name = dyn_cast<StringAttr>(*named);
    if (name && name.getValue() == "OpenMPI")
      return success();
    return module.emitError("attn-lower-mpi lowers for Open MPI, but the "
                            "module's \"MPI:Implementation\" is ")
           << *named;
  }
  auto entry =
      DataLayoutEntryAttr::get(StringAttr::get(ctx, kImplementationKey),
                               StringAttr::get(ctx, "OpenMPI"));
  SmallVector<DataLayoutEntryInterface> entries = {entry};
  if (auto map = module->getAttrOfType<MapAttr>(DLTIDialect::kMapAttrName))
    entries.append(map.getEntries().begin(), map.getEntries().end());
  else if (module->hasAttr(DLTIDialect::kMapAttrName))
    return module.emitError("attn-lower-mpi: the module's dlti.map is not a "
                            "#dlti.map");
  module->setAttr(DLTIDialect::kMapAttrName, MapAttr::get(ctx, entries));
  return success();
}

struct AttnLowerMPIPass : attn::impl::AttnLowerMPIBase<AttnLowerMPIPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool usesMPI = false;
    module.walk([&](Operation *op) {
      usesMPI |= isa<mpi::MPIDialect>(op->getDialect());
    });
    if (!usesMPI)
      return;
    if (failed(markOpenMPI(module)))
      return signalPassFailure();
    LLVMTypeConverter converter(&getContext());
    addOpenMPITypeConversions(converter);
    RewritePatternSet patterns(&getContext());
    populateOpenMPIToLLVMPatterns(converter, patterns);
    ConversionTarget target(getContext());
    target.addIllegalOp<mpi::CommSizeOp, mpi::ISendOp, mpi::IRecvOp, mpi::Wait,
                        mpi::Barrier, mpi::AllReduceOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::attn::addOpenMPITypeConversions(LLVMTypeConverter &converter) {
  MLIRContext *ctx = &converter.getContext();
  converter.addConversion(
      [ctx](mpi::CommType) { return IntegerType::get(ctx, 64); });
  converter.addConversion(
      [ctx](mpi::RequestType) { return LLVM::LLVMPointerType::get(ctx); });
  converter.addConversion(
      [ctx](mpi::RetvalType) { return IntegerType::get(ctx, 32); });
}

void mlir::attn::populateOpenMPIToLLVMPatterns(LLVMTypeConverter &converter,
                                               RewritePatternSet &patterns) {
  patterns
      .add<CommSizeLowering, WaitLowering, BarrierLowering, AllReduceLowering>(
          converter);
  patterns.add<NonBlockingLowering<mpi::ISendOp>>(converter, "MPI_Isend");
  patterns.add<NonBlockingLowering<mpi::IRecvOp>>(converter, "MPI_Irecv");
}
