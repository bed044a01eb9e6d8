"""Block masks on the ring (ring-block-mask.mlir), against the reference.

usage: ring_block_mask.py ATTN_RUN MPIRUN PROGRAM WORKDIR
Writes global inputs as .npy (96 positions, a random block mask of the whole
sequence, cotangents for the gradient) and runs @block_mask under the ring
(forward and --grad) for P = 1..4 and both layouts, each with attn-run
--check (the reference on the global inputs). Prints one line per run and a
summary; exits 1 on any failure.
"""
import os
import shlex
import subprocess
import sys

import numpy as np

attn_run, mpirun, program, work = sys.argv[1], shlex.split(sys.argv[2]), sys.argv[3], sys.argv[4]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(11)
S = 96


def save(name, a):
    path = os.path.join(work, name + ".npy")
    np.save(path, a)
    return f"--arg={path}"


def uniform(*shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


ring_args = [save(n, uniform(1, 2, S, 16)) for n in "qkv"]
ring_args.append(save("bm", rng.random((1, 2, S // 8, S // 16)) < 0.6))
grad_args = ring_args + [save("do", uniform(1, 2, S, 16)), save("dlse", uniform(1, 2, S))]
runs = []
for layout in ("zigzag", "contiguous"):
    for ranks in (1, 2, 3, 4):
        ring = ["--entry=block_mask", "--sequence-parallel=ring", f"--layout={layout}"]
        runs.append((f"{layout} P={ranks}", ranks, ring + ring_args))
        runs.append((f"{layout} P={ranks} grad", ranks, ring + ["--grad"] + grad_args))
failures = 0
for name, ranks, flags in runs:
    cmd = mpirun + ["-np", str(ranks), attn_run, program, "--check"] + flags
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    ok = proc.returncode == 0
    failures += not ok
    print(f"{name}: {'ok' if ok else 'FAIL'} {proc.stdout.strip()}")
    if not ok:
        print(proc.stderr)
print(f"ring block masks: {len(runs) - failures} of {len(runs)} agree")
sys.exit(1 if failures else 0)
