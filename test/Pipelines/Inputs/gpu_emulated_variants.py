"""The GPU forms (attn-to-nvvm's kernels, run on CPU threads by
`attn-run --pipeline=gpu-emulated`) on every mechanism test program (test/Pipelines/variants) and every
example: each `attn-run ... --pipeline=cpu ...` RUN line of a variant file is
rerun with --pipeline=gpu-emulated (same entry, seed and arguments), and each
example runs with --random-args --check. Exit status 0 everywhere means the
results agree with the reference interpreter.

usage: gpu_emulated_variants.py ATTN_RUN FILE...
"""
import os
import re
import shlex
import sys

from attn_driver import run_case

attn_run = sys.argv[1]
runs = []
for path in sys.argv[2:]:
    lines = [l for l in open(path) if re.match(r"\s*//\s*RUN:\s*attn-run\s", l)
             and "--pipeline=cpu" in l]
    if not lines and "/examples/" in path:
        runs.append((path, [path, "--random-args", "--check"]))
    for line in lines:
        cmd = line.split("RUN:", 1)[1].split("|")[0]
        args = [a for a in shlex.split(cmd)[1:] if not a.startswith("--cpu-options")]
        args = [path if a == "%s" else a.replace("--pipeline=cpu", "--pipeline=gpu-emulated")
                for a in args]
        runs.append((path, args))
ok = 0
for path, args in runs:
    r = run_case([attn_run] + args)
    name = os.path.basename(path)
    if r.returncode == 0:
        ok += 1
    else:
        print(f"{name} {' '.join(args[1:])}: FAIL {r.stdout.strip()} {r.stderr.strip()[:300]}")
print(f"gpu-emulated: {ok} of {len(runs)} agree")
