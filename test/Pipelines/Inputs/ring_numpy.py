"""The ring against NumPy on global .npy inputs, with dynamic sequence sizes.

usage: ring_numpy.py ATTN_RUN MPIRUN PROGRAM WORKDIR
PROGRAM's @dynamic is causal attention with an lse result over
tensor<1x2x?x16xf32>. Global Q, K, V of 120 positions are written as .npy;
for P = 1..5 and both layouts (120 splits into 2P chunks for each), rank 0's
gathered output and lse (in natural position order) must match causal
softmax attention computed here in float64.
"""
import os
import shlex
import subprocess
import sys

import numpy as np

attn_run, mpirun, program, work = sys.argv[1], shlex.split(sys.argv[2]), sys.argv[3], sys.argv[4]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(7)
q, k, v = (rng.uniform(-1, 1, (1, 2, 120, 16)).astype(np.float32) for _ in range(3))
paths = []
for name, a in zip("qkv", (q, k, v)):
    paths.append(os.path.join(work, name + ".npy"))
    np.save(paths[-1], a)
s = q.astype(np.float64) @ k.astype(np.float64).transpose(0, 1, 3, 2) / 4.0
s[..., np.triu_indices(120, 1)[0], np.triu_indices(120, 1)[1]] = -np.inf
m = s.max(-1, keepdims=True)
p = np.exp(s - m)
l = p.sum(-1, keepdims=True)
expected_o = (p / l) @ v.astype(np.float64)
expected_lse = (m + np.log(l))[..., 0]
worst = 0.0
for layout in ("zigzag", "contiguous"):
    for ranks in (1, 2, 3, 4, 5):
        outs = [os.path.join(work, f"{layout}{ranks}_{n}.npy") for n in ("o", "lse")]
        cmd = mpirun + ["-np", str(ranks), attn_run, program, "--entry=dynamic",
                        "--sequence-parallel=ring", f"--layout={layout}"]
        cmd += [f"--arg={a}" for a in paths] + [f"--out={o}" for o in outs]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            sys.exit(f"{layout} P={ranks}: attn-run failed: {proc.stderr}")
        o, lse = (np.load(x) for x in outs)
        err = max(abs(o - expected_o).max(), abs(lse - expected_lse).max())
        print(f"{layout} P={ranks}: max error {err:.2e}")
        worst = max(worst, err)
print("ring numpy: " + ("agree" if worst < 1e-5 else f"DISAGREE {worst:.2e}"))
