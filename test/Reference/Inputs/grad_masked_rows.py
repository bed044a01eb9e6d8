"""Fully masked rows in reference gradients: exact zeros, never NaN.

usage: grad_masked_rows.py ATTN_RUN PROGRAM ENTRY WORKDIR

ENTRY(q [B,Hq,Sq,D], k, v) -> (o, lse) must mask every key of query rows
0..2 (causal with Sq = Skv + 3). The lse cotangent of those rows is NaN and
the output cotangent huge: neither may reach any gradient. Checks that the
gradient of q is exactly +0 on those rows, that no gradient has a NaN or
inf, and that the gradients are bit-identical to those with the masked
rows' cotangents set to 0.
"""
import os
import subprocess
import sys

import numpy as np

attn_run, program, entry, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(11)
shapes = {"q": (2, 4, 9, 4), "k": (2, 2, 6, 4), "v": (2, 2, 6, 3)}
inputs = {n: rng.uniform(-1, 1, s).astype(np.float32) for n, s in shapes.items()}
d_o = rng.uniform(-1, 1, (2, 4, 9, 3)).astype(np.float32)
d_lse = rng.uniform(-1, 1, (2, 4, 9)).astype(np.float32)


def gradients(tag, d_o, d_lse):
    args = []
    for name, a in list(inputs.items()) + [("do", d_o), ("dlse", d_lse)]:
        path = os.path.join(work, f"{tag}.{name}.npy")
        np.save(path, a)
        args.append("--arg=" + path)
    outs = [os.path.join(work, f"{tag}.grad{i}.npy") for i in range(3)]
    subprocess.run([attn_run, program, "--entry=" + entry, "--pipeline=reference",
                    "--grad"] + args + ["--out=" + o for o in outs], check=True)
    return [np.load(o) for o in outs]


poisoned_o, poisoned_lse = d_o.copy(), d_lse.copy()
poisoned_o[:, :, :3] = 1e30
poisoned_lse[:, :, :3] = np.nan
clean_o, clean_lse = d_o.copy(), d_lse.copy()
clean_o[:, :, :3] = 0
clean_lse[:, :, :3] = 0
poisoned = gradients("poisoned", poisoned_o, poisoned_lse)
clean = gradients("clean", clean_o, clean_lse)
dq = poisoned[0]
assert (dq[:, :, :3] == 0).all() and not np.signbit(dq[:, :, :3]).any(), "masked rows of dq"
assert (dq[:, :, 3:] != 0).any(), "kept rows of dq"
for g in poisoned:
    assert np.isfinite(g).all(), "non-finite gradient"
for p, c in zip(poisoned, clean):
    assert p.tobytes() == c.tobytes(), "masked rows' cotangents leaked"
print(f"{entry}: masked rows exact zeros, no NaN")
