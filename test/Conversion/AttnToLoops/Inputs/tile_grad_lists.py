"""The tiled backward with run-time query-tile lists (block_mask, segments,
rows; csr and indices at the tile level) against the reference
interpreter's reverse mode.

usage: tile_grad_lists.py ATTN_RUN WORKDIR CASE [--cpu-options=...] [--threads=N]

Each case writes a function computing O and lse with one attn.attention
whose mask has tile-level patterns, draws its inputs and the cotangents of
O and lse here, and runs `attn-run --pipeline=cpu --grad --check` on them
(@F_grad compiled; --check compares dQ, dK and dV with the reference). The
gradients are written to WORKDIR/CASE_out{0,1,2}.npy (for comparisons across
runs), and the rows no key is visible to (queries) or visible from (keys)
must hold exact zeros: the mask is also evaluated densely here. Prints
"CASE: ok (N fully masked rows, M unseen keys)".
"""
import os
import subprocess
import sys
import zlib

import numpy as np


class Case:
    def __init__(self, b=1, hq=2, hkv=1, sq=100, skv=100, d=16, dv=16,
                 static="", block=None, bm_heads=None, density=0.3,
                 segments=None, rows=None, csr=None, indices=None):
        self.__dict__.update(locals())
        del self.__dict__["self"]


CASES = {
    # Block size = the tile (64): listed pairs are full or absent.
    "block-aligned": Case(hq=4, hkv=2, sq=200, skv=200, block=(64, 64)),
    # Block sizes unrelated to the tile, Sq != Skv, with causal.
    "block-unaligned": Case(b=2, hq=4, hkv=2, sq=130, skv=171, block=(24, 40),
                            static="#attn.causal", density=0.5),
    # Skv < Sq with causal: the first rows see nothing; the mask broadcast
    # over heads.
    "block-masked-rows": Case(hq=2, hkv=1, sq=150, skv=90, block=(16, 32),
                              static="#attn.causal", bm_heads=1, density=0.6),
    # Packed documents ([B, S] ids, sorted), with causal.
    "segments-packed": Case(b=2, hq=2, hkv=1, sq=160, skv=160,
                            segments="packed", static="#attn.causal"),
    # Buckets in any order, per head.
    "segments-buckets": Case(hq=4, hkv=2, sq=90, skv=120, segments="buckets"),
    # Rows computed or not, with a window.
    "rows": Case(hq=4, hkv=2, sq=140, skv=140, rows=0.5,
                 static="#attn.window<left = 30, right = 5>"),
    # All three, with causal.
    "combined": Case(b=2, hq=2, hkv=2, sq=150, skv=150, block=(32, 48),
                     segments="packed", rows=0.8, static="#attn.causal",
                     density=0.7),
    # A CSR adjacency (with empty rows) intersected with causal, GQA.
    "csr": Case(b=2, hq=4, hkv=2, sq=150, skv=170, csr=0.03,
                static="#attn.causal"),
    # Index lists with -1 and duplicates, with a window.
    "indices": Case(hq=2, hkv=1, sq=140, skv=140, indices=6,
                    static="#attn.window<left = 30, right = 5>"),
    # A block mask decides the tiles; the CSR is evaluated per element.
    "block-csr": Case(hq=2, hkv=1, sq=130, skv=130, block=(32, 32), csr=0.1),
}


def tensor(shape, elt):
    return "tensor<" + "x".join(str(s) for s in shape) + f"x{elt}>"


