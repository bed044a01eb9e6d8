//===- Pipelines.cpp - attn pass pipelines --------------------------------===//

#include "attn/Pipelines/Pipelines.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

/// Bufferization and the upstream lowering to the LLVM dialect, shared by
/// both pipelines.
static void addLoweringToLLVM(OpPassManager &pm, unsigned numThreads) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());

  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  // bf16 <-> f32 conversions become integer ops: no compiler-rt libcalls.
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  ConvertSCFToOpenMPPassOptions openmp;
  openmp.numThreads = numThreads;
  // scf-to-openmp wraps each parallel body in a memref.alloca_scope (so the
  // per-tile stack buffers are released every iteration); that single-block
  // op must be lowered by finalize-memref-to-llvm before scf-to-cf splits the
  // loops inside it into blocks.
  pm.addPass(createConvertSCFToOpenMPPass(openmp));
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createSCFToControlFlowPass());
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  // The tiled form's 16x16 f32 transposes become AVX-512 shuffles.
  vectorToLLVM.vectorTransposeLowering =
      vector::VectorTransposeLowering::Shuffle16x16;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void mlir::attn::buildNaiveToLLVMPipeline(OpPassManager &pm,
                                          const NaiveToLLVMOptions &) {
  pm.addPass(createAttnDecompose());
  addLoweringToLLVM(pm, /*numThreads=*/0);
}

void mlir::attn::buildToLLVMPipeline(OpPassManager &pm,
                                     const ToLLVMOptions &options) {
  pm.addPass(createAttnFuse());
  AttnTileOptions tile;
  tile.tileQ = options.tileQ;
  tile.tileKV = options.tileKV;
  tile.vectorWidth = options.vectorWidth;
  tile.kvSplits = options.kvSplits;
  AttnSparsifyOptions sparsify;
  sparsify.tileQ = options.tileQ;
  sparsify.tileKV = options.tileKV;
  sparsify.vectorWidth = options.vectorWidth;
  sparsify.kvSplits = options.kvSplits;
  pm.addPass(createAttnSparsify(sparsify));
  AttnLinearizeOptions linearize;
  linearize.chunk = options.linearChunk;
  linearize.vectorWidth = options.vectorWidth;
  pm.addPass(createAttnLinearize(linearize));
  AttnScanOptions scan;
  scan.chunk = options.scanChunk;
  scan.vectorWidth = options.vectorWidth;
  pm.addPass(createAttnScan(scan));
  pm.addPass(createAttnTile(tile));
  pm.addPass(createAttnDecompose());
  addLoweringToLLVM(pm, options.threads);
}

void mlir::attn::registerPipelines() {
  PassPipelineRegistration<NaiveToLLVMOptions>(
      "attn-naive-to-llvm",
      "Naive CPU lowering: attn-decompose, bufferize, lower to LLVM dialect",
      buildNaiveToLLVMPipeline);
  PassPipelineRegistration<ToLLVMOptions>(
      "attn-to-llvm",
      "CPU lowering: fuse, analyse masks, tile, vectorise, OpenMP, LLVM",
      buildToLLVMPipeline);
}
