#!/usr/bin/env bash
# The main job: build if needed, then compile and run the causal attention
# example end to end through attn-run, checked against the reference
# interpreter and timed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
build=${ATTN_BUILD_DIR:-$root/build}
example=${1:-$root/examples/causal.mlir}
echo "attn-run $example --pipeline=cpu --random-args --check --bench=5"
"$build/bin/attn-run" "$example" --pipeline=cpu --random-args --seed=1 \
  --check --bench=5
