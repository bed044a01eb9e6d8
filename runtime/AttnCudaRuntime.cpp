//===- AttnCudaRuntime.cpp - mgpu* launch wrappers on the CUDA driver -----===//
//
// The host code of attn-to-nvvm (gpu-to-llvm, and the gpu.binary
// translation) calls these mgpu* functions to load the embedded kernels,
// launch them and manage memory. Debian's MLIR ships no CUDA runtime
// wrappers library, and programs built with attn-compile must link without
// libMLIR or libLLVM, so this small static library implements them on the
// CUDA driver API (libcuda). Every allocation is managed memory
// (cuMemAllocManaged): the host code and the caller read the results
// directly. Errors are reported on stderr and abort: a failed launch must
// never leave a silently wrong result.
//
//===----------------------------------------------------------------------===//

#include "cuda.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

void check(CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return;
  const char *name = nullptr;
  cuGetErrorName(result, &name);
  std::fprintf(stderr, "attn cuda runtime: %s failed: %s\n", what,
               name ? name : "unknown error");
  std::abort();
}

/// The primary context of device 0, current for the scope.
class ScopedContext {
public:
  ScopedContext() {
    static CUcontext context = [] {
      check(cuInit(0), "cuInit");
      CUdevice device;
      check(cuDeviceGet(&device, 0), "cuDeviceGet");
      CUcontext ctx;
      check(cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain");
      return ctx;
    }();
    check(cuCtxPushCurrent(context), "cuCtxPushCurrent");
  }
  ~ScopedContext() { cuCtxPopCurrent(nullptr); }
};

} // namespace

extern "C" {

CUmodule mgpuModuleLoad(void *data, size_t /*size*/) {
  ScopedContext scope;
  CUmodule module = nullptr;
  check(cuModuleLoadData(&module, data), "cuModuleLoadData");
  return module;
}

/// PTX (format=isa) is compiled by the driver when the module is loaded.
CUmodule mgpuModuleLoadJIT(void *data, int optLevel) {
  ScopedContext scope;
  CUmodule module = nullptr;
  CUjit_option options[] = {CU_JIT_OPTIMIZATION_LEVEL};
  void *values[] = {reinterpret_cast<void *>(static_cast<intptr_t>(optLevel))};
  check(cuModuleLoadDataEx(&module, data, 1, options, values),
        "cuModuleLoadDataEx");
  return module;
}

void mgpuModuleUnload(CUmodule module) {
  ScopedContext scope;
  check(cuModuleUnload(module), "cuModuleUnload");
}

CUfunction mgpuModuleGetFunction(CUmodule module, const char *name) {
  ScopedContext scope;
  CUfunction function = nullptr;
  check(cuModuleGetFunction(&function, module, name), "cuModuleGetFunction");
  return function;
}

void mgpuLaunchKernel(CUfunction function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, CUstream stream,
                      void **params, void **extra, size_t /*paramsCount*/) {
  ScopedContext scope;
  // An empty grid (a zero-sized dynamic dimension) launches nothing.
  if (gridX == 0 || gridY == 0 || gridZ == 0)
    return;
  check(cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                       smem, stream, params, extra),
        "cuLaunchKernel");
}

CUstream mgpuStreamCreate() {
  ScopedContext scope;
  CUstream stream = nullptr;
  check(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  return stream;
}

void mgpuStreamDestroy(CUstream stream) {
  ScopedContext scope;
  check(cuStreamDestroy(stream), "cuStreamDestroy");
}

void mgpuStreamSynchronize(CUstream stream) {
  ScopedContext scope;
  check(cuStreamSynchronize(stream), "cuStreamSynchronize");
}

void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  ScopedContext scope;
  check(cuStreamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
}

CUevent mgpuEventCreate() {
  ScopedContext scope;
  CUevent event = nullptr;
  check(cuEventCreate(&event, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
  return event;
}

void mgpuEventDestroy(CUevent event) {
  ScopedContext scope;
  check(cuEventDestroy(event), "cuEventDestroy");
}

void mgpuEventSynchronize(CUevent event) {
  ScopedContext scope;
  check(cuEventSynchronize(event), "cuEventSynchronize");
}

void mgpuEventRecord(CUevent event, CUstream stream) {
  ScopedContext scope;
  check(cuEventRecord(event, stream), "cuEventRecord");
}

/// Managed memory: buffers cross between host code, kernels and the
/// caller. `onDevice`: the kernels write it first (results, scratch).
static void *allocateManaged(uint64_t sizeBytes, bool onDevice) {
  ScopedContext scope;
  CUdeviceptr ptr = 0;
  if (sizeBytes == 0)
    sizeBytes = 1;
  check(cuMemAllocManaged(&ptr, sizeBytes, CU_MEM_ATTACH_GLOBAL),
        "cuMemAllocManaged");
  if (onDevice) {
    // Mapped on the GPU now rather than by one page fault per 64 KiB on
    // first touch. Hints only: without them the results are the same.
    CUmemLocation device = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
    (void)cuMemAdvise(ptr, sizeBytes, CU_MEM_ADVISE_SET_PREFERRED_LOCATION,
                      device);
    (void)cuMemPrefetchAsync(ptr, sizeBytes, device, 0, nullptr);
  }
  return reinterpret_cast<void *>(ptr);
}

/// Managed memory whatever `isHostShared` says (see allocateManaged).
void *mgpuMemAlloc(uint64_t sizeBytes, CUstream /*stream*/,
                   bool /*isHostShared*/) {
  return allocateManaged(sizeBytes, /*onDevice=*/true);
}

void mgpuMemFree(void *ptr, CUstream /*stream*/) {
  ScopedContext scope;
  check(cuMemFree(reinterpret_cast<CUdeviceptr>(ptr)), "cuMemFree");
}

void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, CUstream stream) {
  ScopedContext scope;
  check(cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                      reinterpret_cast<CUdeviceptr>(src), sizeBytes, stream),
        "cuMemcpyAsync");
}

void mgpuMemset32(void *dst, unsigned value, size_t count, CUstream stream) {
  ScopedContext scope;
  check(cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                         stream),
        "cuMemsetD32Async");
}

void mgpuMemset16(void *dst, unsigned short value, size_t count,
                  CUstream stream) {
  ScopedContext scope;
  check(cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                         stream),
        "cuMemsetD16Async");
}

/// For callers of attn-compile output: managed buffers for arguments, freed
/// with attnCudaFree; attnCudaSynchronize waits for the device.
void *attnCudaAlloc(uint64_t sizeBytes) {
  return allocateManaged(sizeBytes, /*onDevice=*/false); // the caller fills it
}
void attnCudaFree(void *ptr) { mgpuMemFree(ptr, nullptr); }
void attnCudaSynchronize() {
  ScopedContext scope;
  check(cuCtxSynchronize(), "cuCtxSynchronize");
}

} // extern "C"
