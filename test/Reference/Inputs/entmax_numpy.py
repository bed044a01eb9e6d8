"""α-entmax against NumPy: the reference interpreter, the naive and the cpu
pipelines on attn.normalize/attn.aggregate entmax with a dense mask (one
row fully masked, one row of tied scores), α in {1.2, 1.5, 2, 3}.

usage: entmax_numpy.py ATTN_RUN WORKDIR
NumPy's threshold comes from 200 bisection steps in f64 (the reference uses
the sorted row for α = 2 and 1.5), so the two are independent. Prints one
line per (α, pipeline) and exits 1 on any disagreement.
"""
import os
import subprocess
import sys

import numpy as np

attn_run, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
B, H, S, T, DV = 1, 2, 6, 10, 3
rng = np.random.default_rng(5)
scores = rng.normal(0, 2, (B, H, S, T)).astype(np.float32)
scores[0, 1, 2, :] = 0.75  # ties: every key equal
keep = rng.random((B, H, S, T)) < 0.7
keep[0, 0, 3, :] = False  # a fully masked row
keep[0, 1, 2, :] = True
value = rng.normal(0, 1, (B, H, T, DV)).astype(np.float32)
for name, array in (("s", scores), ("keep", keep), ("v", value)):
    np.save(os.path.join(work, name + ".npy"), array)


def entmax(s, keep, alpha):
    z = np.where(keep, (alpha - 1) * s.astype(np.float64), -np.inf)
    p = np.zeros_like(z)
    for idx in np.ndindex(z.shape[:-1]):
        row = z[idx]
        if not np.isfinite(row).any():
            continue
        top = row.max()
        lo, hi = top - 1, top
        for _ in range(200):
            mid = (lo + hi) / 2
            total = (np.clip(row - mid, 0, None) ** (1 / (alpha - 1))).sum()
            lo, hi = (mid, hi) if total >= 1 else (lo, mid)
        w = np.clip(row - (lo + hi) / 2, 0, None) ** (1 / (alpha - 1))
        p[idx] = w / w.sum()
    return p


t = f"tensor<{B}x{H}x{S}x{T}xf32>"
kt = f"tensor<{B}x{H}x{S}x{T}xi1>"
vt = f"tensor<{B}x{H}x{T}x{DV}xf32>"
ot = f"tensor<{B}x{H}x{S}x{DV}xf32>"
failures = 0
for alpha in (1.2, 1.5, 2.0, 3.0):
    path = os.path.join(work, f"entmax{alpha}.mlir")
    with open(path, "w") as f:
        f.write(f"""func.func @f(%s: {t}, %keep: {kt}, %v: {vt}) -> ({t}, {ot}) {{
  %m = attn.mask %s [#attn.dense] (%keep) : {t}, {kt}
  %p = attn.normalize entmax %m {{alpha = {alpha} : f32}} : {t} -> {t}
  %o = attn.aggregate entmax %m, %v {{alpha = {alpha} : f32}} : {t}, {vt} -> {ot}
  return %p, %o : {t}, {ot}
}}
""")
    p = entmax(scores, keep, alpha)
    o = np.einsum("bhst,bhtd->bhsd", p, value.astype(np.float64))
    for pipeline in ("reference", "naive", "cpu"):
        outs = [os.path.join(work, f"{x}{alpha}{pipeline}.npy") for x in "po"]
        args = [attn_run, path, f"--pipeline={pipeline}"]
        args += [f"--arg={os.path.join(work, n)}.npy" for n in ("s", "keep", "v")]
        args += [f"--out={x}" for x in outs]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"alpha={alpha} {pipeline}: FAIL {proc.stderr.strip()}")
            failures += 1
            continue
        got_p, got_o = np.load(outs[0]), np.load(outs[1])
        # The reference's f64 result, written as f32: f32 rounding; the f32
        # pipelines: that and the rounding of their threshold.
        tol = 2e-7 if pipeline == "reference" else 2e-5
        err = max(abs(got_p - p).max(), abs(got_o - o).max())
        support = ((got_p > 0) == (p > 0)).all()
        nan = np.isnan(got_p).any() or np.isnan(got_o).any()
        ok = err <= tol and support and not nan
        print(f"alpha={alpha} {pipeline}: {'ok' if ok else 'FAIL'} "
              f"err={err:.1e} support={'same' if support else 'differs'}")
        failures += not ok
print(f"entmax numpy: {'all agree' if not failures else f'{failures} failed'}")
sys.exit(1 if failures else 0)
