#!/usr/bin/env bash
# The GPU device check (docs/gpu.md).
#
#   scripts/device-check.sh prepare   here: build attn, compile every device
#                                     case ahead of time into build/device
#   scripts/device-check.sh run       on the GPU machine (CUDA driver, a C++
#                                     compiler, PyTorch; no LLVM): build the
#                                     runners, check every result against a
#                                     float64 PyTorch reference, benchmark
#                                     against SDPA (flash, cuDNN) and
#                                     FlexAttention; results in $OUT (or
#                                     build/device/out)
#
# With the `device` tool: prepare here, then
#   run(command="bash scripts/device-check.sh run", carry=["build/device"])
# and commit $OUT/results.md as docs/gpu-results.md (./bench/run.py
# --docs-only then shows it in docs/benchmarks.md).
# `--target cpu` (prepare) rehearses the whole check on this machine with
# CPU objects and a NumPy reference.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
step=${1:?usage: device-check.sh prepare|run [options]}
shift
dir=${ATTN_DEVICE_DIR:-$root/build/device}
# A Python with NumPy (and, to run on a GPU, PyTorch): the first that has them.
pick_python() {
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c "import $1" 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo python3
}
case "$step" in
  prepare)
    "$root/scripts/setup.sh"
    rm -rf "$dir"
    "$(pick_python numpy)" "$root/scripts/device_check.py" prepare --dir "$dir" "$@"
    du -sh "$dir"
    ;;
  run)
    out=${OUT:-$dir/out}
    py=$(pick_python torch)
    [ "$(cat "$dir/target")" = cpu ] && py=$(pick_python numpy)
    "$py" "$root/scripts/device_check.py" run --dir "$dir" --out "$out" "$@"
    ;;
  *)
    echo "device-check.sh: unknown step '$step' (prepare or run)" >&2
    exit 2
    ;;
esac
