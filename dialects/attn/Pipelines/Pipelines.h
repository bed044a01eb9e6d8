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

/// Options of `attn-to-llvm`.
struct ToLLVMOptions : public PassPipelineOptions<ToLLVMOptions> {
  Option<int64_t> tileQ{
      *this, "tile-q",
      llvm::cl::desc("Query rows per tile (0: chosen by the cost model)"),
      llvm::cl::init(0)};
  Option<int64_t> tileKV{
      *this, "tile-kv",
      llvm::cl::desc("Keys per tile (0: chosen by the cost model)"),
      llvm::cl::init(0)};
  Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("f32 lanes of the vector code (16: AVX-512, 8: AVX2; "
                     "0: the target CPU's)"),
      llvm::cl::init(0)};
  Option<std::string> targetCpu{
      *this, "target-cpu",
      llvm::cl::desc("CPU the code is generated for, as LLVM names it "
                     "(empty: x86-64 with AVX2); the cost model follows it"),
      llvm::cl::init("")};
  Option<std::string> targetFeatures{
      *this, "target-features",
      llvm::cl::desc("Features added to or removed from the target CPU's "
                     "(+f,-g)"),
      llvm::cl::init("")};
  Option<int64_t> kvSplits{
      *this, "kv-splits",
      llvm::cl::desc("Parallel parts of the key axis, merged by lse (0: "
                     "chosen by the cost model)"),
      llvm::cl::init(0)};
  Option<bool> entmaxRecompute{
      *this, "entmax-recompute",
      llvm::cl::desc("entmax: recompute the scores on every pass instead of "
                     "keeping them (false: chosen by the cost model)"),
      llvm::cl::init(false)};
  Option<int64_t> linearChunk{
      *this, "linear-chunk",
      llvm::cl::desc("Positions per chunk of the chunked linear attention "
                     "(0: chosen by the cost model)"),
      llvm::cl::init(0)};
  Option<int64_t> scanChunk{
      *this, "scan-chunk",
      llvm::cl::desc("Keys per chunk of the prefix scan (0: chosen by the "
                     "cost model)"),
      llvm::cl::init(0)};
  Option<unsigned> threads{
      *this, "threads",
      llvm::cl::desc("OpenMP threads of the parallel loops (0: the runtime's "
                     "default, e.g. OMP_NUM_THREADS)"),
      llvm::cl::init(0)};
  Option<std::string> sequenceParallel{
      *this, "sequence-parallel",
      llvm::cl::desc("none; ring: every fused attention runs across the "
                     "ranks of MPI_COMM_WORLD (attn-ring), the function "
                     "written for one rank's shard; decode: keys and values "
                     "sharded, queries replicated (attn-ring decode=true)"),
      llvm::cl::init("none")};
  Option<std::string> layout{
      *this, "layout",
      llvm::cl::desc("With sequence-parallel=ring, the positions each rank "
                     "holds: zigzag (default) or contiguous"),
      llvm::cl::init("zigzag")};
};

/// The most OpenMP threads the `threads` option accepts.
constexpr unsigned kMaxThreadsOption = 1024;

/// Why `options` cannot be used (an out-of-range size option, named as in
/// the pipeline's option string), or empty. The passes check their own
/// options too; tools call this to name their flag.
std::string checkToLLVMOptions(const ToLLVMOptions &options);

/// The CPU pipeline: attn-fuse, the forms -- attn-sparsify (gather and
/// block-sparse), attn-linearize (chunked linear attention), attn-scan
/// (prefix scan), attn-tile (FlashAttention-style loops with compile-time
/// mask analysis) -- attn-decompose for whatever is left, then
/// bufferization, OpenMP for the parallel loops and the LLVM dialect.
void buildToLLVMPipeline(OpPassManager &pm, const ToLLVMOptions &options);

/// Options of `attn-to-nvvm`.
struct ToNVVMOptions : public PassPipelineOptions<ToNVVMOptions> {
  Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("NVIDIA architecture of the kernels (sm_80, sm_90, ...)"),
      llvm::cl::init("sm_90")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("Kernel object in the gpu.binary: isa (PTX text), bin "
                     "(cubin, through ptxas) or fatbin"),
      llvm::cl::init("isa")};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit directory, for libdevice and ptxas (empty: "
                     "$CUDA_HOME, $CUDA_ROOT, else the configured default)"),
      llvm::cl::init("")};
  Option<int64_t> blockQ{
      *this, "block-q",
      llvm::cl::desc("Query rows (threads) per block of the attention "
                     "kernels (0: chosen by the cost model)"),
      llvm::cl::init(0)};
  Option<int64_t> blockKV{
      *this, "block-kv",
      llvm::cl::desc("Keys per shared-memory tile (0: chosen by the cost "
                     "model)"),
      llvm::cl::init(0)};
  Option<int64_t> rowThreads{
      *this, "row-threads",
      llvm::cl::desc("Threads per query row of the attention kernels (0: "
                     "chosen by the cost model)"),
      llvm::cl::init(0)};
};

/// The GPU pipeline: attn-fuse, attn-gpu-tile (attention kernels with K/V
/// tiles in shared memory), the gather, linear and scan forms, attn-decompose
/// for the rest, bufferization, the remaining parallel loops mapped to GPU
/// blocks, managed memory for host buffers, then the upstream NVVM lowering
/// ending in a gpu.binary (PTX, or a cubin through ptxas). Host code is LLVM
/// dialect calling the mgpu* runtime functions.
void buildToNVVMPipeline(OpPassManager &pm, const ToNVVMOptions &options);

/// The forms of attn-to-nvvm, with each gpu.launch run on CPU threads
/// (attn-gpu-emulate: blocks in sequence, a block's threads as an OpenMP
/// team, barriers as OpenMP barriers), lowered for the CPU: a test vehicle
/// for the GPU kernels on machines without a GPU (`attn-run
/// --pipeline=gpu-emulated`).
void buildGpuEmulationPipeline(OpPassManager &pm, const ToNVVMOptions &options);

/// Registers `attn-naive-to-llvm`, `attn-to-llvm`, `attn-to-nvvm` and
/// `attn-gpu-emulation-to-llvm`.
void registerPipelines();

} // namespace mlir::attn

#endif // ATTN_PIPELINES_PIPELINES_H
