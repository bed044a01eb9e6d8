//===- GpuEmulate.h - gpu.launch on CPU threads -----------------*- C++ -*-===//
#ifndef ATTN_LOWERING_GPUEMULATE_H
#define ATTN_LOWERING_GPUEMULATE_H

#include "mlir/IR/BuiltinOps.h"

namespace mlir::attn {

/// Runs every gpu.launch under `module` on CPU threads (a test vehicle):
/// blocks in sequence, each an omp.parallel team of one thread per GPU
/// thread, gpu.barrier as omp.barrier, xor shuffles through an exchange
/// buffer. Fails on async launches, clusters, dynamic shared memory or
/// multi-block kernel bodies.
LogicalResult emulateGpuLaunches(ModuleOp module);

} // namespace mlir::attn

#endif // ATTN_LOWERING_GPUEMULATE_H
