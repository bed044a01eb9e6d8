"""attn.linear_aggregate_grad through the cpu pipeline (the chunked backward
of attn-linearize) and the naive pipeline (attn-decompose) against an f64
NumPy vector-Jacobian product written from docs/language.md, which is itself
first checked against central finite differences of a NumPy forward.

usage: linear_grad_check.py ATTN_RUN WORKDIR
       linear_grad_check.py --compare TOL GOT1.npy WANT1.npy [GOT2 WANT2 ...]

Each case writes a function taking (phi_q, phi_k, v, O, dO[, lambda]) that
returns the op's gradients, runs it with .npy arguments and compares every
gradient with the oracle (normwise: max |got - want| / max |want|). The
oracle uses the O operand as given, as the op does (the normalize quotient
rule needs dO . O); the `forward` cases compute O with attn.linear_aggregate
in the same function instead.
"""
import os
import subprocess
import sys

import numpy as np


def compare_files(tol, paths):
    """--compare: normwise errors of result pairs (got, want)."""
    ok = True
    for got, want in zip(paths[0::2], paths[1::2]):
        g, w = np.load(got).astype(np.float64), np.load(want).astype(np.float64)
        err = np.abs(g - w).max() / max(np.abs(w).max(), 1e-30)
        good = g.shape == w.shape and np.isfinite(g).all() and err <= tol
        print(f"{os.path.basename(got)}: error {err:.1e}{'' if good else ' FAIL'}")
        ok = ok and good
    print("random arguments:", "cpu and naive agree" if ok else "DIFFER")


if sys.argv[1] == "--compare":
    compare_files(float(sys.argv[2]), sys.argv[3:])
    sys.exit(0)

attn_run, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(12)
failures = []


def weights(lam, sq, skv, causal, derivative=False):
    """w[h, i, j] = lambda_h^(p-j) on j <= p = i + skv - sq (or its
    derivative (p-j) lambda^(p-j-1) on j < p); 1 everywhere without causal."""
    hq = len(lam)
    if not causal:
        return np.zeros((hq, sq, skv)) if derivative else np.ones((hq, sq, skv))
    dist = (np.arange(sq)[:, None] + skv - sq) - np.arange(skv)[None, :]
    lam = lam[:, None, None]
    if derivative:
        e = np.maximum(dist - 1, 0)
        return np.where(dist >= 1, dist * np.power(lam, e), 0.0)
    return np.where(dist >= 0, np.power(lam, np.maximum(dist, 0)), 0.0)


