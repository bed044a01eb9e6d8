"""Helpers common to the Python peers: argument parsing, masks, FLOP counts,
timing (median of >=5 runs after a warm-up), peak memory and the output line.

Conventions (the same in ort_attn.js, keep them in sync):
  * inputs q, k, v ~ N(0, 1), float32, layout (B, H, S, D), seed 0
  * softmax scale = 1/sqrt(D); linear attention uses no scale
  * FLOPs = 4*B*H*D*pairs, pairs = number of (query, key) pairs that the
    variant attends to: dense S*S, causal S*S/2 (half the square),
    window / blocksparse the exact count of allowed pairs.
    The linear-attention variants use the causal count too, so their
    gflops are "softmax-attention-equivalent"; alg_gflops is the FLOP rate
    of the algorithm actually run (chunked form: 4*B*H*(S*D*D + S*C*D)).
  * sliding window w: query i attends keys j with i-w < j <= i (causal)
  * blocksparse: block size bs, nb = S/bs blocks a side; block (bi, bj) is
    kept if bi == bj or u01(bi*nb + bj, seed) < density, where u01 is the
    lowbias32 integer hash below (same in ort_attn.js; easy to port)
"""
import argparse
import math
import os
import resource
import statistics
import sys
import time

import numpy as np

VARIANTS = ["dense", "causal", "window", "blocksparse", "linear_quadratic", "linear_chunked"]


