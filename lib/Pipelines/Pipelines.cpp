//===- Pipelines.cpp - attn pass pipelines --------------------------------===//

#include "attn/Pipelines/Pipelines.h"
#include "attn/Conversion/Passes.h"
#include "attn/Kernel/FormDriver.h"
#include "attn/Lowering/Passes.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <cstdlib>

using namespace mlir;

/// One-shot bufferization with identity layouts at function boundaries,
/// then memref only. `deallocate`: the ownership-based deallocation
/// pipeline (the GPU pipeline frees its buffers itself: that pipeline
/// rejects GPU launches, which declare no memory effects).
static void addBufferization(OpPassManager &pm, bool deallocate) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  if (deallocate)
    bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(attn::createAttnExpandStridedCopies());
}

/// The upstream CPU lowering of buffer code to the LLVM dialect.
static void addBuffersToLLVM(OpPassManager &pm, unsigned numThreads) {
  // The mpi ops of attn-ring that upstream cannot lower (nothing otherwise).
  pm.addPass(attn::createAttnLowerMPI());
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
  pm.addPass(attn::createAttnCheckedAllocation());
}

/// Bufferization and the upstream lowering to the LLVM dialect, shared by
/// both CPU pipelines.
static void addLoweringToLLVM(OpPassManager &pm, unsigned numThreads) {
  addBufferization(pm, /*deallocate=*/true);
  addBuffersToLLVM(pm, numThreads);
}

void mlir::attn::buildNaiveToLLVMPipeline(OpPassManager &pm,
                                          const NaiveToLLVMOptions &) {
  pm.addPass(createAttnDecompose());
  addLoweringToLLVM(pm, /*numThreads=*/0);
}

std::string mlir::attn::checkToLLVMOptions(const ToLLVMOptions &options) {
  for (auto [name, value] :
       {std::pair<StringRef, int64_t>{"tile-q", options.tileQ},
        {"tile-kv", options.tileKV},
        {"vector-width", options.vectorWidth},
        {"kv-splits", options.kvSplits},
        {"linear-chunk", options.linearChunk},
        {"scan-chunk", options.scanChunk}})
    if (std::string error = formOptionError(name, value); !error.empty())
      return error;
  if (options.sequenceParallel != "none" &&
      options.sequenceParallel != "ring" &&
      options.sequenceParallel != "decode")
    return "option sequence-parallel must be none, ring or decode, got '" +
           options.sequenceParallel + "'";
  if (options.layout != "zigzag" && options.layout != "contiguous")
    return "option layout must be zigzag or contiguous, got '" +
           options.layout + "'";
  if (options.threads > kMaxThreadsOption)
    return "option threads must be between 0 and " +
           std::to_string(kMaxThreadsOption) + ", got " +
           std::to_string(options.threads);
  return "";
}

void mlir::attn::buildToLLVMPipeline(OpPassManager &pm,
                                     const ToLLVMOptions &options) {
  pm.addPass(createAttnFuse());
  if (options.sequenceParallel != "none")
    pm.addPass(createAttnRing(AttnRingOptions{
        options.layout, /*decode=*/options.sequenceParallel == "decode"}));
  AttnTileOptions tile;
  tile.tileQ = options.tileQ;
  tile.tileKV = options.tileKV;
  tile.vectorWidth = options.vectorWidth;
  tile.targetCpu = options.targetCpu;
  tile.targetFeatures = options.targetFeatures;
  tile.kvSplits = options.kvSplits;
  tile.entmaxRecompute = options.entmaxRecompute;
  AttnSparsifyOptions sparsify;
  sparsify.tileQ = options.tileQ;
  sparsify.tileKV = options.tileKV;
  sparsify.vectorWidth = options.vectorWidth;
  sparsify.targetCpu = options.targetCpu;
  sparsify.targetFeatures = options.targetFeatures;
  sparsify.kvSplits = options.kvSplits;
  sparsify.entmaxRecompute = options.entmaxRecompute;
  pm.addPass(createAttnSparsify(sparsify));
  AttnLinearizeOptions linearize;
  linearize.chunk = options.linearChunk;
  linearize.vectorWidth = options.vectorWidth;
  linearize.targetCpu = options.targetCpu;
  linearize.targetFeatures = options.targetFeatures;
  pm.addPass(createAttnLinearize(linearize));
  AttnScanOptions scan;
  scan.chunk = options.scanChunk;
  scan.vectorWidth = options.vectorWidth;
  scan.targetCpu = options.targetCpu;
  scan.targetFeatures = options.targetFeatures;
  pm.addPass(createAttnScan(scan));
  pm.addPass(createAttnTile(tile));
  pm.addPass(createAttnDecompose());
  addLoweringToLLVM(pm, options.threads);
}

