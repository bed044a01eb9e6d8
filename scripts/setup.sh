#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks (apt-get), then configures and
# builds attn incrementally in ./build (or $ATTN_BUILD_DIR).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ATTN_BUILD_DIR:-$root/build}

packages=(cmake ninja-build ccache clang-22 lld-22 llvm-22-dev llvm-22-tools libomp-22-dev
          libmlir-22-dev mlir-22-tools python3-numpy
          libclang-rt-22-dev libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit >/dev/null
fi
targets=(attn-opt attn-translate attn-run attn-compile attn-aot-run attn-doc)
# The fuzz target exists where the compiler is clang (libFuzzer).
if ninja -C "$build" -t query attn-fuzz >/dev/null 2>&1; then
  targets+=(attn-fuzz)
fi
# The CUDA runtime wrappers exist where the toolkit's cuda.h does.
if ninja -C "$build" -t query attn_cuda_runtime >/dev/null 2>&1; then
  targets+=(attn_cuda_runtime)
fi
ninja -C "$build" "${targets[@]}"
