"""Masked scores given directly to aggregate/normalize: their gradient is
exactly +0, never NaN, whatever the cotangents of fully masked rows.

usage: grad_masked_scores.py ATTN_RUN PROGRAM WORKDIR

PROGRAM is Inputs/grad-masked-scores.mlir. Row 0 of every head is fully
masked (-inf), rows 1-3 have some -inf keys; the lse cotangent of row 0 is
NaN and its output cotangent 1e30.
"""
import os
import subprocess
import sys

import numpy as np

attn_run, program, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(5)
s = rng.uniform(-1, 1, (1, 2, 4, 5)).astype(np.float32)
s[:, :, 0, :] = -np.inf
s[:, :, 1, 1] = s[:, :, 2, 4] = s[:, :, 3, 0] = -np.inf
v = rng.uniform(-1, 1, (1, 2, 5, 3)).astype(np.float32)
cot_o = rng.uniform(-1, 1, (1, 2, 4, 3)).astype(np.float32)
cot_o[:, :, 0] = 1e30
cot_l = rng.uniform(-1, 1, (1, 2, 4)).astype(np.float32)
cot_l[:, :, 0] = np.nan
cot_p = rng.uniform(-1, 1, (1, 2, 4, 5)).astype(np.float32)
cases = {
    "softmax_scores": [s, v, cot_o, cot_l],
    "sigmoid_scores": [s, v, cot_o],
    "none_scores": [s, v, cot_o],
    "normalize_scores": [s, cot_p],
}
for entry, arrays in cases.items():
    args = []
    for i, a in enumerate(arrays):
        path = os.path.join(work, f"{entry}.in{i}.npy")
        np.save(path, a)
        args.append("--arg=" + path)
    outs = [os.path.join(work, f"{entry}.grad{i}.npy") for i in range(len(arrays) - 1 - (entry == "softmax_scores"))]
    subprocess.run([attn_run, program, "--entry=" + entry, "--pipeline=reference",
                    "--grad"] + args + ["--out=" + o for o in outs], check=True)
    grads = [np.load(o) for o in outs]
    ds = grads[0]
    masked = np.isneginf(s)
    assert (ds[masked] == 0).all() and not np.signbit(ds[masked]).any(), entry + ": masked scores"
    assert (ds[~masked] != 0).all(), entry + ": kept scores"
    for g in grads:
        assert np.isfinite(g).all(), entry + ": non-finite gradient"
    print(f"{entry}: masked scores exact zeros, no NaN")
