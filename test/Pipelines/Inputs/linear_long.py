"""Chunked linear attention with decay at S = 65536 against an f64 NumPy
recurrence (S_t = lambda S_{t-1} + k_t^T v_t, o_t = q_t S_t, and the same
for the normaliser z): no overflow, underflow to NaN, or drift, for
lambda in {0.5, 0.9, 0.99, 0.999} (one per head), with and without
`normalize` (then with elu+1 features, computed here).

usage: linear_long.py ATTN_RUN WORKDIR
"""
import os
import subprocess
import sys

import numpy as np

attn_run, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
S, H, D = 65536, 4, 8
rng = np.random.default_rng(0)
lam = np.array([0.5, 0.9, 0.99, 0.999], np.float32)
ok = True
for normalize in (False, True):
    q, k, v = (rng.uniform(-1, 1, (1, H, S, D)).astype(np.float32) for _ in range(3))
    if normalize:  # elu + 1: positive features
        q, k = (np.where(x > 0, x + 1, np.exp(x)).astype(np.float32) for x in (q, k))
    t = f"tensor<1x{H}x{S}x{D}xf32>"
    attrs = "causal, normalize" if normalize else "causal"
    path = os.path.join(work, f"long{int(normalize)}.mlir")
    with open(path, "w") as f:
        f.write(f"func.func @f(%q: {t}, %k: {t}, %v: {t}, %l: tensor<{H}xf32>) -> {t} {{\n"
                f"  %o = attn.linear_aggregate %q, %k, %v decay(%l) {{{attrs}}} : {t}, {t}, {t}, "
                f"tensor<{H}xf32> -> {t}\n  return %o : {t}\n}}\n")
    args = []
    for n, a in enumerate((q, k, v, lam)):
        p = os.path.join(work, f"a{int(normalize)}_{n}.npy")
        np.save(p, a)
        args.append(f"--arg={p}")
    out = os.path.join(work, f"o{int(normalize)}.npy")
    r = subprocess.run([attn_run, path, "--pipeline=cpu", f"--out={out}"] + args,
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"normalize={normalize}: attn-run failed: {r.stderr.strip()}")
        ok = False
        continue
    got = np.load(out).astype(np.float64)
    # The recurrence in f64, all heads at once.
    st = np.zeros((H, D, D))
    z = np.zeros((H, D))
    want = np.empty((H, S, D))
    l64 = lam.astype(np.float64)[:, None, None]
    for i in range(S):
        ki, vi, qi = k[0, :, i].astype(np.float64), v[0, :, i].astype(np.float64), q[0, :, i].astype(np.float64)
        st = l64 * st + ki[:, :, None] * vi[:, None, :]
        o = np.einsum("hf,hfd->hd", qi, st)
        if normalize:
            z = l64[:, :, 0] * z + ki
            o = o / (np.einsum("hf,hf->h", qi, z)[:, None] + 1e-6)
        want[:, i] = o
    finite = np.isfinite(got).all()
    err = np.abs(got[0] - want) / (np.abs(want) + 1.0)
    print(f"normalize={normalize}: finite={finite} max_scaled_err={err.max():.2e} "
          f"per-lambda={[f'{e:.1e}' for e in err.max(axis=(1, 2))]}")
    ok = ok and finite and err.max() < 1e-3
print("long sequences:", "ok" if ok else "FAIL")