def expand(x, hq):
    return np.repeat(x, hq // x.shape[1], axis=1)


def forward(q, k, v, lam, causal, normalize, eps):
    hq, sq, skv = q.shape[1], q.shape[2], k.shape[2]
    a = np.einsum("bhif,bhjf->bhij", q, expand(k, hq))
    scores = weights(lam, sq, skv, causal)[None] * a
    num = np.einsum("bhij,bhje->bhie", scores, expand(v, hq))
    if not normalize:
        return num
    return num / (scores.sum(-1) + eps)[..., None]


def vjp(q, k, v, o, do, lam, causal, normalize, eps):
    """(dq, dk, dv, dlambda) of forward at (q, k, v, lambda) for cotangent do,
    with the forward's output o."""
    b, hq, sq, f = q.shape
    hkv, skv = k.shape[1], k.shape[2]
    kk, vv = expand(k, hq), expand(v, hq)
    a = np.einsum("bhif,bhjf->bhij", q, kk)
    w = weights(lam, sq, skv, causal)[None]
    scores = w * a
    if normalize:
        s = scores.sum(-1) + eps
        r = np.where(s == 0, 0.0, 1.0 / np.where(s == 0, 1.0, s))
        c = -r * (do * o).sum(-1)
    else:
        r, c = np.ones((b, hq, sq)), np.zeros((b, hq, sq))
    g = r[..., None] * do
    da = np.einsum("bhie,bhje->bhij", g, vv) + c[..., None]
    ds = w * da
    dq = np.einsum("bhij,bhjf->bhif", ds, kk)
    dk = np.einsum("bhij,bhif->bhjf", ds, q).reshape(b, hkv, -1, skv, f).sum(2)
    dv = np.einsum("bhij,bhie->bhje", scores, g).reshape(b, hkv, -1, skv, v.shape[3]).sum(2)
    dlam = (weights(lam, sq, skv, causal, True)[None] * a * da).sum(axis=(0, 2, 3))
    return dq, dk, dv, dlam


def check_oracle():
    """The explicit VJP against central differences of the forward."""
    worst = 0.0
    for causal, normalize, decay in [(False, False, False), (False, True, False),
                                     (True, False, False), (True, True, False),
                                     (True, False, True), (True, True, True)]:
        for sq, skv in [(5, 7), (7, 5)]:
            q = rng.uniform(0.2, 1, (2, 4, sq, 3))
            k = rng.uniform(0.2, 1, (2, 2, skv, 3))
            v = rng.uniform(-1, 1, (2, 2, skv, 2))
            lam = np.array([-0.9, 0.0, 0.5, 1.0]) if decay else np.ones(4)
            if normalize and decay:
                lam = np.array([0.3, 0.0, 0.5, 1.0])
            eps = 0.0 if (normalize and sq > skv) else 1e-3
            do = rng.uniform(-1, 1, (2, 4, sq, 2))
            o = forward(q, k, v, lam, causal, normalize, eps)
            o = np.nan_to_num(o)  # rows without keys at eps = 0: 0 by the semantics
            got = vjp(q, k, v, o, do, lam, causal, normalize, eps)

            def loss(q, k, v, lam):
                out = np.nan_to_num(forward(q, k, v, lam, causal, normalize, eps))
                return (out * do).sum()

            h = 1e-6
            for n, x in enumerate([q, k, v, lam]):
                if n == 3 and not decay:
                    continue
                fd = np.zeros_like(x)
                for idx in np.ndindex(x.shape):
                    args = [q, k, v, lam]
                    plus, minus = x.copy(), x.copy()
                    plus[idx] += h
                    minus[idx] -= h
                    args[n] = plus
                    lp = loss(*args)
                    args[n] = minus
                    fd[idx] = (lp - loss(*args)) / (2 * h)
                err = np.abs(fd - got[n]).max() / max(np.abs(fd).max(), 1e-300)
                worst = max(worst, err)
    ok = worst < 1e-6
    print(f"oracle vs finite differences: max rel err {worst:.1e}: {'ok' if ok else 'FAIL'}")
    if not ok:
        failures.append("oracle")


def tensor_type(shape, elt, dynamic):
    dims = [("?" if dynamic and n == 2 else str(d)) for n, d in enumerate(shape)]
    return "tensor<" + "x".join(dims) + "x" + elt + ">"


def program(c):
    """The MLIR function of case `c`: the gradient op, or forward + gradient."""
    elt = c["elt"]
    b, hq, hkv, sq, skv, f, dv = (c[n] for n in ("b", "hq", "hkv", "sq", "skv", "f", "dv"))
    tq = tensor_type((b, hq, sq, f), elt, c["dynamic"])
    tk = tensor_type((b, hkv, skv, f), elt, c["dynamic"])
    tv = tensor_type((b, hkv, skv, dv), elt, c["dynamic"])
    to = tensor_type((b, hq, sq, dv), elt, c["dynamic"])
    tl = f"tensor<{hq}xf32>"
    attrs = [a for a in ("causal", "normalize") if c[a]]
    if c["eps"] is not None:
        attrs.append(f"eps = {c['eps']:.1e} : f32")
    attr = (" {" + ", ".join(attrs) + "}") if attrs else ""
    decay = c["lam"] is not None
    args = [f"%q: {tq}", f"%k: {tk}", f"%v: {tv}"]
    if not c["forward"]:
        args.append(f"%o: {to}")
    args.append(f"%do: {to}")
    if decay:
        args.append(f"%l: {tl}")
    results = [tq, tk, tv] + ([tl] if decay else [])
    body = ""
    if c["forward"]:
        body += (f"  %o = attn.linear_aggregate %q, %k, %v{' decay(%l)' if decay else ''}{attr}"
                 f" : {tq}, {tk}, {tv}{', ' + tl if decay else ''} -> {to}\n")
    names = ["%dq", "%dk", "%dv"] + (["%dl"] if decay else [])
    body += (f"  {', '.join(names)} = attn.linear_aggregate_grad %q, %k, %v, %o, %do"
             f"{' decay(%l)' if decay else ''}{attr} : {tq}, {tk}, {tv}, {to}, {to}"
             f"{', ' + tl if decay else ''} -> {', '.join(results)}\n")
    return (f"func.func @f({', '.join(args)}) -> ({', '.join(results)}) {{\n{body}"
            f"  return {', '.join(names)} : {', '.join(results)}\n}}\n")


def run_case(c):
    npt = np.float16 if c["elt"] == "f16" else np.float32
    b, hq, hkv, sq, skv, f, dv = (c[n] for n in ("b", "hq", "hkv", "sq", "skv", "f", "dv"))
    lo = 0.1 if c["normalize"] else -1.0  # normalize: positive features
    q = rng.uniform(lo, 1, (b, hq, sq, f)).astype(npt)
    k = rng.uniform(lo, 1, (b, hkv, skv, f)).astype(npt)
    v = rng.uniform(-1, 1, (b, hkv, skv, dv)).astype(npt)
    do = rng.uniform(-1, 1, (b, hq, sq, dv)).astype(npt)
    lam = None if c["lam"] is None else np.array(c["lam"], np.float32)
    lam64 = np.ones(hq) if lam is None else lam.astype(np.float64)
    eps = 1e-6 if c["eps"] is None else c["eps"]
    q64, k64, v64, do64 = (x.astype(np.float64) for x in (q, k, v, do))
    if c["forward"]:
        o64 = np.nan_to_num(forward(q64, k64, v64, lam64, c["causal"], c["normalize"], eps))
        inputs = [q, k, v, do]
    else:
        o = rng.uniform(-1, 1, (b, hq, sq, dv)).astype(npt)
        o64 = o.astype(np.float64)
        inputs = [q, k, v, o, do]
    if lam is not None:
        inputs.append(lam)
    want = vjp(q64, k64, v64, o64, do64, lam64, c["causal"], c["normalize"], eps)
    want = list(want[:3]) + ([want[3]] if lam is not None else [])

    name = c["name"]
    path = os.path.join(work, name + ".mlir")
    with open(path, "w") as fh:
        fh.write(program(c))
    args = []
    for n, x in enumerate(inputs):
        p = os.path.join(work, f"{name}.in{n}.npy")
        np.save(p, x)
        args.append("--arg=" + p)
    tol = c["tol"]
    for pipeline in ("naive", "cpu"):
        outs = [os.path.join(work, f"{name}.{pipeline}.out{n}.npy") for n in range(len(want))]
        cmd = [attn_run, path, "--pipeline=" + pipeline] + args + ["--out=" + o for o in outs]
        if pipeline == "cpu":
            cmd.append(f"--cpu-options=linear-chunk={c['chunk']} vector-width={c['vw']}")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            failures.append(f"{name}/{pipeline}: attn-run failed: {proc.stderr.strip()}")
            continue
        errs = []
        for n, (o, e) in enumerate(zip(outs, want)):
            got = np.load(o)
            if got.dtype != (np.float32 if n == 3 else npt) or got.shape != e.shape:
                failures.append(f"{name}/{pipeline} result {n}: {got.dtype} {got.shape}")
                continue
            g64 = got.astype(np.float64)
            if not np.isfinite(g64).all():
                failures.append(f"{name}/{pipeline} result {n}: not finite")
                continue
            err = np.abs(g64 - e).max() / max(np.abs(e).max(), 1e-30)
            errs.append(err)
            if err > tol:
                failures.append(f"{name}/{pipeline} result {n}: error {err:.2e} > {tol:.0e}")
        print(f"{name}/{pipeline}: " + " ".join(f"{e:.1e}" for e in errs))


def case(name, **kw):
    c = dict(name=name, b=1, hq=2, hkv=2, sq=40, skv=40, f=8, dv=8, causal=True,
             normalize=False, lam=None, eps=None, elt="f32", dynamic=False,
             forward=False, chunk=16, vw=8, tol=1e-5)
    c.update(kw)
    return c


CASES = [
    case("noncausal_gqa", b=2, hq=4, hkv=2, sq=37, skv=53, f=8, dv=12, causal=False),
    case("noncausal_norm", hq=4, hkv=1, sq=50, skv=29, causal=False, normalize=True),
    case("causal_mqa", hq=4, hkv=1, sq=70, skv=70),
    case("causal_norm_sq_lt_skv", sq=45, skv=70, normalize=True),
    case("causal_norm_sq_gt_skv", sq=70, skv=45, normalize=True, eps=0.0),
    case("decay_signs", b=2, hq=4, hkv=2, sq=61, skv=77, lam=[-0.9, 0.0, 0.5, 1.0]),
    case("decay_norm", hq=4, hkv=2, sq=61, skv=77, normalize=True, lam=[0.0, 0.5, 0.9, 1.0]),
    case("decay_sq_gt_skv", hq=4, hkv=4, sq=50, skv=33, normalize=True, eps=0.0,
         lam=[-0.9, 0.0, 0.5, 1.0]),
    case("decay_norm_negative", hq=2, sq=48, skv=48, normalize=True, lam=[-0.5, -0.2], f=4),
    case("f16_decay_norm", hq=4, hkv=2, sq=50, skv=50, normalize=True,
         lam=[0.0, 0.5, 0.9, 1.0], elt="f16", tol=1e-3),
    case("f16_noncausal", hq=2, sq=30, skv=41, causal=False, elt="f16", tol=1e-3),
    case("dynamic_decay_norm", hq=4, hkv=2, sq=33, skv=47, normalize=True,
         lam=[0.0, 0.5, 0.9, 1.0], dynamic=True),
    case("dynamic_noncausal", hq=2, sq=21, skv=35, causal=False, normalize=True, dynamic=True),
    case("odd_widths", hq=3, hkv=1, sq=29, skv=31, f=6, dv=5, lam=[-0.9, 0.3, 1.0], chunk=7),
    case("default_chunk", hq=2, sq=200, skv=200, f=16, dv=16, lam=[0.95, -0.9],
         normalize=False, chunk=0, vw=0),
    case("one_query", hq=2, sq=1, skv=40, lam=[0.0, 0.9], normalize=True),
    case("one_key", hq=2, sq=9, skv=1, lam=[0.0, 0.9], normalize=True, eps=0.0),
    case("forward_then_grad", hq=4, hkv=2, sq=45, skv=45, normalize=True,
         lam=[0.0, 0.5, 0.9, 1.0], forward=True),
    case("forward_then_grad_noncausal", hq=2, sq=20, skv=30, causal=False,
         normalize=True, forward=True),
]

with np.errstate(invalid="ignore", divide="ignore"):
    check_oracle()
for c in CASES:
    run_case(c)
for msg in failures:
    print("FAIL:", msg)
print("linear gradient check:", "all agree" if not failures else f"{len(failures)} failure(s)")