def parse_args(variants=VARIANTS, extra=None):
    p = argparse.ArgumentParser()
    p.add_argument("--variant", choices=variants, default="dense")
    p.add_argument("--B", type=int, default=1)
    p.add_argument("--H", type=int, default=8)
    p.add_argument("--S", type=int, default=1024)
    p.add_argument("--D", type=int, default=64)
    p.add_argument("--window", type=int, default=256, help="sliding window size")
    p.add_argument("--block", type=int, default=64, help="block size (blocksparse)")
    p.add_argument("--density", type=float, default=0.25, help="block density (blocksparse)")
    p.add_argument("--chunk", type=int, default=64, help="chunk size (linear_chunked)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5, help="minimum timed runs")
    p.add_argument("--max-s", type=float, default=30.0, help="skip config if warm-up run is slower")
    p.add_argument("--seed", type=int, default=0)
    if extra:
        extra(p)
    return p.parse_args()


def inputs(a):
    rng = np.random.default_rng(a.seed)
    shape = (a.B, a.H, a.S, a.D)
    return [rng.standard_normal(shape, dtype=np.float32) for _ in range(3)]


def allowed_mask(a):
    """Boolean (S, S) mask of allowed (query, key) pairs, or None for dense."""
    S = a.S
    i = np.arange(S)[:, None]
    j = np.arange(S)[None, :]
    if a.variant in ("causal", "linear_quadratic", "linear_chunked"):
        return j <= i
    if a.variant == "window":
        return (j <= i) & (j > i - a.window)
    if a.variant == "blocksparse":
        return np.kron(block_mask(a), np.ones((a.block, a.block), dtype=bool)).astype(bool)
    return None


def u01(i, seed):
    """Deterministic uniform [0,1) from the lowbias32 hash of (i, seed)."""
    u = np.uint64
    M = u(0xFFFFFFFF)
    x = (np.asarray(i, u) * u(0x9E3779B1) + u(seed * 0x85EBCA77 % 2**32) + u(1)) & M
    x ^= x >> u(16)
    x = (x * u(0x7FEB352D)) & M
    x ^= x >> u(15)
    x = (x * u(0x846CA68B)) & M
    x ^= x >> u(16)
    return x / 2.0**32


def block_mask(a):
    nb = a.S // a.block
    assert nb * a.block == a.S, "S must be a multiple of --block"
    keep = u01(np.arange(nb * nb).reshape(nb, nb), a.seed) < a.density
    keep[np.arange(nb), np.arange(nb)] = True  # never leave a row empty
    return keep


def pairs(a, mask):
    """Number of (query, key) pairs used for the FLOP count."""
    if a.variant == "dense":
        return a.S * a.S
    if a.variant in ("causal", "linear_quadratic", "linear_chunked"):
        return a.S * a.S / 2
    return int(mask.sum())


def attn_flops(a, mask):
    return 4.0 * a.B * a.H * a.D * pairs(a, mask)


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def cpu_snapshot():
    """(machine busy seconds, this process's CPU seconds, wall seconds)."""
    with open("/proc/stat") as f:
        j = [int(x) for x in f.readline().split()[1:9]]
    busy = (sum(j) - j[3] - j[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    t = os.times()
    return busy, t.user + t.system, time.monotonic()


def other_cpu(s0, s1):
    """Share of the machine's CPU time used by OTHER processes between two
    snapshots (0 = quiet machine, 0.5 = one of two cores busy elsewhere)."""
    wall = s1[2] - s0[2]
    return max(0.0, ((s1[0] - s0[0]) - (s1[1] - s0[1])) / (wall * os.cpu_count()))


def bench(fn, reps=5, max_s=30.0):
    """Warm-up once, then time >= reps runs (more for fast configs, up to ~1 s
    of extra runs). Returns (median_s, all_times) or (None, [warm]) if the
    warm-up run exceeded max_s."""
    t0 = time.perf_counter()
    fn()
    warm = time.perf_counter() - t0
    if warm > max_s:
        return None, [warm]
    n = max(reps, min(50, int(1.0 / max(warm, 1e-9))))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}" if (abs(v) < 1e-3 and v != 0) else f"{v:.2f}"
    return str(v)


def emit(**kv):
    print(" ".join(f"{k}={fmt(v)}" for k, v in kv.items()), flush=True)


# ---- float64 reference for a few sampled output rows (correctness check) ----

def sample_rows(a):
    rows = sorted({0, 1, a.S // 2, a.S - 1})
    heads = sorted({0, a.H - 1})
    return [(0, h, r) for h in heads for r in rows]


def ref_row(a, q, k, v, mask, b, h, r):
    qr = q[b, h, r].astype(np.float64)
    kk = k[b, h].astype(np.float64)
    vv = v[b, h].astype(np.float64)
    if a.variant.startswith("linear"):
        phi = lambda x: np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0)))
        w = phi(kk[: r + 1]) @ phi(qr)
        return (w @ vv[: r + 1]) / w.sum()
    s = (kk @ qr) / math.sqrt(a.D)
    if mask is not None:
        s = np.where(mask[r], s, -np.inf)
    p = np.exp(s - s.max())
    return (p / p.sum()) @ vv


def max_rel_err(a, q, k, v, mask, out):
    """out: (B, H, S, D). Max abs error over sampled rows / max |ref|."""
    err, scale = 0.0, 0.0
    for b, h, r in sample_rows(a):
        ref = ref_row(a, q, k, v, mask, b, h, r)
        err = max(err, float(np.abs(out[b, h, r] - ref).max()))
        scale = max(scale, float(np.abs(ref).max()))
    return err / scale


def run_and_report(a, peer, fn, q, k, v, mask, extra=None, alg_flops=None, to_bhsd=lambda o: o):
    """Correctness check, then timing, then one output line."""
    base = rss_mb()
    out = to_bhsd(fn())
    err = max_rel_err(a, q, k, v, mask, out)
    del out
    s0 = cpu_snapshot()
    med, times = bench(fn, a.reps, a.max_s)
    noise = other_cpu(s0, cpu_snapshot())
    line = dict(peer=peer, variant=a.variant, B=a.B, H=a.H, S=a.S, D=a.D)
    if a.variant == "window":
        line["w"] = a.window
    if a.variant == "blocksparse":
        line["bs"] = a.block
        line["density"] = round(float(mask.mean()), 3)
    if a.variant == "linear_chunked":
        line["C"] = a.chunk
    line.update(extra or {})
    if med is None:
        line.update(skipped=1, warm_s=times[0])
        emit(**line)
        return
    flops = attn_flops(a, mask)
    line.update(ms=med * 1e3, gflops=flops / med / 1e9)
    if alg_flops is not None:
        line["alg_gflops"] = alg_flops / med / 1e9
    line.update(min_ms=min(times) * 1e3, runs=len(times), err=err,
                peak_mb=peak_mb(), base_mb=base, threads=a.threads,
                other_cpu=round(noise, 2))
    emit(**line)
