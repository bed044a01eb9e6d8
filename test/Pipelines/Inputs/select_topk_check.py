"""attn.select_topk through the CPU pipeline (one pass per row, fused with
its attn.score when that is its only use) against an independent NumPy
oracle: scores with many ties and masked (-inf) keys, top_k larger and
smaller than the number of candidates; and the fused form on random Q, K
against the reference interpreter.

usage: select_topk_check.py ATTN_RUN WORKDIR COUNT SEED
"""
import os
import subprocess
import sys

import numpy as np

attn_run, work, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(seed)
failures = 0
for n in range(count):
    b, h = 1, int(rng.integers(1, 3))
    sq, skv, k = int(rng.integers(1, 40)), int(rng.integers(1, 70)), int(rng.integers(1, 20))
    s = rng.integers(-3, 3, (b, h, sq, skv)).astype(np.float32)  # ties
    s[rng.random(s.shape) < 0.3] = -np.inf
    st, ot = f"tensor<{b}x{h}x{sq}x{skv}xf32>", f"tensor<{b}x{h}x{sq}x{k}xi32>"
    path = os.path.join(work, f"case{n}.mlir")
    with open(path, "w") as f:
        f.write(f"func.func @f(%s: {st}) -> {ot} {{\n"
                f"  %i = attn.select_topk %s {{top_k = {k}}} : {st} -> {ot}\n"
                f"  return %i : {ot}\n}}\n")
    np.save(os.path.join(work, f"s{n}.npy"), s)
    out = os.path.join(work, f"o{n}.npy")
    r = subprocess.run([attn_run, path, "--pipeline=cpu", f"--arg={work}/s{n}.npy", f"--out={out}"],
                       capture_output=True, text=True)
    want = np.full((b, h, sq, k), -1, np.int32)
    for bi in range(b):
        for hi in range(h):
            for i in range(sq):
                row = s[bi, hi, i]
                keys = sorted((j for j in range(skv) if row[j] > -np.inf), key=lambda j: (-row[j], j))
                want[bi, hi, i, :len(keys[:k])] = keys[:k]
    if r.returncode != 0 or not (np.load(out) == want).all():
        failures += 1
        print(f"case{n} FAIL {r.stderr.strip()}")
    # Fused with its scores (GQA, scale), against the reference.
    hq, hkv, d = 2 * h, h, int(rng.choice([8, 16, 24]))
    qt, kt = f"tensor<1x{hq}x{sq}x{d}xf32>", f"tensor<1x{hkv}x{skv}x{d}xf32>"
    st, ot = f"tensor<1x{hq}x{sq}x{skv}xf32>", f"tensor<1x{hq}x{sq}x{k}xi32>"
    path = os.path.join(work, f"fused{n}.mlir")
    with open(path, "w") as f:
        f.write(f"func.func @f(%q: {qt}, %k: {kt}) -> {ot} {{\n"
                f"  %s = attn.score %q, %k : {qt}, {kt} -> {st}\n"
                f"  %i = attn.select_topk %s {{top_k = {k}}} : {st} -> {ot}\n"
                f"  return %i : {ot}\n}}\n")
    r = subprocess.run([attn_run, path, "--pipeline=cpu", "--random-args", f"--seed={n}", "--check"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        failures += 1
        print(f"fused{n} FAIL {r.stdout.strip()} {r.stderr.strip()}")
print(f"select_topk: {count - failures} of {count} agree")
