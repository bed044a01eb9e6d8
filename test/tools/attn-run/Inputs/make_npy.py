"""Writes .npy inputs for the attn-run tests.

usage: make_npy.py OUT DTYPE SHAPE [KIND]
  SHAPE is comma-separated ("1,2,4,8"); KIND is random (default), zeros,
  fortran, truncated, badmagic, or a comma-separated list of values.
"""
import sys

import numpy as np

out, dtype, shape = sys.argv[1], sys.argv[2], sys.argv[3]
kind = sys.argv[4] if len(sys.argv) > 4 else "random"
dims = tuple(int(d) for d in shape.split(",") if d)
rng = np.random.default_rng(0)
if kind in ("random", "fortran", "truncated", "badmagic"):
    a = rng.uniform(-1, 1, size=dims).astype(dtype)
elif kind == "zeros":
    a = np.zeros(dims, dtype=dtype)
else:
    a = np.array([float(x) for x in kind.split(",")]).astype(dtype).reshape(dims)
if kind == "fortran":
    a = np.asfortranarray(a)
np.save(out, a)
if kind == "truncated":
    data = open(out, "rb").read()
    open(out, "wb").write(data[:-5])
if kind == "badmagic":
    data = open(out, "rb").read()
    open(out, "wb").write(b"XX" + data[2:])
