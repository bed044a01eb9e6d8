"""Runs every function of FILE under the ring with P = 1..4 ranks and both
layouts (attn-run --sequence-parallel=ring --random-args --check), or with
MODE decode, decoding across P = 1..4 ranks (--sequence-parallel=decode), or
with MODE grad, the gradient @F_grad on the ring (--grad; P = 1..4 zigzag,
P = 2, 3 contiguous).

usage: ring_sweep.py ATTN_RUN MPIRUN FILE [MODE]
MPIRUN is one string (the lit substitution %mpirun). Prints one line per run
and a summary; exits 1 if any run disagrees with the reference.
"""
import re
import shlex
import subprocess
import sys

attn_run, mpirun, path = sys.argv[1], shlex.split(sys.argv[2]), sys.argv[3]
mode = sys.argv[4] if len(sys.argv) > 4 else "ring"
layouts = ("contiguous",) if mode == "decode" else ("zigzag", "contiguous")
entries = re.findall(r"func\.func @(\w+)", open(path).read())
runs = failures = 0
for entry in entries:
    for layout in layouts:
        sizes = (2, 3) if mode == "grad" and layout == "contiguous" else (1, 2, 3, 4)
        for ranks in sizes:
            cmd = mpirun + ["-np", str(ranks), attn_run, path, f"--entry={entry}",
                            "--sequence-parallel=" + ("decode" if mode == "decode" else "ring"),
                            "--random-args", "--check"]
            if mode != "decode":
                cmd.append(f"--layout={layout}")
            if mode == "grad":
                cmd.append("--grad")
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            runs += 1
            ok = proc.returncode == 0
            failures += not ok
            print(f"{entry} {layout} P={ranks}: {'ok' if ok else 'FAIL'} "
                  f"{proc.stdout.strip()}")
            if not ok:
                print(proc.stderr)
print(f"ring sweep: {runs - failures} of {runs} agree")
sys.exit(1 if failures else 0)
