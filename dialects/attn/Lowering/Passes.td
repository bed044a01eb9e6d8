//===- Passes.td - passes over lowered IR (no attn ops) ----*- tablegen -*-===//
#ifndef ATTN_LOWERING_PASSES_TD
#define ATTN_LOWERING_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnExpandStridedCopies : Pass<"attn-expand-strided-copies"> {
  let summary = "Turn copies between strided buffers into linalg.copy";
  let description = [{
    `memref.copy` between buffers with non-identity layouts lowers to a call
    of MLIR's `memrefCopy` runtime function (libmlir_c_runner_utils); this
    pass rewrites such copies into `linalg.copy`, which becomes loops (CPU)
    or a kernel (GPU), so that ahead-of-time objects link without MLIR's
    runtime libraries. Contiguous copies stay (they become memcpy).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect"];
}

def AttnGpuManagedMemory : Pass<"attn-gpu-managed-memory"> {
  let summary = "Allocate the buffers of a GPU program in managed memory";
  let description = [{
    Rewrites host-side `memref.alloc`/`memref.dealloc` into
    `gpu.alloc host_shared`/`gpu.dealloc` and copies `memref.get_global`
    constants that kernels read into such allocations, so that every buffer
    a kernel touches is addressable on the device and on the host (CUDA
    managed memory): results returned to the caller included. Buffers that
    do not outlive their block (not returned, yielded or stored) are freed at
    its end; kernel launches are synchronous. This replaces the
    ownership-based deallocation pipeline, which does not accept GPU launches
    (they declare no memory effects).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect"];
}

def AttnGpuAlignShared : Pass<"attn-gpu-align-shared"> {
  let summary = "Align the shared-memory buffers of GPU kernels to 16 bytes";
  let description = [{
    Sets `llvm.align = 16` on every workgroup attribution of every
    `gpu.func` (after kernel outlining), so that the 16-byte vector loads
    attn-gpu-tile emits from its staged K/V tiles are legal: one 128-bit
    shared load per four floats.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def AttnGpuEmulate : Pass<"attn-gpu-emulate", "::mlir::ModuleOp"> {
  let summary = "Run gpu.launch kernels on CPU threads (a test vehicle)";
  let description = [{
    Rewrites each (synchronous, single-block) `gpu.launch` on buffers into a
    sequential loop over its blocks, each block one `omp.parallel` region
    with one CPU thread per GPU thread: `omp_get_thread_num` gives the
    thread ids, workgroup attributions become buffers shared by the
    region's threads, private ones per-thread buffers, and `gpu.barrier`
    becomes `omp.barrier`. The kernels' logic (tiling, staging between
    barriers, masks, online softmax) then runs and can be checked on a
    machine without a GPU: `attn-run --pipeline=gpu-emulated`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect", "::mlir::omp::OpenMPDialect",
    "::mlir::scf::SCFDialect"
  ];
}

def AttnCheckedAllocation
    : Pass<"attn-checked-allocation", "::mlir::ModuleOp"> {
  let summary = "Make the heap allocations of lowered host code checked";
  let description = [{
    On LLVM-dialect host code (after the lowering to LLVM): redirects every
    `llvm.call @malloc` of the module's own functions (not those of a
    `gpu.module`) to a private function, defined in the module, that calls
    `malloc` and, when it returns null for a non-zero size, prints
    `attn: out of memory allocating N bytes` on stderr (`dprintf`) and ends
    the process with exit status 3 (`_exit`). Buffers stay `malloc`'ed
    (callers free results with `free`), and objects stay self-contained:
    the check needs only libc.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def AttnLowerMPI : Pass<"attn-lower-mpi", "::mlir::ModuleOp"> {
  let summary = "Lower the mpi ops that LLVM 22 cannot lower to Open MPI calls";
  let description = [{
    LLVM 22's MPIToLLVM conversion lowers `mpi.init`, `finalize`,
    `comm_world`, `comm_rank`, `comm_split`, `send`, `recv` and `allreduce`;
    this pass lowers the rest that sequence parallelism needs, against the
    Open MPI ABI (MPI is Open MPI from Debian): `mpi.comm_size`
    (`MPI_Comm_size`), `mpi.isend` / `mpi.irecv` (`MPI_Isend` /
    `MPI_Irecv`, the request an `MPI_Request`, a pointer in Open MPI),
    `mpi.wait` (`MPI_Wait` with `MPI_STATUS_IGNORE`), `mpi.barrier`
    (`MPI_Barrier`) and `mpi.allreduce` (`MPI_Allreduce`: upstream's
    lowering names Open MPI's reductions `ompi_mpi_max`, ... where Open MPI
    exports `ompi_mpi_op_max`, so the JIT or the linker cannot find them). Buffers are contiguous memrefs of any rank (count: the
    number of elements; f16 and bf16 travel as 16-bit integers). The
    communicator is upstream's i64 (the address of `ompi_mpi_comm_world`),
    cast to the pointer Open MPI takes. The module is marked
    `#dlti.map<"MPI:Implementation" = "OpenMPI">` so that the upstream
    conversion (`convert-to-llvm`) lowers the other ops for Open MPI too; a
    module that names another implementation is an error.
  }];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect", "::mlir::DLTIDialect"
  ];
}

#endif // ATTN_LOWERING_PASSES_TD
