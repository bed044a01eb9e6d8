"""Compares the results aot_main wrote (raw float32) with attn-run on the
same inputs (x[n] = sin(0.37 n + c) per array, as aot_main makes them).

usage: aot_check.py ATTN_RUN PROGRAM OUT.f32 LSE.f32 WORKDIR
"""
import os
import subprocess
import sys

import numpy as np

attn_run, program, out_raw, lse_raw, work = sys.argv[1:6]
os.makedirs(work, exist_ok=True)


def tensor(shape, c):
    n = np.arange(np.prod(shape), dtype=np.float32)
    return np.sin(np.float32(0.37) * n + np.float32(c)).astype(np.float32).reshape(shape)


args = []
for name, shape, c in (("q", (1, 2, 33, 16), 0.0), ("k", (1, 1, 40, 16), 1.0),
                       ("v", (1, 1, 40, 8), 2.0)):
    path = os.path.join(work, name + ".npy")
    np.save(path, tensor(shape, c))
    args.append(f"--arg={path}")
outs = [os.path.join(work, "o.npy"), os.path.join(work, "lse.npy")]
subprocess.run([attn_run, program, "--pipeline=cpu"] + args + [f"--out={o}" for o in outs],
               check=True)
o_ref, lse_ref = np.load(outs[0]), np.load(outs[1])
o = np.fromfile(out_raw, dtype=np.float32).reshape(o_ref.shape)
lse = np.fromfile(lse_raw, dtype=np.float32).reshape(lse_ref.shape)
err = max(np.abs(o - o_ref).max(), np.abs(lse - lse_ref).max())
print(f"aot vs attn-run: max_abs_err={err:.2e}")
print("aot check:", "ok" if err < 1e-5 else "FAIL")