/// The CUDA toolkit (libdevice for the math functions, ptxas for cubins):
/// the option, else $CUDA_HOME or $CUDA_ROOT, else the configured default.
static std::string cudaToolkit(const std::string &option) {
  if (!option.empty())
    return option;
  for (const char *var : {"CUDA_HOME", "CUDA_ROOT", "CUDA_PATH"})
    if (const char *path = std::getenv(var); path && *path)
      return path;
  return ATTN_CUDA_ROOT;
}

/// Kernel outlining and the NVVM lowering of kernels and host code, ending
/// in a gpu.binary: upstream's gpu-lower-to-nvvm-pipeline, plus the toolkit
/// path (libdevice and ptxas need not be on PATH) and PTX ISA 8.0 (the
/// default +ptx60 aborts for sm_90).
static void addLoweringToNVVM(OpPassManager &pm,
                              const attn::ToNVVMOptions &options) {
  pm.addPass(createConvertNVGPUToNVVMPass());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(attn::createAttnGpuAlignShared());
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertNVVMToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = "+ptx80";
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  pm.addPass(createLowerAffinePass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  pm.addNestedPass<gpu::GPUModuleOp>(createStripDebugInfoPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToNVVMOps());
  pm.addNestedPass<gpu::GPUModuleOp>(LLVM::createNVVMOptimizeForTargetPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCanonicalizerPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCSEPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createReconcileUnrealizedCastsPass());

  pm.addPass(createGpuToLLVMConversionPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = options.format;
  binary.toolkitPath = cudaToolkit(options.toolkit);
  pm.addPass(createGpuModuleToBinaryPass(binary));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(attn::createAttnCheckedAllocation());
}

/// The forms of the GPU pipeline, on tensors: GPU attention kernels
/// (gpu.launch) and the parallel loop nests of the other forms.
static void addGpuForms(OpPassManager &pm, const attn::ToNVVMOptions &options) {
  using namespace mlir::attn;
  pm.addPass(createAttnFuse());
  // Prefix attention first: its O(S) scan beats any O(S^2) kernel.
  pm.addPass(createAttnScan());
  AttnGpuTileOptions gpuTile;
  gpuTile.blockQ = options.blockQ;
  gpuTile.blockKV = options.blockKV;
  gpuTile.rowThreads = options.rowThreads;
  pm.addPass(createAttnGpuTile(gpuTile));
  // What attn-gpu-tile leaves: csr/indices attention (gather form) and
  // select_topk, and linear aggregates; their parallel loops (and the
  // scan's) become GPU blocks below.
  pm.addPass(createAttnSparsify());
  pm.addPass(createAttnLinearize());
  pm.addPass(createAttnDecompose());
}

void mlir::attn::buildGpuEmulationPipeline(OpPassManager &pm,
                                           const ToNVVMOptions &options) {
  addGpuForms(pm, options);
  // Test runs: no deallocation (the ownership-based pipeline rejects
  // gpu.launch; the emulated program's buffers live until exit).
  addBufferization(pm, /*deallocate=*/false);
  pm.addPass(createAttnGpuEmulate());
  addBuffersToLLVM(pm, /*numThreads=*/0);
}

void mlir::attn::buildToNVVMPipeline(OpPassManager &pm,
                                     const ToNVVMOptions &options) {
  addGpuForms(pm, options);
  // attn-gpu-managed-memory frees what does not escape.
  addBufferization(pm, /*deallocate=*/false);
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addNestedPass<func::FuncOp>(createGpuMapParallelLoopsPass());
  pm.addNestedPass<func::FuncOp>(createConvertParallelLoopToGpuPass());
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(createAttnGpuManagedMemory());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createCanonicalizerPass());

  addLoweringToNVVM(pm, options);
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
  PassPipelineRegistration<ToNVVMOptions>(
      "attn-to-nvvm",
      "GPU lowering: fuse, GPU attention kernels, NVVM, gpu.binary",
      buildToNVVMPipeline);
  PassPipelineRegistration<ToNVVMOptions>(
      "attn-gpu-emulation-to-llvm",
      "The GPU forms with each kernel run on CPU threads (OpenMP): checks "
      "the GPU kernels' logic without a GPU",
      buildGpuEmulationPipeline);
}
