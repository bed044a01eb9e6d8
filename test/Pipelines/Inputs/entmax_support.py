"""Writes Q, K (scaled so rows are sparse) and V = I, or compares weights.

usage: entmax_support.py make DIR
       entmax_support.py compare REF.npy GOT.npy
compare: the weights agree with the f64 reference to f32 rounding (1e-5
absolute) and every row has exactly the reference's support (random data
has no exact ties).
"""
import sys

import numpy as np

if sys.argv[1] == "make":
    rng = np.random.default_rng(7)
    d = sys.argv[2]
    np.save(f"{d}/q.npy", (3 * rng.standard_normal((1, 4, 70, 16))).astype(np.float32))
    np.save(f"{d}/k.npy", rng.standard_normal((1, 2, 150, 16)).astype(np.float32))
    np.save(f"{d}/v.npy", np.broadcast_to(np.eye(150, dtype=np.float32), (1, 2, 150, 150)).copy())
    sys.exit(0)
ref, got = np.load(sys.argv[2]).astype(np.float64), np.load(sys.argv[3]).astype(np.float64)
err = np.abs(ref - got).max()
rows_differ = int(((ref > 0).sum(-1) != (got > 0).sum(-1)).sum())
nonzero = (ref > 0).sum(-1)
print(f"max_err={err:.2e} rows_with_other_support={rows_differ} "
      f"support={nonzero.min()}..{nonzero.max()} of {ref.shape[-1]}")
sys.exit(0 if err < 1e-5 and rows_differ == 0 else 1)
