"""Flowformer (mechanism D4 of docs/language.md) against an independent NumPy float64 transcription
of the formula, result by result. Its main output is small (about
mean_j V_j / S), so the elementwise --check is dominated by atol; here each
result is compared normwise: max |attn - numpy| / max |numpy| < 1e-5.

usage: flowformer_numpy.py ATTN_RUN EXAMPLE WORKDIR PIPELINE
"""
import os
import subprocess
import sys

import numpy as np

attn_run, example, work, pipeline = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(7)
q = rng.uniform(-1, 1, (1, 4, 256, 16)).astype(np.float32)
k = rng.uniform(-1, 1, (1, 4, 256, 16)).astype(np.float32)
v = rng.uniform(-1, 1, (1, 4, 256, 32)).astype(np.float32)
args = []
for name, a in (("q", q), ("k", k), ("v", v)):
    np.save(os.path.join(work, name + ".npy"), a)
    args.append(f"--arg={os.path.join(work, name + '.npy')}")
outs = [os.path.join(work, f"out{n}.npy") for n in range(5)]
subprocess.run([attn_run, example, f"--pipeline={pipeline}"] + args + [f"--out={o}" for o in outs],
               check=True)

sig = lambda x: 1.0 / (1.0 + np.exp(-x))
fq, fk, V = sig(q.astype(np.float64)), sig(k.astype(np.float64)), v.astype(np.float64)
I = np.einsum("bhid,bhd->bhi", fq, fk.sum(2))            # incoming flow
O = np.einsum("bhjd,bhd->bhj", fk, fq.sum(2))            # outgoing flow
I_hat = np.einsum("bhid,bhd->bhi", fq, (fk / O[..., None]).sum(2))
O_hat = np.einsum("bhjd,bhd->bhj", fk, (fq / I[..., None]).sum(2))
comp = np.exp(O_hat - O_hat.max(-1, keepdims=True))
comp /= comp.sum(-1, keepdims=True)                       # softmax over j
Vc = comp[..., None] * V
R = np.einsum("bhid,bhdm->bhim", fq / I[..., None], np.einsum("bhjd,bhjm->bhdm", fk, Vc))
out = sig(I_hat)[..., None] * R

ok = True
for name, want, path in zip(("out", "I", "O", "I_hat", "O_hat"), (out, I, O, I_hat, O_hat), outs):
    got = np.load(path).astype(np.float64)
    err = np.abs(got - want).max() / np.abs(want).max()
    print(f"{name}: max|ref|={np.abs(want).max():.3e} normwise_err={err:.2e}")
    ok &= bool(err < 1e-5)
print("flowformer numpy:", "ok" if ok else "FAIL")
