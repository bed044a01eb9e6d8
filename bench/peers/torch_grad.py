#!/usr/bin/python3
"""Peer: PyTorch eager autograd of softmax attention, forward and backward,
the way a PyTorch user trains with it (Debian python3-torch, CPU).

  --impl unfused:  S = (Q @ K^T) * scale; S.masked_fill(~allowed, -inf);
                   P = softmax(S); O = P @ V   (every step materialises its
                   result, the S x S scores and probabilities included, and
                   autograd keeps them for the backward)
  --impl sdpa:     torch.nn.functional.scaled_dot_product_attention
                   (is_causal=True for causal, a boolean mask otherwise);
                   PyTorch 1.13 only has the private
                   F._scaled_dot_product_attention, used when the public one
                   is missing (the `sdpa` field says which ran)

One timed call = forward + O.backward(dO) with a fixed random cotangent dO ~
N(0, 1) (gradients reset to None before each call); `ms` is its median, like
attn's @F_grad, which recomputes the forward too. `fwd_ms` and `bwd_ms` are
the medians of the two halves. `err` checks dQ against a float64 NumPy
gradient on sampled rows (dQ of a row depends on that row alone).

Before allocating, the peer estimates its memory (the S x S tensors autograd
keeps plus the backward's) and prints skipped=1 with `need_mb` when that
exceeds MemAvailable.

Usage: /usr/bin/python3 torch_grad.py --impl unfused --variant causal --S 2048
"""
import math
import statistics
import time

import numpy as np

import common


def extra_args(p):
    p.add_argument("--impl", choices=["unfused", "sdpa"], default="unfused")
    p.add_argument("--rss-only", action="store_true",
                   help="one untimed forward + backward; print peak_mb only")


def mem_available_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("inf")


def needed_mb(a):
    """S x S float32 tensors alive at the backward's peak: unfused keeps the
    scores, the masked scores and P, and the backward adds dP and dS (5);
    SDPA's math path keeps fewer (3). Plus the mask and the B x H x S x D
    tensors (Q, K, V, O, dO and three gradients)."""
    square = a.B * a.H * a.S * a.S * 4 / 2**20
    vectors = 8 * a.B * a.H * a.S * a.D * 4 / 2**20
    return (5 if a.impl == "unfused" else 3) * square + a.S * a.S / 2**20 + vectors


def attention_fn(torch, a, allowed):
    F = torch.nn.functional
    scale = 1.0 / math.sqrt(a.D)
    if a.impl == "unfused":
        blocked = None if allowed is None else torch.from_numpy(~allowed)

        def unfused(q, k, v):
            s = torch.matmul(q, k.transpose(-1, -2)) * scale
            if blocked is not None:
                s = s.masked_fill(blocked, float("-inf"))
            return torch.matmul(torch.softmax(s, dim=-1), v)
        return unfused, "none"
    causal = a.variant == "causal"
    mask = None if (allowed is None or causal) else torch.from_numpy(allowed)
    if hasattr(F, "scaled_dot_product_attention"):
        return (lambda q, k, v: F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal)), "public"
    # PyTorch 1.13: (q, k, v, attn_mask, dropout_p, need_attn_weights,
    # is_causal) -> (output, weights).
    return (lambda q, k, v: F._scaled_dot_product_attention(
        q, k, v, mask, 0.0, False, causal)[0]), "private-1.13"


def reference_dq(a, q, k, v, do, allowed, b, h, r):
    """dQ of one row in float64: dS = P * (dP - <P, dP>), dQ = scale dS K."""
    scale = 1.0 / math.sqrt(a.D)
    kk, vv = k[b, h].astype(np.float64), v[b, h].astype(np.float64)
    s = kk @ q[b, h, r].astype(np.float64) * scale
    if allowed is not None:
        s = np.where(allowed[r], s, -np.inf)
    p = np.exp(s - s.max())
    p /= p.sum()
    dp = vv @ do[b, h, r].astype(np.float64)
    ds = p * (dp - p @ dp)
    return scale * (ds @ kk)


def main():
    a = common.parse_args(["dense", "causal", "window"], extra_args)
    need = needed_mb(a)
    line = dict(peer="torch", impl=a.impl, variant=a.variant, B=a.B, H=a.H, S=a.S, D=a.D)
    if a.variant == "window":
        line["w"] = a.window
    avail = mem_available_mb()
    if need > avail:
        common.emit(**line, skipped=1, need_mb=need, available_mb=avail)
        return
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    q_np, k_np, v_np = common.inputs(a)
    do_np = np.random.default_rng(a.seed + 1).standard_normal(q_np.shape, dtype=np.float32)
    allowed = common.allowed_mask(a)
    fn, sdpa = attention_fn(torch, a, allowed)
    q, k, v = (torch.from_numpy(x).requires_grad_() for x in (q_np, k_np, v_np))
    do = torch.from_numpy(do_np)
    line.update(torch=torch.__version__, sdpa=sdpa)
    base = common.rss_mb()
    halves = []

    def call():
        for x in (q, k, v):
            x.grad = None
        t0 = time.perf_counter()
        o = fn(q, k, v)
        t1 = time.perf_counter()
        o.backward(do)
        halves.append((t1 - t0, time.perf_counter() - t1))

    if a.rss_only:
        call()
        common.emit(**line, peak_mb=common.peak_mb(), base_mb=base, need_mb=need)
        return
    call()
    err, ref_scale = 0.0, 0.0
    for b, h, r in common.sample_rows(a):
        ref = reference_dq(a, q_np, k_np, v_np, do_np, allowed, b, h, r)
        err = max(err, float(np.abs(q.grad[b, h, r].numpy() - ref).max()))
        ref_scale = max(ref_scale, float(np.abs(ref).max()))
    halves.clear()
    s0 = common.cpu_snapshot()
    med, times = common.bench(call, a.reps, a.max_s)
    noise = common.other_cpu(s0, common.cpu_snapshot())
    if med is None:
        common.emit(**line, skipped=1, warm_s=times[0])
        return
    timed = halves[1:]  # bench's own warm-up call is not timed
    line.update(ms=med * 1e3,
                fwd_ms=statistics.median(f for f, _ in timed) * 1e3,
                bwd_ms=statistics.median(b for _, b in timed) * 1e3,
                min_ms=min(times) * 1e3, runs=len(times), err=err / ref_scale,
                peak_mb=common.peak_mb(), base_mb=base, threads=a.threads,
                other_cpu=round(noise, 2))
    common.emit(**line)


if __name__ == "__main__":
    main()
