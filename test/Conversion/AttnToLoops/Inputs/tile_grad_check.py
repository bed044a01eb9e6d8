"""The tiled backward (attn-tile on attn.attention_grad) against the formulas
of the fused attention's vector-Jacobian product, in float64 NumPy.

usage: tile_grad_check.py ATTN_RUN WORKDIR CASE [--cpu-options=...] [--threads=N]
                         [--pipeline=P] [--gpu-options=...]

Each case writes a program whose function computes O and lse with
attn.attention and then attn.attention_grad of the same attention, runs it
with `attn-run --pipeline=cpu` (or the given pipeline) on inputs drawn here, and compares every
gradient with an independent NumPy implementation of the forward and of
the backward formulas. Fully masked rows must give exact zeros, and no
gradient may hold a NaN. Prints "CASE: ok" and the largest relative error.
"""
import os
import subprocess
import sys

import numpy as np

SOFTCAP = 20.0


class Case:
    """One attention: sizes, element type, aggregation, mask and extras."""

    def __init__(self, b=1, hq=2, hkv=1, sq=37, skv=37, d=16, dv=8, elt="f32",
                 kind="softmax", patterns="", predicate=False, mod=None,
                 sinks=False, dlse=False, dynamic=False, scale=None,
                 block_mask=False):
        self.__dict__.update(locals())
        del self.__dict__["self"]


CASES = {
    "causal": Case(b=2, hq=4, hkv=2, sq=70, skv=70, patterns="#attn.causal"),
    "causal-long-keys": Case(sq=37, skv=90, patterns="#attn.causal"),
    # Skv < Sq: the first Sq - Skv rows see no key (lse -inf).
    "causal-masked-rows": Case(sq=90, skv=37, patterns="#attn.causal"),
    "window": Case(hq=2, hkv=2, sq=100, skv=100,
                   patterns="#attn.window<left = 9, right = 2>"),
    "dense": Case(b=2, hq=3, hkv=1, sq=45, skv=77, d=8, dv=16),
    "predicate": Case(sq=50, skv=61, patterns="#attn.causal", predicate=True),
    "softcap": Case(sq=66, skv=66, patterns="#attn.causal", mod="softcap",
                    scale=1.0),
    "alibi": Case(hq=4, hkv=2, sq=40, skv=53, patterns="#attn.causal",
                  mod="alibi"),
    "bias": Case(hq=2, hkv=1, sq=33, skv=47, mod="bias", sinks=True),
    # ALiBi slopes 2^(-2(h+1)) from the head index: no captured tensor.
    "alibi-index": Case(hq=4, hkv=2, sq=45, skv=58, patterns="#attn.causal",
                        mod="alibi-index"),
    "sinks": Case(hq=4, hkv=2, sq=90, skv=37, patterns="#attn.causal",
                  sinks=True, dlse=True),
    "grad-lse": Case(sq=90, skv=37, patterns="#attn.causal", dlse=True),
    "sigmoid": Case(hq=2, hkv=2, sq=50, skv=70, kind="sigmoid",
                    patterns="#attn.causal"),
    "none": Case(hq=2, hkv=1, sq=41, skv=29, kind="none",
                 patterns="#attn.window<left = 5, right = 5>"),
    "f16": Case(hq=4, hkv=2, sq=70, skv=70, elt="f16", patterns="#attn.causal"),
    # A run-time block mask (block sizes unrelated to the tiles), with causal.
    "block-mask": Case(b=2, hq=2, hkv=1, sq=70, skv=83, patterns="#attn.causal",
                       block_mask=True),
    # Decoding: a few queries against many keys, one query tile.
    "decode": Case(b=2, hq=8, hkv=2, sq=3, skv=200, patterns="#attn.causal",
                   sinks=True),
    # Head dimensions that are no multiple of the vector width.
    "odd-dims": Case(hq=3, hkv=1, sq=33, skv=47, d=24, dv=12, elt="f16",
                     patterns="#attn.window<left = 9, right = 2>"),
    "dynamic": Case(b=2, hq=2, hkv=1, sq=75, skv=75, patterns="#attn.causal",
                    dynamic=True),
}


def tensor(shape, elt):
    return "tensor<" + "x".join(str(s) for s in shape) + f"x{elt}>"


