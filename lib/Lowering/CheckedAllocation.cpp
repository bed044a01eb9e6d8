//===- CheckedAllocation.cpp - checked malloc in lowered code -------------===//
//
// Lowered memref.alloc calls malloc and uses the result unchecked: a failed
// allocation becomes a crash inside the compiled code. Every such call of
// the module's host code goes through a private wrapper instead, which
// reports the failure in one line and exits with status 3. The wrapper is
// defined in the module and needs only libc (dprintf, _exit), so
// attn-compile's objects stay self-contained.
//
//===----------------------------------------------------------------------===//

#include "attn/Lowering/CheckedAllocation.h"
#include "attn/Lowering/Passes.h"

#include "mlir/Dialect/LLVMIR/FunctionCallUtils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNCHECKEDALLOCATION
#include "attn/Lowering/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr StringLiteral kWrapperName = "__attn_checked_malloc";

/// Defines `ptr __attn_checked_malloc(size)`: malloc(size), or, when that is
/// null for a non-zero size, the message and _exit(3).
LLVM::LLVMFuncOp defineWrapper(ModuleOp module, LLVM::LLVMFuncOp malloc) {
  OpBuilder b(module.getContext());
  Location loc = module.getLoc();
  MLIRContext *ctx = module.getContext();
  Type sizeType = malloc.getFunctionType().getParamType(0);
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  auto i32 = IntegerType::get(ctx, 32);
  auto voidType = LLVM::LLVMVoidType::get(ctx);
  FailureOr<LLVM::LLVMFuncOp> dprintf = LLVM::lookupOrCreateFn(
      b, module, "dprintf", {i32, ptrType}, i32, /*isVarArg=*/true);
  FailureOr<LLVM::LLVMFuncOp> exit =
      LLVM::lookupOrCreateFn(b, module, "_exit", {i32}, voidType);
  if (failed(dprintf) || failed(exit))
    return {}; // declared otherwise by the program: allocations stay as-is

  b.setInsertionPointToEnd(module.getBody());
  auto wrapper = LLVM::LLVMFuncOp::create(
      b, loc, kWrapperName, malloc.getFunctionType(), LLVM::Linkage::Internal);
  Block *entry = wrapper.addEntryBlock(b);
  Block *ok = wrapper.addBlock(), *outOfMemory = wrapper.addBlock();
  Value size = entry->getArgument(0);
  b.setInsertionPointToStart(entry);
  Value ptr = LLVM::CallOp::create(b, loc, malloc, size).getResult();
  Value null = LLVM::ZeroOp::create(b, loc, ptrType);
  Value zero = LLVM::ConstantOp::create(b, loc, sizeType, 0);
  Value failed = LLVM::AndOp::create(
      b, loc, LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, ptr, null),
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, size, zero));
  LLVM::CondBrOp::create(b, loc, failed, outOfMemory, ok);

  b.setInsertionPointToStart(ok);
  LLVM::ReturnOp::create(b, loc, ptr);

  b.setInsertionPointToStart(outOfMemory);
  static const char kMessage[] = "attn: out of memory allocating %llu bytes\n";
  Value message = LLVM::createGlobalString(
      loc, b, "__attn_out_of_memory_message",
      StringRef(kMessage, sizeof(kMessage)), LLVM::Linkage::Internal);
  Value stderrFd = LLVM::ConstantOp::create(b, loc, i32, 2);
  Value size64 = size;
  if (sizeType != b.getI64Type())
    size64 = LLVM::ZExtOp::create(b, loc, b.getI64Type(), size);
  LLVM::CallOp::create(b, loc, *dprintf, ValueRange{stderrFd, message, size64});
  LLVM::CallOp::create(b, loc, *exit,
                       ValueRange{LLVM::ConstantOp::create(
                           b, loc, i32, kOutOfMemoryExitStatus)});
  LLVM::UnreachableOp::create(b, loc);
  return wrapper;
}

struct AttnCheckedAllocationPass
    : attn::impl::AttnCheckedAllocationBase<AttnCheckedAllocationPass> {
  void runOnOperation() override { checkHeapAllocations(getOperation()); }
};

} // namespace

void mlir::attn::checkHeapAllocations(ModuleOp module) {
  auto malloc = module.lookupSymbol<LLVM::LLVMFuncOp>("malloc");
  if (!malloc || module.lookupSymbol(kWrapperName))
    return;
  SmallVector<LLVM::CallOp> calls;
  // Only the module's own host functions: kernels in a gpu.module have
  // their own symbol table (and no malloc of this module).
  module.walk([&](LLVM::CallOp call) {
    if (call.getCallee() == StringRef("malloc") &&
        SymbolTable::getNearestSymbolTable(call->getParentOp()) == module)
      calls.push_back(call);
  });
  if (calls.empty())
    return;
  LLVM::LLVMFuncOp wrapper = defineWrapper(module, malloc);
  if (!wrapper)
    return;
  for (LLVM::CallOp call : calls)
    call.setCallee(wrapper.getSymName());
}
