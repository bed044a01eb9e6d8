//===- CheckedAllocation.h - checked malloc in lowered code -*- C++ -*-===//
#ifndef ATTN_LOWERING_CHECKEDALLOCATION_H
#define ATTN_LOWERING_CHECKEDALLOCATION_H

#include "mlir/IR/BuiltinOps.h"

namespace mlir::attn {

/// The exit status of compiled code whose heap allocation failed.
constexpr int kOutOfMemoryExitStatus = 3;

/// Redirects the `llvm.call @malloc` of `module`'s own functions to a
/// private checked wrapper defined in `module` (attn-checked-allocation).
void checkHeapAllocations(ModuleOp module);

} // namespace mlir::attn

#endif // ATTN_LOWERING_CHECKEDALLOCATION_H