def draw(c, rng):
    """The program's tensors (name -> (type, array)), its patterns, mask
    operands and the dense keep mask [B, Hq, Sq, Skv]."""
    b, hq, sq, skv = c.b, c.hq, c.sq, c.skv
    t = {
        "q": (tensor([b, hq, sq, c.d], "f32"), rng.uniform(-1, 1, (b, hq, sq, c.d))),
        "k": (tensor([b, c.hkv, skv, c.d], "f32"), rng.uniform(-1, 1, (b, c.hkv, skv, c.d))),
        "v": (tensor([b, c.hkv, skv, c.dv], "f32"), rng.uniform(-1, 1, (b, c.hkv, skv, c.dv))),
    }
    pats, operands = [c.static] if c.static else [], []
    i = np.arange(sq)[:, None]
    j = np.arange(skv)[None, :]
    keep = np.ones((b, hq, sq, skv), dtype=bool)
    if c.static == "#attn.causal":
        keep &= j <= i + (skv - sq)
    elif c.static.startswith("#attn.window"):
        aligned = i + (skv - sq)
        keep &= (j >= aligned - 30) & (j <= aligned + 5)
    if c.block:
        bq, bkv = c.block
        mh = hq if c.bm_heads is None else c.bm_heads
        m = rng.random((b, mh, -(-sq // bq), -(-skv // bkv))) < c.density
        m[:, :, rng.random(m.shape[2]) < 0.2, :] = False  # empty block rows
        t["bm"] = (tensor(m.shape, "i1"), m)
        pats.append(f"#attn.block_mask<block_q = {bq}, block_kv = {bkv}>")
        operands.append("bm")
        keep &= np.broadcast_to(m, (b, hq) + m.shape[2:])[:, :, i // bq, j // bkv]
    if c.segments:
        lead = (b,) if c.segments == "packed" else (b, hq)
        qs = rng.integers(0, 4, lead + (sq,))
        ks = rng.integers(0, 4, lead + (skv,))
        if c.segments == "packed":
            qs, ks = np.sort(qs, axis=-1), np.sort(ks, axis=-1)
            same = qs[:, None, :, None] == ks[:, None, None, :]
        else:
            same = qs[:, :, :, None] == ks[:, :, None, :]
        t["qs"] = (tensor(qs.shape, "i32"), qs.astype(np.int32))
        t["ks"] = (tensor(ks.shape, "i32"), ks.astype(np.int32))
        pats.append("#attn.segments")
        operands += ["qs", "ks"]
        keep &= same
    if c.rows:
        r = rng.random((b, hq, sq)) < c.rows
        t["rows"] = (tensor(r.shape, "i1"), r)
        pats.append("#attn.rows")
        operands.append("rows")
        keep &= r[:, :, :, None]
    if c.csr:
        adj = rng.random((sq, skv)) < c.csr
        adj[rng.random(sq) < 0.2, :] = False  # empty rows
        rowptr = np.concatenate([[0], np.cumsum(adj.sum(axis=1))])
        t["rp"] = (tensor([sq + 1], "i32"), rowptr.astype(np.int32))
        cols = np.nonzero(adj)[1]
        t["cols"] = (tensor([cols.size], "i32"), cols.astype(np.int32))
        pats.append("#attn.csr")
        operands += ["rp", "cols"]
        keep &= adj
    if c.indices:
        ind = rng.integers(-1, skv, (b, hq, sq, c.indices))  # -1, duplicates
        t["ind"] = (tensor(ind.shape, "i32"), ind.astype(np.int32))
        pats.append("#attn.indices")
        operands.append("ind")
        listed = np.zeros((b, hq, sq, skv + 1), dtype=bool)
        np.put_along_axis(listed, np.where(ind < 0, skv, ind), True, axis=3)
        keep &= listed[..., :skv]
    return t, pats, operands, keep


def program(c, t, pats, operands):
    to = tensor([c.b, c.hq, c.sq, c.dv], "f32")
    tl = tensor([c.b, c.hq, c.sq], "f32")
    args = ", ".join(f"%{n}: {ty}" for n, (ty, _) in t.items())
    ops = f" (%{', %'.join(operands)} : {', '.join(t[o][0] for o in operands)})"
    return (f"func.func @f({args}) -> ({to}, {tl}) {{\n"
            f"  %o, %l = attn.attention softmax %q, %k, %v [{', '.join(pats)}]{ops}"
            f" : {t['q'][0]}, {t['k'][0]}, {t['v'][0]} -> {to}, {tl}\n"
            f"  return %o, %l : {to}, {tl}\n}}\n")


def main():
    attn_run, work, name = sys.argv[1], sys.argv[2], sys.argv[3]
    extra = sys.argv[4:]
    c = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    os.makedirs(work, exist_ok=True)
    t, pats, operands, keep = draw(c, rng)
    path = os.path.join(work, name + ".mlir")
    with open(path, "w") as f:
        f.write(program(c, t, pats, operands))
    arrays = [a for _, a in t.values()]
    arrays += [rng.uniform(-1, 1, (c.b, c.hq, c.sq, c.dv)),  # dO
               rng.uniform(-1, 1, (c.b, c.hq, c.sq))]  # dlse
    args = []
    for n, a in enumerate(arrays):
        p = os.path.join(work, f"{name}_in{n}.npy")
        np.save(p, a.astype(np.float32) if a.dtype == np.float64 else a)
        args.append(f"--arg={p}")
    outs = [os.path.join(work, f"{name}_out{n}.npy") for n in range(3)]
    r = subprocess.run([attn_run, path, "--pipeline=cpu", "--grad", "--check",
                        *extra, *args] + [f"--out={o}" for o in outs],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{name}: attn-run failed ({r.returncode}): {r.stdout} {r.stderr}")
    dq, dk, dv = (np.load(o) for o in outs)
    for g in (dq, dk, dv):
        if np.isnan(g).any():
            sys.exit(f"{name}: NaN in a gradient")
    dead_rows = ~keep.any(axis=3)  # [B, Hq, Sq]
    if np.any(dq[dead_rows] != 0):
        sys.exit(f"{name}: a fully masked query row has a nonzero dQ")
    group = c.hq // c.hkv
    seen = keep.reshape(c.b, c.hkv, group, c.sq, c.skv).any(axis=(2, 3))
    if np.any(dk[~seen] != 0) or np.any(dv[~seen] != 0):
        sys.exit(f"{name}: a key no query sees has a nonzero dK or dV")
    print(f"{name}: ok ({int(dead_rows.sum())} fully masked rows, "
          f"{int((~seen).sum())} unseen keys) {r.stdout.strip()}")


main()
