"""Ring attention (attn-ring) against the reference on the global inputs.

usage: ring_differential.py ATTN_RUN MPIRUN WORKDIR COUNT SEED [grad]
Draws COUNT random programs that the ring distributes -- softmax with every
position pattern (single, intersected, in unions), #attn.segments, predicate
and score_mod regions (which see global positions), sinks, lse, GQA,
f16/bf16, random tile options -- each written for one rank's shard, and runs
each under `MPIRUN -np P attn-run --sequence-parallel=ring --check` with P in
1..4 and a random layout. MPIRUN is one string (the lit substitution).
With `grad`, runs the gradient @F_grad instead (--grad, against the
reference's reverse mode). Any disagreement fails the test with the program.
"""
import os
import random
import shlex
import subprocess
import sys

from attn_driver import form_options, report_case
from random_programs import PREDICATES, Draw, attention_function, operand_types

attn_run, mpirun, work = sys.argv[1], shlex.split(sys.argv[2]), sys.argv[3]
count, seed = int(sys.argv[4]), int(sys.argv[5])
grad = sys.argv[6:] == ["grad"]
os.makedirs(work, exist_ok=True)
rng = random.Random(seed)
draw = Draw(rng)


def program(n):
    """A program for shards of n positions."""
    b = rng.randint(1, 2)
    hkv = rng.choice([1, 2])
    hq = hkv * rng.choice([1, 2, 3])
    d, dv = rng.choice([8, 16, 24]), rng.choice([8, 12, 16])
    elt = rng.choice(["f32", "f32", "f16", "bf16"])
    pats = draw.patterns(hq)
    segments = rng.random() < 0.25
    use_sinks = rng.random() < 0.3
    use_lse = rng.random() < 0.5
    predicate = rng.choice(PREDICATES) if rng.random() < 0.3 else None
    score_mod = rng.random() < 0.2
    qt, kt, vt, ot = operand_types(b, hq, hkv, n, n, d, dv, elt)
    lt = f"tensor<{b}x{hq}x{n}xf32>"
    st = f"tensor<{b}x{n}xi32>"
    extra, operands = [], ""
    if segments:
        extra = [f"%qs: {st}", f"%ks: {st}"]
        pats = ["#attn.segments"] + pats
        operands = f" (%qs, %ks : {st}, {st})"
    return attention_function((qt, kt, vt, ot, lt), "softmax", pats, hq, use_sinks, use_lse,
                              predicate, score_mod, extra, operands)


failures = 0
for case in range(count):
    layout = rng.choice(["zigzag", "contiguous"])
    ranks = rng.randint(1, 4)
    # Zigzag cuts each shard into two chunks.
    n = 2 * rng.randint(1, 24) if layout == "zigzag" else rng.randint(1, 45)
    text = program(n)
    path = os.path.join(work, f"case{case}.mlir")
    with open(path, "w") as f:
        f.write(text)
    options = form_options(rng, "cpu")
    cmd = mpirun + ["-np", str(ranks), attn_run, path,
                    "--sequence-parallel=ring", f"--layout={layout}",
                    "--random-args", f"--seed={case}", "--check", options]
    if grad:
        cmd.append("--grad")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    failures += report_case(f"case{case} P={ranks} {layout} n={n} {options}", proc, text)
print(f"ring differential{' (gradients)' if grad else ''}: "
      f"{count - failures} of {count} agree")
sys.exit(1 if failures else 0)
