"""Differentiates every public function of the given programs through one
pipeline: attn-run --grad --random-args --check (attn-grad's @F_grad,
compiled, against the reference interpreter's own reverse mode in f64).

usage: grad_programs.py ATTN_RUN PIPELINE SEED FILE...

Prints one line per function and a summary; exits 1 if any disagrees."""
import re
import sys

from attn_driver import run_case

attn_run, pipeline, seed = sys.argv[1], sys.argv[2], sys.argv[3]
failures, count = [], 0
for path in sys.argv[4:]:
    with open(path) as fh:
        text = fh.read()
    names = re.findall(r"^\s*func\.func\s+@([\w$.]+)\s*\(", text, re.M)
    for name in names:
        count += 1
        proc = run_case([attn_run, path, f"--entry={name}", f"--pipeline={pipeline}",
                         "--grad", "--random-args", f"--seed={seed}", "--check"])
        status = "ok" if proc.returncode == 0 else "FAIL"
        short = path.split("/")[-1]
        print(f"{short} @{name}: {status} {proc.stdout.strip()}")
        if proc.returncode != 0:
            failures.append(f"{short} @{name}")
            print(proc.stderr.strip())
print(f"gradients ({pipeline}): {count - len(failures)} of {count} agree")
sys.exit(1 if failures else 0)
