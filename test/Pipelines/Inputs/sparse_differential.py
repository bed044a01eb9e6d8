"""Differential test of the block-sparse form (attn-sparsify) against the
reference interpreter.

usage: sparse_differential.py ATTN_RUN WORKDIR COUNT SEED [PIPELINE [grad]]
Draws COUNT random attention programs whose masks hold block-structured
dynamic patterns -- #attn.block_mask with block sizes unrelated to the tile
(random density, including empty block rows), #attn.segments (sorted like
packed documents, or unsorted like cluster/LSH buckets; [B, S], [B, H, S]
or [B, 1, S]),
#attn.rows, #attn.csr adjacencies (with empty rows) and #attn.indices
lists (with -1 and duplicates) -- alone or intersected with each other,
static patterns and predicates, and
runs each through `attn-run --pipeline=cpu --check` with random tile sizes.
The data is drawn here with NumPy and passed as .npy files. PIPELINE
gpu-emulated runs the GPU forms instead (attn-run --pipeline=gpu-emulated:
the GPU kernels on CPU threads, block masks skipping tiles at run time).
"grad" differentiates each program instead (attn-run --grad: @F_grad
compiled, checked against the reference interpreter's own reverse mode),
with random cotangents of O (and lse) passed after the arguments.
"""
import os
import random
import sys

import numpy as np
from attn_driver import form_options, run_case

attn_run, work, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pipeline = sys.argv[5] if len(sys.argv) > 5 else "cpu"
grad = len(sys.argv) > 6 and sys.argv[6] == "grad"
os.makedirs(work, exist_ok=True)
rng = random.Random(seed)
nprng = np.random.default_rng(seed)

STATIC = ["#attn.causal", "#attn.window<left = 9, right = 2>", "#attn.sink<count = 3>",
          "#attn.chunk<size = 13>", "#attn.prefix<length = 7>"]
PREDICATE = """ mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c3 = arith.constant 3 : index
    %r = arith.remui %j, %c3 : index
    %c0 = arith.constant 0 : index
    %keep = arith.cmpi ne, %r, %c0 : index
    attn.yield %keep : i1
  }"""


