#!/usr/bin/env bash
# The sanitizer lane (docs/testing.md): attn built with AddressSanitizer and
# UndefinedBehaviorSanitizer (and the fuzzer's coverage instrumentation) in
# ./build-asan (or $ATTN_ASAN_BUILD_DIR), then the lit tests it can afford:
# parsing, verification, the graph and form passes, the reference and the
# tools' error paths, plus a longer fuzzing run. Developers run it before a
# submission; CI does not (it would take most of CI's time).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ATTN_ASAN_BUILD_DIR:-$root/build-asan}
fuzz_seconds=${ATTN_FUZZ_SECONDS:-600}

flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fsanitize=fuzzer-no-link"
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit >/dev/null
fi
targets="attn-opt attn-translate attn-run attn-compile attn-aot-run attn-fuzz attn-doc"
# The CUDA runtime wrappers exist where the toolkit's headers do.
if ninja -C "$build" -t query attn_cuda_runtime >/dev/null 2>&1; then
  targets="$targets attn_cuda_runtime"
fi
ninja -C "$build" $targets

# libMLIR is not instrumented: its containers' annotations are unknown to
# ASan, so container-overflow reports would be false positives; leaks of the
# JIT's process-lifetime allocations are not ours to report. Nor is manual
# poisoning sound across that boundary (allow_user_poisoning=0): llvm's
# BumpPtrAllocator is header-inline, so when our instrumented copy starts a
# slab of a StorageUniquer it poisons the whole slab, and libMLIR's
# uninstrumented copy then carves attribute storage from it without
# unpoisoning; reading that valid storage from our code (MaskOp::parse on
# test/IR/design-examples.mlir) was reported as use-after-poison
# (docs/testing.md).
export ASAN_OPTIONS=detect_container_overflow=0:detect_leaks=0:allow_user_poisoning=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Tests that limit the address space (out of memory) mark themselves
# UNSUPPORTED: asan.
export ATTN_SANITIZER_LANE=1
/usr/lib/llvm-22/bin/lit -s "$build/test/IR" "$build/test/Transforms" \
  "$build/test/Conversion" "$build/test/Reference" "$build/test/tools"

corpus=$(mktemp -d)
cp "$root"/test/Pipelines/variants/*.mlir "$root"/examples/*.mlir "$corpus"/
"$build/bin/attn-fuzz" "$corpus" -max_total_time="$fuzz_seconds" -timeout=60 \
  -max_len=8192 -rss_limit_mb=8192
echo "sanitizer lane: no report"
