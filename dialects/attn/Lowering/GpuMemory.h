//===- GpuMemory.h - buffers of GPU programs --------------------*- C++ -*-===//
#ifndef ATTN_LOWERING_GPUMEMORY_H
#define ATTN_LOWERING_GPUMEMORY_H

#include "mlir/IR/Operation.h"

namespace mlir::attn {

/// Host-side memref.alloc/dealloc become gpu.alloc host_shared (CUDA managed
/// memory) and async gpu.dealloc; buffers that cannot escape their block
/// (conservatively: not returned, yielded, passed to calls or ops returning
/// memrefs, or stored, through views too) are freed at its end; constant
/// globals that kernels read, or that are returned, are copied into managed
/// memory.
void placeInManagedMemory(Operation *root);

/// Sets `llvm.align` on every workgroup attribution of the gpu.funcs under
/// `root` (after kernel outlining).
void alignWorkgroupBuffers(Operation *root, int64_t alignment);

} // namespace mlir::attn

#endif // ATTN_LOWERING_GPUMEMORY_H
