//===- Pipelines.h - attn pass pipelines ------------------------*- C++ -*-===//
#ifndef ATTN_PIPELINES_PIPELINES_H
#define ATTN_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::attn {

/// Options of `attn-naive-to-llvm`.
struct NaiveToLLVMOptions : public PassPipelineOptions<NaiveToLLVMOptions> {};

/// attn-decompose, then bufferization and the upstream CPU lowering to the
/// LLVM dialect. Runs on a builtin.module.
void buildNaiveToLLVMPipeline(OpPassManager &pm,
                              const NaiveToLLVMOptions &options);

/// Registers `attn-naive-to-llvm` and `attn-to-llvm` (which, until the tiled
/// form lands, is the naive pipeline).
void registerPipelines();

} // namespace mlir::attn

#endif // ATTN_PIPELINES_PIPELINES_H
