//===- CpuTarget.cpp - the CPU the kernels are generated for --------------===//

#include "attn/Kernel/CpuTarget.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/X86TargetParser.h"

using namespace mlir;
using namespace mlir::attn;

FailureOr<llvm::StringMap<bool>>
mlir::attn::getCpuFeatures(StringRef cpu, StringRef features) {
  llvm::StringMap<bool> enabled;
  if (cpu.empty()) {
    enabled["avx2"] = true;
  } else {
    if (llvm::X86::parseArchX86(cpu) == llvm::X86::CK_None)
      return failure();
    SmallVector<StringRef> cpuFeatures;
    llvm::X86::getFeaturesForCPU(cpu, cpuFeatures);
    for (StringRef f : cpuFeatures)
      enabled[f] = true;
  }
  SmallVector<StringRef> list;
  features.split(list, ',', -1, /*KeepEmpty=*/false);
  for (StringRef f : list) {
    f = f.trim();
    if (f.size() < 2 || (f.front() != '+' && f.front() != '-'))
      return failure();
    enabled[f.drop_front()] = f.front() == '+';
  }
  return enabled;
}

FailureOr<CpuTarget> mlir::attn::getCpuTarget(StringRef cpu,
                                              StringRef features) {
  FailureOr<llvm::StringMap<bool>> cpuFeatures = getCpuFeatures(cpu, features);
  if (failed(cpuFeatures))
    return failure();
  const llvm::StringMap<bool> &enabled = *cpuFeatures;
  // Turning a feature off turns off the wider ones that imply it.
  bool avx = enabled.lookup("avx") || enabled.lookup("avx2") ||
             enabled.lookup("avx512f");
  if (enabled.count("avx") && !enabled.lookup("avx"))
    avx = false;
  bool avx512 = avx && enabled.lookup("avx512f") &&
                !(enabled.count("avx2") && !enabled.lookup("avx2"));
  CpuTarget target;
  if (avx512) {
    target.vectorWidth = 16;
  } else if (avx) {
    target.vectorWidth = 8;
  } else {
    target.vectorWidth = 4;
  }
  return target;
}

std::pair<std::string, std::string> mlir::attn::getHostCpu() {
  std::string features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures())
    features += (feature.getValue() ? "+" : "-") + feature.getKey().str() + ",";
  if (!features.empty())
    features.pop_back();
  return {llvm::sys::getHostCPUName().str(), features};
}
