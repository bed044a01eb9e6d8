//===- CpuTarget.h - the CPU the kernels are generated for ------*- C++ -*-===//
//
// What the CPU cost model and the vector code know of the target: given by
// options (a CPU name and feature list, as LLVM's -mcpu/-mattr spell them),
// never read from the machine that compiles. Tools that compile for the
// machine they run on (attn-run's JIT, attn-compile --mcpu=native) name the
// host explicitly with getHostCpu().
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_KERNEL_CPUTARGET_H
#define ATTN_KERNEL_CPUTARGET_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace mlir::attn {

struct CpuTarget {
  /// f32 lanes of the widest vector registers (16: AVX-512, 8: AVX2).
  int64_t vectorWidth = 8;
};

/// The features of CPU `cpu` (LLVM's names) with `features` applied
/// ("+avx512f,-avx512bw": on or off); an empty `cpu` is x86-64 with AVX2.
/// Fails for an unknown CPU or a malformed list.
FailureOr<llvm::StringMap<bool>> getCpuFeatures(StringRef cpu,
                                                StringRef features);

/// The target of CPU `cpu` with `features` ("+avx512f,-avx512bw"; they
/// override the CPU's own). An empty `cpu` is the default target, AVX2
/// (x86-64-v3), whatever the compiling machine. Fails for an unknown CPU.
FailureOr<CpuTarget> getCpuTarget(StringRef cpu, StringRef features);

/// The compiling machine's CPU name and its features ("+f,-g,..."), for tools
/// that generate code for the machine they run on.
std::pair<std::string, std::string> getHostCpu();

/// `requested` lanes when the option sets them (> 0), else the target's.
inline int64_t resolveVectorWidth(int64_t requested, const CpuTarget &target) {
  return requested > 0 ? requested : target.vectorWidth;
}

} // namespace mlir::attn

#endif // ATTN_KERNEL_CPUTARGET_H