def score_mod_text(c):
    if c.mod == "softcap":
        return f"""score_mod {{
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %c = arith.constant {SOFTCAP} : f32
      %y = arith.divf %x, %c : f32
      %t = math.tanh %y : f32
      %z = arith.mulf %t, %c : f32
      attn.yield %z : f32
    }}"""
    if c.mod == "alibi":
        return """score_mod {
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %s = tensor.extract %slopes[%h] : tensor<%HQxf32>
      %d = arith.subi %j, %i : index
      %di = arith.index_cast %d : index to i64
      %df = arith.sitofp %di : i64 to f32
      %m = arith.mulf %s, %df : f32
      %y = arith.addf %x, %m : f32
      attn.yield %y : f32
    }""".replace("%HQ", str(c.hq))
    if c.mod == "alibi-index":
        return """score_mod {
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %one = arith.constant 1 : index
      %h1 = arith.addi %h, %one : index
      %hi = arith.index_cast %h1 : index to i64
      %hf = arith.sitofp %hi : i64 to f32
      %c = arith.constant -2.0 : f32
      %e = arith.mulf %hf, %c : f32
      %s = math.exp2 %e : f32
      %d = arith.subi %j, %i : index
      %di = arith.index_cast %d : index to i64
      %df = arith.sitofp %di : i64 to f32
      %m = arith.mulf %s, %df : f32
      %y = arith.addf %x, %m : f32
      attn.yield %y : f32
    }"""
    if c.mod == "bias":
        return f"""score_mod {{
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %e = tensor.extract %slopes[%h, %i, %j] : {capture_type(c)}
      %y = arith.addf %x, %e : f32
      attn.yield %y : f32
    }}"""
    return ""


PREDICATE = """mask {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %c3 = arith.constant 3 : index
      %r = arith.remui %j, %c3 : index
      %c0 = arith.constant 0 : index
      %keep = arith.cmpi ne, %r, %c0 : index
      attn.yield %keep : i1
    }"""


BLOCK = 16
BLOCK_MASK = f"#attn.block_mask<block_q = {BLOCK}, block_kv = {BLOCK}>"


