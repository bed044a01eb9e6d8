"""Helpers shared by the test drivers in this folder: running one program
through attn-run with .npy arguments, and the options and run of one
differential case."""
import os
import subprocess
import sys

import numpy as np


def run_program(attn_run, work, name, text, arrays, num_outs, options=(), check=False):
    """Writes `text` as NAME.mlir, runs it through attn-run --pipeline=cpu
    with `arrays` as .npy arguments, exits on failure, returns the results."""
    path = os.path.join(work, name + ".mlir")
    with open(path, "w") as fh:
        fh.write(text)
    args = []
    for n, a in enumerate(arrays):
        p = os.path.join(work, f"{name}_in{n}.npy")
        np.save(p, np.ascontiguousarray(a))
        args.append(f"--arg={p}")
    outs = [os.path.join(work, f"{name}_out{n}.npy") for n in range(num_outs)]
    cmd = [attn_run, path, "--pipeline=cpu", *options] + args + [f"--out={o}" for o in outs]
    if check:
        cmd.append("--check")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{name}: attn-run failed: {r.stdout} {r.stderr}")
    return [np.load(o) for o in outs]


def form_options(rng, pipeline):
    """Random tile options of a differential case: the attn-to-llvm ones for
    --pipeline=cpu; for gpu-emulated, query rows per block, keys per
    shared-memory tile and threads per row. The cpu draws come first, so a
    seed draws the same programs whatever the pipeline."""
    tq, tkv = rng.choice([4, 16, 32, 64]), rng.choice([16, 32, 64])
    vw = rng.choice([8, 16])
    splits = rng.choice([0, 0, 1, 3])
    if pipeline == "cpu":
        return f"--cpu-options=tile-q={tq} tile-kv={tkv} vector-width={vw} kv-splits={splits}"
    return (f"--gpu-options=block-q={tq} block-kv={tkv // 2} "
            f"row-threads={rng.choice([0, 1, 2, 4])}")


def report_case(label, proc, text):
    """Prints one differential case's line, and its program and stderr when
    it failed; returns 1 for a failure, else 0."""
    status = "ok" if proc.returncode == 0 else "FAIL"
    print(f"{label}: {status} {proc.stdout.strip()}")
    if proc.returncode == 0:
        return 0
    print(text)
    print(proc.stderr)
    return 1


def run_case(cmd):
    """attn-run for one differential case. OpenMP threads sleep at once when
    idle: the emulated GPU blocks have more threads than cores."""
    return subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, KMP_BLOCKTIME="0"))