def case(n):
    b = rng.randint(1, 2)
    hkv = rng.choice([1, 2])
    hq = hkv * rng.choice([1, 2])
    sq = rng.randint(1, 150)
    skv = sq if rng.random() < 0.6 else rng.randint(1, 150)
    d, dv = rng.choice([8, 16, 32]), rng.choice([8, 16])
    elt = rng.choice(["f32", "f32", "f16"])
    npelt = {"f32": np.float32, "f16": np.float16}[elt]
    kind = rng.choice(["softmax", "softmax", "softmax", "sigmoid", "none"])
    use_lse = kind == "softmax" and rng.random() < 0.5

    tensors = {  # name -> (type, array)
        "q": (f"tensor<{b}x{hq}x{sq}x{d}x{elt}>", nprng.uniform(-1, 1, (b, hq, sq, d)).astype(npelt)),
        "k": (f"tensor<{b}x{hkv}x{skv}x{d}x{elt}>", nprng.uniform(-1, 1, (b, hkv, skv, d)).astype(npelt)),
        "v": (f"tensor<{b}x{hkv}x{skv}x{dv}x{elt}>", nprng.uniform(-1, 1, (b, hkv, skv, dv)).astype(npelt)),
    }
    pats, operands = [], []
    dynamic = rng.sample(["block_mask", "segments", "rows", "csr", "indices"],
                         rng.choice([1, 1, 2]))
    for dyn in dynamic:
        if dyn == "csr":
            # A random adjacency shared by batches and heads, with empty rows.
            adj = nprng.random((sq, skv)) < rng.choice([0.02, 0.1, 0.5])
            adj[nprng.random(sq) < 0.2, :] = False
            rowptr = np.concatenate([[0], np.cumsum(adj.sum(axis=1))]).astype(np.int32)
            cols = np.nonzero(adj)[1].astype(np.int32)
            tensors["rp"] = (f"tensor<{sq + 1}xi32>", rowptr)
            tensors["cols"] = (f"tensor<{cols.size}xi32>", cols)
            pats.append("#attn.csr")
            operands += ["rp", "cols"]
            continue
        if dyn == "indices":
            slots = rng.randint(1, 12)
            ind = nprng.integers(-1, skv, (b, hq, sq, slots)).astype(np.int32)  # -1 and duplicates
            tensors["ind"] = (f"tensor<{b}x{hq}x{sq}x{slots}xi32>", ind)
            pats.append("#attn.indices")
            operands.append("ind")
            continue
        if dyn == "block_mask":
            bq, bkv = rng.choice([1, 5, 16, 37, 64]), rng.choice([1, 7, 16, 50, 64])
            nqb, nkb = -(-sq // bq), -(-skv // bkv)
            mb, mh = rng.choice([1, b]), rng.choice([1, hq])
            density = rng.choice([0.0, 0.1, 0.3, 0.7, 1.0])
            m = nprng.random((mb, mh, nqb, nkb)) < density
            m[:, :, nprng.random(nqb) < 0.2, :] = False  # empty block rows
            tensors["bm"] = (f"tensor<{mb}x{mh}x{nqb}x{nkb}xi1>", m)
            pats.append(f"#attn.block_mask<block_q = {bq}, block_kv = {bkv}>")
            operands.append("bm")
        elif dyn == "segments":
            per_head = rng.random() < 0.4
            # Per-head ids may broadcast one row of ids to every head.
            lead = (b, rng.choice([1, hq])) if per_head else (b,)
            nseg = rng.randint(1, 6)
            if rng.random() < 0.5:  # packed documents: non-decreasing ids
                qs = np.sort(nprng.integers(0, nseg, lead + (sq,)), axis=-1)
                ks = np.sort(nprng.integers(0, nseg, lead + (skv,)), axis=-1)
            else:  # buckets: any order
                qs = nprng.integers(0, nseg, lead + (sq,))
                ks = nprng.integers(0, nseg, lead + (skv,))
            shape = "x".join(str(x) for x in lead)
            tensors["qs"] = (f"tensor<{shape}x{sq}xi32>", qs.astype(np.int32))
            tensors["ks"] = (f"tensor<{shape}x{skv}xi32>", ks.astype(np.int32))
            pats.append("#attn.segments")
            operands += ["qs", "ks"]
        else:
            r = nprng.random((b, hq, sq)) < rng.choice([0.0, 0.3, 0.9, 1.0])
            tensors["rows"] = (f"tensor<{b}x{hq}x{sq}xi1>", r)
            pats.append("#attn.rows")
            operands.append("rows")
    if rng.random() < 0.6:
        pats.insert(rng.randint(0, len(pats)), rng.choice(STATIC))
    predicate = PREDICATE if rng.random() < 0.2 else ""

    ot = f"tensor<{b}x{hq}x{sq}x{dv}x{elt}>"
    lt = f"tensor<{b}x{hq}x{sq}xf32>"
    results = [ot] + ([lt] if use_lse else [])
    names = "%o, %l" if use_lse else "%o"
    args = ", ".join(f"%{k}: {t}" for k, (t, _) in tensors.items())
    ops = ""
    if operands:
        ops = f" (%{', %'.join(operands)} : {', '.join(tensors[o][0] for o in operands)})"
    text = (f"func.func @f({args}) -> ({', '.join(results)}) {{\n"
            f"  {names} = attn.attention {kind} %q, %k, %v [{', '.join(pats)}]{ops}"
            f" : {tensors['q'][0]}, {tensors['k'][0]}, {tensors['v'][0]} -> {', '.join(results)}"
            f"{predicate}\n  return {names} : {', '.join(results)}\n}}\n")
    if grad:  # one cotangent per float result, after F's arguments
        tensors["do"] = (ot, nprng.uniform(-1, 1, (b, hq, sq, dv)).astype(npelt))
        if use_lse:
            tensors["dl"] = (lt, nprng.uniform(-1, 1, (b, hq, sq)).astype(np.float32))
    paths = []
    for name, (_, array) in tensors.items():
        path = os.path.join(work, f"case{n}_{name}.npy")
        np.save(path, array)
        paths.append(path)
    return text, paths


failures = 0
for n in range(count):
    text, paths = case(n)
    path = os.path.join(work, f"case{n}.mlir")
    with open(path, "w") as f:
        f.write(text)
    options = form_options(rng, pipeline)
    proc = run_case([attn_run, path, f"--pipeline={pipeline}", "--check", options] +
                    [f"--arg={p}" for p in paths] + (["--grad"] if grad else []))
    status = "ok" if proc.returncode == 0 else "FAIL"
    print(f"case{n} {options}: {status} {proc.stdout.strip()}")
    if proc.returncode != 0:
        failures += 1
        print(text)
        print(proc.stderr)
print(f"sparse differential: {count - failures} of {count} agree")
