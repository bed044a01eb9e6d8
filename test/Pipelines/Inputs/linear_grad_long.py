"""The chunked linear-attention backward at S = 65536 against an f64 NumPy
recurrence, per position: no overflow, underflow to NaN or drift over
many chunks. Decay (one per head) lambda in {-0.999, 0.5, 0.99, 1} without
`normalize`; with it (and positive features) lambda in {0.5, 0.9, 0.99,
0.999}: a negative lambda lets the denominator approach 0, and lambda = 1
makes dlambda a small difference of large sums, both ill-conditioned in f32
whatever the algorithm. The recurrence is the reverse mode of
S_t = lambda S_{t-1} + k_t v_t^T (and z_t for the normaliser):

  forward:  dq_t = S_t g_t + c_t z_t, g_t = r_t dO_t, and for dlambda
            S'_t = S_{t-1} + lambda S'_{t-1}: dlambda += q_t S'_t g_t + c_t q_t z'_t
  reverse:  U_t = lambda U_{t+1} + q_t g_t^T, u_t = lambda u_{t+1} + c_t q_t,
            dk_t = U_t v_t + u_t, dv_t = U_t^T k_t

usage: linear_grad_long.py ATTN_RUN WORKDIR
"""
import os
import subprocess
import sys

import numpy as np

attn_run, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
S, H, D = 65536, 4, 8
EPS = 1e-6
rng = np.random.default_rng(3)
LAMBDAS = {False: [-0.999, 0.5, 0.99, 1.0], True: [0.5, 0.9, 0.99, 0.999]}


def recurrence(q, k, v, o, do, lam, normalize):
    l = lam.astype(np.float64)
    lm, lv = l[:, None, None], l[:, None]
    st, sd = np.zeros((H, D, D)), np.zeros((H, D, D))
    z, zd = np.zeros((H, D)), np.zeros((H, D))
    dq, r, c = np.empty((H, S, D)), np.ones((H, S)), np.zeros((H, S))
    dl = np.zeros(H)
    for t in range(S):
        qt, kt, vt = q[:, t], k[:, t], v[:, t]
        sd = st + lm * sd
        st = lm * st + kt[:, :, None] * vt[:, None, :]
        if normalize:
            zd = z + lv * zd
            z = lv * z + kt
            den = np.einsum("hf,hf->h", qt, z) + EPS
            r[:, t] = 1.0 / den
            c[:, t] = -r[:, t] * np.einsum("hd,hd->h", do[:, t], o[:, t])
        g = r[:, t, None] * do[:, t]
        dq[:, t] = np.einsum("hfd,hd->hf", st, g) + c[:, t, None] * z
        dl += np.einsum("hf,hfd,hd->h", qt, sd, g) + c[:, t] * np.einsum("hf,hf->h", qt, zd)
    u, uu = np.zeros((H, D, D)), np.zeros((H, D))
    dk, dv = np.empty((H, S, D)), np.empty((H, S, D))
    for t in range(S - 1, -1, -1):
        g = r[:, t, None] * do[:, t]
        u = lm * u + q[:, t, :, None] * g[:, None, :]
        uu = lv * uu + c[:, t, None] * q[:, t]
        dk[:, t] = np.einsum("hfd,hd->hf", u, v[:, t]) + uu
        dv[:, t] = np.einsum("hfd,hf->hd", u, k[:, t])
    return dq, dk, dv, dl


ok = True
for normalize in (False, True):
    lam = np.array(LAMBDAS[normalize], np.float32)
    lo = 0.1 if normalize else -1.0
    q, k = (rng.uniform(lo, 1, (1, H, S, D)).astype(np.float32) for _ in range(2))
    v, o, do = (rng.uniform(-1, 1, (1, H, S, D)).astype(np.float32) for _ in range(3))
    t = f"tensor<1x{H}x{S}x{D}xf32>"
    l = f"tensor<{H}xf32>"
    attrs = "causal, normalize" if normalize else "causal"
    path = os.path.join(work, f"long{int(normalize)}.mlir")
    with open(path, "w") as f:
        f.write(f"func.func @f(%q: {t}, %k: {t}, %v: {t}, %o: {t}, %do: {t}, %l: {l}) -> ({t}, {t}, {t}, {l}) {{\n"
                f"  %dq, %dk, %dv, %dl = attn.linear_aggregate_grad %q, %k, %v, %o, %do decay(%l) {{{attrs}}}"
                f" : {t}, {t}, {t}, {t}, {t}, {l} -> {t}, {t}, {t}, {l}\n"
                f"  return %dq, %dk, %dv, %dl : {t}, {t}, {t}, {l}\n}}\n")
    args = []
    for n, a in enumerate((q, k, v, o, do, lam)):
        p = os.path.join(work, f"a{int(normalize)}_{n}.npy")
        np.save(p, a)
        args.append(f"--arg={p}")
    outs = [os.path.join(work, f"g{int(normalize)}_{n}.npy") for n in range(4)]
    r = subprocess.run([attn_run, path, "--pipeline=cpu"] + args + [f"--out={o}" for o in outs],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"normalize={normalize}: attn-run failed: {r.stderr.strip()}")
        ok = False
        continue
    want = recurrence(*(x[0].astype(np.float64) for x in (q, k, v, o, do)), lam, normalize)
    got = [np.load(p).astype(np.float64) for p in outs]
    got = [g[0] for g in got[:3]] + [got[3]]
    finite = all(np.isfinite(g).all() for g in got)
    # Normwise per head: the heads' gradients differ by orders of magnitude.
    errs = []
    for g, w in zip(got[:3], want[:3]):
        errs.append(max(np.abs(g[h] - w[h]).max() / np.abs(w[h]).max() for h in range(H)))
    errs.append((np.abs(got[3] - want[3]) / np.abs(want[3])).max())
    print(f"normalize={normalize}: finite={finite} errors dq dk dv dlambda = "
          + " ".join(f"{e:.1e}" for e in errs))
    ok = ok and finite and max(errs) < 2e-5
print("long sequences:", "ok" if ok else "FAIL")
