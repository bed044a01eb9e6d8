"""Determinism of compiled gradients: every public function of each program
is differentiated (attn-run --grad --random-args) three times through one
pipeline, twice with --threads=2 and once with --threads=1, and the
gradients must be bit-identical (no atomics; fixed-order sums).

usage: grad_determinism.py ATTN_RUN PIPELINE WORKDIR FILE...
Prints one line per function and a summary; exits 1 on any difference."""
import filecmp
import os
import re
import sys

from attn_driver import run_case

attn_run, pipeline, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
FLOAT_ARG = re.compile(r"%[\w$.]+\s*:\s*tensor<[^>]*x(?:f16|bf16|f32|f64)>")
failures, count = [], 0
for path in sys.argv[4:]:
    with open(path) as fh:
        text = fh.read()
    for name, params in re.findall(r"^\s*func\.func\s+@([\w$.]+)\s*\(([^)]*)\)", text, re.M):
        count += 1
        grads = len(FLOAT_ARG.findall(params))
        runs = []
        for run, threads in enumerate((2, 2, 1)):
            outs = [os.path.join(work, f"{name}-{run}-{g}.npy") for g in range(grads)]
            proc = run_case([attn_run, path, f"--entry={name}", f"--pipeline={pipeline}",
                             "--grad", "--random-args", "--seed=4", f"--threads={threads}"]
                            + [f"--out={o}" for o in outs])
            if proc.returncode != 0:
                sys.exit(f"{name}: attn-run failed: {proc.stderr.strip()}")
            runs.append(outs)
        same = all(filecmp.cmp(a, b, shallow=False) for other in runs[1:]
                   for a, b in zip(runs[0], other))
        print(f"{os.path.basename(path)} @{name}: {grads} gradients "
              f"{'identical' if same else 'FAIL differ'}")
        if not same:
            failures.append(name)
print(f"determinism ({pipeline}): {count - len(failures)} of {count} bit-identical")
sys.exit(1 if failures else 0)
