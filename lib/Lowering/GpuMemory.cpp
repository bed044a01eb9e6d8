//===- GpuMemory.cpp - memory of GPU programs -----------------------------===//
//
// Where the buffers of attn-to-nvvm programs live: host allocations become
// CUDA managed memory (host code, kernels and the caller share them), with
// frees for the buffers that do not escape; shared-memory buffers are
// aligned for 16-byte vector loads.
//
//===----------------------------------------------------------------------===//

#include "attn/Lowering/GpuMemory.h"
#include "attn/Lowering/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUMANAGEDMEMORY
#define GEN_PASS_DEF_ATTNGPUALIGNSHARED
#include "attn/Lowering/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Whether `op` is host code (not inside a kernel).
bool onHost(Operation *op) {
  return !op->getParentOfType<gpu::LaunchOp>() &&
         !op->getParentOfType<gpu::GPUModuleOp>();
}

/// Whether the buffer `alloc`, or a view of it, may outlive `block`:
/// conservatively, any use outside the block, by a terminator (returned or
/// yielded, at any depth), by a call, by an op that returns a memref other
/// than a view of it (select, loop results), or stored into memory.
bool escapes(Value alloc, Block *block) {
  SmallVector<Value> worklist = {alloc};
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (!block->findAncestorOpInBlock(*user) ||
          user->hasTrait<OpTrait::IsTerminator>() || isa<CallOpInterface>(user))
        return true;
      if (auto view = dyn_cast<ViewLikeOpInterface>(user);
          view && view.getViewSource() == v) {
        llvm::append_range(worklist, user->getResults());
        continue;
      }
      if (llvm::any_of(user->getResultTypes(),
                       [](Type t) { return isa<BaseMemRefType>(t); }))
        return true;
      if (auto store = dyn_cast<memref::StoreOp>(user);
          store && store.getValueToStore() == v)
        return true;
    }
  }
  return false;
}

/// Whether a kernel reads `buffer` or a view of it.
bool readByKernel(Value buffer) {
  SmallVector<Value> worklist = {buffer};
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (!onHost(user) || isa<gpu::LaunchFuncOp, gpu::LaunchOp>(user))
        return true;
      if (auto view = dyn_cast<ViewLikeOpInterface>(user);
          view && view.getViewSource() == v)
        llvm::append_range(worklist, user->getResults());
    }
  }
  return false;
}

/// Frees `buffer`: gpu.dealloc lowers only in its async form, so on a
/// stream of its own, waited for at once.
void emitFree(RewriterBase &rewriter, Location loc, Value buffer) {
  auto tokenType = gpu::AsyncTokenType::get(rewriter.getContext());
  Value stream = gpu::WaitOp::create(rewriter, loc, tokenType, ValueRange{})
                     .getAsyncToken();
  Value done = gpu::DeallocOp::create(rewriter, loc, tokenType,
                                      ValueRange{stream}, buffer)
                   .getAsyncToken();
  gpu::WaitOp::create(rewriter, loc, Type(), ValueRange{done});
}

} // namespace

void mlir::attn::placeInManagedMemory(Operation *root) {
  IRRewriter rewriter(root->getContext());
  SmallVector<memref::AllocOp> allocs;
  SmallVector<memref::DeallocOp> deallocs;
  SmallVector<memref::GetGlobalOp> globals;
  root->walk([&](Operation *op) {
    if (isa<gpu::GPUModuleOp>(op))
      return WalkResult::skip();
    if (!onHost(op))
      return WalkResult::advance();
    if (auto alloc = dyn_cast<memref::AllocOp>(op))
      allocs.push_back(alloc);
    else if (auto dealloc = dyn_cast<memref::DeallocOp>(op))
      deallocs.push_back(dealloc);
    else if (auto global = dyn_cast<memref::GetGlobalOp>(op))
      globals.push_back(global);
    return WalkResult::advance();
  });
  // Buffers that do not outlive their block are freed at its end (the
  // kernels are synchronous); the others are the caller's results.
  for (memref::AllocOp alloc : allocs) {
    Block *block = alloc->getBlock();
    bool freeHere = !escapes(alloc.getResult(), block);
    rewriter.setInsertionPoint(alloc);
    auto managed = gpu::AllocOp::create(
        rewriter, alloc.getLoc(), alloc.getType(), Type(), ValueRange{},
        alloc.getDynamicSizes(), alloc.getSymbolOperands(),
        /*hostShared=*/true);
    rewriter.replaceOp(alloc, managed.getMemref());
    if (freeHere) {
      rewriter.setInsertionPoint(block->getTerminator());
      emitFree(rewriter, managed.getLoc(), managed.getMemref());
    }
  }
  for (memref::DeallocOp dealloc : deallocs) {
    rewriter.setInsertionPoint(dealloc);
    emitFree(rewriter, dealloc.getLoc(), dealloc.getMemref());
    rewriter.eraseOp(dealloc);
  }
  // Constant globals live in host memory: kernels read a managed copy,
  // and a returned one is a managed copy too (the caller frees results).
  for (memref::GetGlobalOp global : globals) {
    Block *block = global->getBlock();
    if (!readByKernel(global.getResult()) &&
        !escapes(global.getResult(), block))
      continue;
    rewriter.setInsertionPointAfter(global);
    Location loc = global.getLoc();
    auto copy = gpu::AllocOp::create(rewriter, loc, global.getType(), Type(),
                                     ValueRange{}, ValueRange{}, ValueRange{},
                                     /*hostShared=*/true);
    auto copyOp = memref::CopyOp::create(rewriter, loc, global.getResult(),
                                         copy.getMemref());
    rewriter.replaceAllUsesExcept(global.getResult(), copy.getMemref(), copyOp);
    if (!escapes(copy.getMemref(), block)) {
      rewriter.setInsertionPoint(block->getTerminator());
      emitFree(rewriter, loc, copy.getMemref());
    }
  }
}

void mlir::attn::alignWorkgroupBuffers(Operation *root, int64_t alignment) {
  Builder b(root->getContext());
  NamedAttribute align(b.getStringAttr("llvm.align"),
                       b.getI64IntegerAttr(alignment));
  root->walk([&](gpu::GPUFuncOp func) {
    for (unsigned n = 0, e = func.getNumWorkgroupAttributions(); n < e; ++n)
      func.setworkgroupAttributionAttrs(n, b.getDictionaryAttr(align));
  });
}

namespace {
struct AttnGpuManagedMemoryPass
    : attn::impl::AttnGpuManagedMemoryBase<AttnGpuManagedMemoryPass> {
  void runOnOperation() override { placeInManagedMemory(getOperation()); }
};

struct AttnGpuAlignSharedPass
    : attn::impl::AttnGpuAlignSharedBase<AttnGpuAlignSharedPass> {
  void runOnOperation() override {
    alignWorkgroupBuffers(getOperation(), /*alignment=*/16);
  }
};

} // namespace
