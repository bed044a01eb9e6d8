#!/usr/bin/env bash
# The whole test suite: build if needed, then every lit test.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
build=${ATTN_BUILD_DIR:-$root/build}
log=$(mktemp)
status=0
/usr/lib/llvm-22/bin/lit -sv "$build/test" 2>&1 | tee "$log" || status=$?
count() { sed -n "s/^ *$1 *: *\([0-9]*\).*/\1/p" "$log" | head -n 1; }
passed=$(count Passed)
failed=$(count Failed)
unsupported=$(count Unsupported)
rm -f "$log"
echo "${passed:-0} passed, ${failed:-0} failed, ${unsupported:-0} skipped"
if [ "${passed:-0}" -eq 0 ]; then
  echo "test.sh: no test ran" >&2
  exit 1
fi
exit $status