def block_mask_type(c):
    nq, nk = -(-c.sq // BLOCK), -(-c.skv // BLOCK)
    return f"tensor<{c.b}x{c.hq}x{nq}x{nk}xi1>"


def capture_type(c):
    if c.mod == "alibi":
        return f"tensor<{c.hq}xf32>"
    return f"tensor<{c.hq}x{c.sq}x{c.skv}xf32>"


def program(c):
    sq = "?" if c.dynamic else c.sq
    skv = "?" if c.dynamic else c.skv
    tq = tensor([c.b, c.hq, sq, c.d], c.elt)
    tk = tensor([c.b, c.hkv, skv, c.d], c.elt)
    tv = tensor([c.b, c.hkv, skv, c.dv], c.elt)
    to = tensor([c.b, c.hq, sq, c.dv], c.elt)
    tl = tensor([c.b, c.hq, sq], "f32")
    ts = f"tensor<{c.hq}xf32>"
    args = [f"%q: {tq}", f"%k: {tk}", f"%v: {tv}", f"%do: {to}"]
    if c.sinks:
        args.append(f"%sk: {ts}")
    if c.dlse:
        args.append(f"%dlse: {tl}")
    if c.mod in ("alibi", "bias"):
        args.append(f"%slopes: {capture_type(c)}")
    patterns, operands = c.patterns, ""
    if c.block_mask:
        args.append(f"%bm: {block_mask_type(c)}")
        patterns = ", ".join(p for p in (patterns, BLOCK_MASK) if p)
        operands = f" (%bm : {block_mask_type(c)})"
    softmax = c.kind == "softmax"
    sinks = f" sinks(%sk : {ts})" if c.sinks else ""
    attrs = f" {{scale = {c.scale} : f32}}" if c.scale is not None else ""
    regions = score_mod_text(c) + (" " + PREDICATE if c.predicate else "")
    fwd_results = f"{to}, {tl}" if softmax else to
    outs = "%o, %lse" if softmax else "%o"
    lse = f" lse(%lse : {tl})" if softmax else ""
    dlse = f" grad_lse(%dlse : {tl})" if c.dlse else ""
    captures = (f" captures(%slopes : {capture_type(c)})"
                if c.mod in ("alibi", "bias") else "")
    grads = ["%dq", "%dk", "%dv"]
    grad_types = [tq, tk, tv]
    grad_results = f"{tq}, {tk}, {tv}"
    if c.sinks:
        grads.append("%ds")
        grad_types.append(ts)
        grad_results += f" sinks({ts})"
    if captures:
        grads.append("%dc")
        grad_types.append(capture_type(c))
        grad_results += f" captures({capture_type(c)})"
    return f"""func.func @f({", ".join(args)}) -> ({", ".join(grad_types)}) {{
  {outs} = attn.attention {c.kind} %q, %k, %v [{patterns}]{operands}{sinks}{attrs}
      : {tq}, {tk}, {tv} -> {fwd_results} {regions}
  {", ".join(grads)} = attn.attention_grad {c.kind} %q, %k, %v, %o, %do [{patterns}]{operands}{lse}{dlse}{sinks}{captures}{attrs}
      : {tq}, {tk}, {tv}, {to}, {to} -> {grad_results} {regions}
  return {", ".join(grads)} : {", ".join(grad_types)}
}}
"""


def inputs(c, rng):
    npelt = {"f32": np.float32, "f16": np.float16}[c.elt]
    arrays = {
        "q": rng.uniform(-1, 1, (c.b, c.hq, c.sq, c.d)),
        "k": rng.uniform(-1, 1, (c.b, c.hkv, c.skv, c.d)),
        "v": rng.uniform(-1, 1, (c.b, c.hkv, c.skv, c.dv)),
        "do": rng.uniform(-1, 1, (c.b, c.hq, c.sq, c.dv)),
    }
    arrays = {n: a.astype(npelt) for n, a in arrays.items()}
    if c.sinks:
        arrays["sk"] = rng.uniform(-1, 1, (c.hq,)).astype(np.float32)
    if c.dlse:
        arrays["dlse"] = rng.uniform(-1, 1, (c.b, c.hq, c.sq)).astype(np.float32)
    if c.mod == "alibi":
        arrays["slopes"] = rng.uniform(0, 0.5, (c.hq,)).astype(np.float32)
    if c.mod == "bias":
        arrays["slopes"] = rng.uniform(-1, 1, (c.hq, c.sq, c.skv)).astype(np.float32)
    if c.block_mask:
        arrays["bm"] = rng.random((c.b, c.hq, -(-c.sq // BLOCK), -(-c.skv // BLOCK))) < 0.6
    return arrays


def keep_mask(c, a):
    """[B, Hq, Sq, Skv] booleans of the case's mask."""
    i = np.arange(c.sq)[:, None] + (c.skv - c.sq)
    j = np.arange(c.skv)[None, :]
    keep = np.ones((c.sq, c.skv), bool)
    if "causal" in c.patterns:
        keep &= j <= i
    if "window" in c.patterns:
        n = 9 if "left = 9" in c.patterns else 5
        r = 2 if "right = 2" in c.patterns else 5
        keep &= (i - n <= j) & (j <= i + r)
    if c.predicate:
        keep &= (j % 3) != 0
    keep = np.broadcast_to(keep, (c.b, c.hq, c.sq, c.skv))
    if c.block_mask:
        rows, cols = np.arange(c.sq) // BLOCK, np.arange(c.skv) // BLOCK
        keep = keep & a["bm"][:, :, rows][:, :, :, cols]
    return keep


def reference(c, a):
    """(O, lse) of the forward and the gradients, float64."""
    f = {n: x.astype(np.float64) for n, x in a.items() if n != "bm"}
    g = c.hq // c.hkv
    q, k, v, do = f["q"], np.repeat(f["k"], g, 1), np.repeat(f["v"], g, 1), f["do"]
    scale = c.scale if c.scale is not None else 1 / np.sqrt(c.d)
    s = scale * q @ k.transpose(0, 1, 3, 2)
    jminusi = (np.arange(c.skv)[None, :] - np.arange(c.sq)[:, None]).astype(np.float64)
    if c.mod == "softcap":
        t = np.tanh(s / SOFTCAP)
        sp, dmod = SOFTCAP * t, 1 - t * t
    elif c.mod == "alibi":
        sp, dmod = s + f["slopes"][None, :, None, None] * jminusi, np.ones_like(s)
    elif c.mod == "alibi-index":
        slopes = 2.0 ** (-2.0 * np.arange(1, c.hq + 1))
        sp, dmod = s + slopes[None, :, None, None] * jminusi, np.ones_like(s)
    elif c.mod == "bias":
        sp, dmod = s + f["slopes"][None], np.ones_like(s)
    else:
        sp, dmod = s, np.ones_like(s)
    keep = keep_mask(c, a)
    sm = np.where(keep, sp, -np.inf)
    out = {}
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if c.kind == "softmax":
            m = sm.max(-1, keepdims=True)
            if c.sinks:
                m = np.maximum(m, f["sk"][None, :, None, None])
            ms = np.where(np.isinf(m), 0, m)
            tot = np.exp(sm - ms).sum(-1, keepdims=True)
            if c.sinks:
                tot = tot + np.exp(f["sk"][None, :, None, None] - ms)
            lse = (ms + np.log(tot))[..., 0]
            p = np.where(keep & ~np.isinf(lse)[..., None], np.exp(sm - lse[..., None]), 0)
        elif c.kind == "sigmoid":
            p = np.where(keep, 1 / (1 + np.exp(-sp)), 0)
        else:
            p = np.where(keep, sp, 0)
    o = p @ v
    dp = do @ v.transpose(0, 1, 3, 2)
    if c.kind == "softmax":
        delta = (do * o).sum(-1) - (f["dlse"] if c.dlse else 0)
        delta = np.where(np.isinf(lse), 0, delta)
        dsp = p * (dp - delta[..., None])
    elif c.kind == "sigmoid":
        dsp = dp * p * (1 - p)
    else:
        dsp = np.where(keep, dp, 0)
    ds = dsp * dmod
    grads = [scale * ds @ k]
    dk = scale * ds.transpose(0, 1, 3, 2) @ q
    dv = p.transpose(0, 1, 3, 2) @ do
    grads.append(dk.reshape(c.b, c.hkv, g, c.skv, c.d).sum(2))
    grads.append(dv.reshape(c.b, c.hkv, g, c.skv, c.dv).sum(2))
    if c.sinks:
        w = np.where(np.isinf(lse), 0, np.exp(f["sk"][None, :, None] - lse))
        grads.append(-(w * delta).sum((0, 2)))
    if c.mod == "alibi":
        grads.append((dsp * jminusi).sum((0, 2, 3)))
    if c.mod == "bias":
        grads.append(dsp.sum(0))
    fully_masked = ~keep.any(-1)
    return grads, fully_masked


def run(attn_run, work, name, c, a, extra):
    path = os.path.join(work, name + ".mlir")
    with open(path, "w") as fh:
        fh.write(program(c))
    order = ["q", "k", "v", "do", "sk", "dlse", "slopes", "bm"]
    args = []
    for n in order:
        if n in a:
            p = os.path.join(work, f"{name}_{n}.npy")
            np.save(p, a[n])
            args.append(f"--arg={p}")
    num = 3 + int(c.sinks) + int(c.mod in ("alibi", "bias"))
    outs = [os.path.join(work, f"{name}_out{n}.npy") for n in range(num)]
    if not any(e.startswith("--pipeline=") for e in extra):
        extra = ["--pipeline=cpu", *extra]
    cmd = [attn_run, path, *extra, *args] + [f"--out={o}" for o in outs]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{name}: attn-run failed: {r.stdout} {r.stderr}")
    return [np.load(o) for o in outs]


def main():
    attn_run, work, name = sys.argv[1], sys.argv[2], sys.argv[3]
    extra = sys.argv[4:]
    os.makedirs(work, exist_ok=True)
    c = CASES[name]
    a = inputs(c, np.random.default_rng(sum(map(ord, name))))
    got = run(attn_run, work, name, c, a, extra)
    want, fully_masked = reference(c, a)
    # f32 kernels against float64; f16 results carry a rounding of 2^-11.
    tol = 2e-5 if c.elt == "f32" else 4e-3
    worst = 0.0
    for n, (x, y) in enumerate(zip(got, want)):
        x = x.astype(np.float64)
        if x.shape != y.shape:
            sys.exit(f"{name}: result {n} has shape {x.shape}, want {y.shape}")
        if np.isnan(x).any():
            sys.exit(f"{name}: result {n} holds NaN")
        err = np.abs(x - y).max() / max(np.abs(y).max(), 1e-30)
        worst = max(worst, err)
        if err > tol:
            sys.exit(f"{name}: result {n} relative error {err:.3g} > {tol}")
    # Rows that see no key: their dQ is exactly 0.
    rows = fully_masked
    if rows.any() and not (got[0][rows] == 0).all():
        sys.exit(f"{name}: dQ of fully masked rows is not exactly 0")
    print(f"{name}: ok (max relative error {worst:.2g}, "
          f"{int(rows.sum())} fully masked rows)")


if __name__ == "__main__":
    main()
