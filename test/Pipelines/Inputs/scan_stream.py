"""Row D6: the scan form and its streaming update agree. One query attends
to every prefix of a sequence. The sequence is cut into random pieces (the
first ones single tokens, as in generation); each piece is one call that
scans the piece and merges every row with the state (o, lse) carried from
the previous call (the last row of its output). The concatenated rows must
equal one call on the whole sequence (the scan form), which --check compares
with the reference interpreter. The whole call starts from a random state
(an earlier context), so the merge with a carried state is checked by the
reference too.

usage: scan_stream.py ATTN_RUN WORKDIR SEED
"""
import os
import sys

import numpy as np
from attn_driver import run_program

attn_run, work, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(seed)
HQ, HKV, D, DV, S = 4, 2, 16, 8, 300
q = rng.standard_normal((1, HQ, D)).astype(np.float32)
k = rng.standard_normal((1, HKV, S, D)).astype(np.float32)
v = rng.standard_normal((1, HKV, S, DV)).astype(np.float32)


def call(name, ks, vs, o_state, lse_state, check=False):
    """One call on a piece: every row's (o, lse), the carried state merged in."""
    L = ks.shape[2]
    tqb, tk = f"tensor<1x{HQ}x{L}x{D}xf32>", f"tensor<1x{HKV}x{L}x{D}xf32>"
    tv, to = f"tensor<1x{HKV}x{L}x{DV}xf32>", f"tensor<1x{HQ}x{L}x{DV}xf32>"
    ts, tl = f"tensor<1x{HQ}x{L}x{L}xf32>", f"tensor<1x{HQ}x{L}xf32>"
    tos, tls = f"tensor<1x{HQ}x1x{DV}xf32>", f"tensor<1x{HQ}x1xf32>"
    row4 = "affine_map<(b, h, i, d) -> (b, h, 0, d)>, affine_map<(b, h, i, d) -> (b, h, i, d)>"
    row3 = "affine_map<(b, h, i) -> (b, h, 0)>, affine_map<(b, h, i) -> (b, h, i)>"
    par = lambda n: ", ".join(['"parallel"'] * n)
    text = (
            f"func.func @f(%q: tensor<1x{HQ}x{D}xf32>, %k: {tk}, %v: {tv}, %os: {tos}, %ls: {tls})"
            f" -> ({to}, {tl}) {{\n"
            f"  %e = tensor.empty() : {tqb}\n"
            f"  %qb = linalg.broadcast ins(%q : tensor<1x{HQ}x{D}xf32>) outs(%e : {tqb}) dimensions = [2]\n"
            f"  %s = attn.score %qb, %k : {tqb}, {tk} -> {ts}\n"
            f"  %m = attn.mask %s [#attn.causal] : {ts}\n"
            f"  %ob, %lb = attn.aggregate softmax %m, %v : {ts}, {tv} -> {to}, {tl}\n"
            f"  %eo = tensor.empty() : {to}\n"
            f"  %oc = linalg.generic {{indexing_maps = [{row4}], iterator_types = [{par(4)}]}}"
            f" ins(%os : {tos}) outs(%eo : {to}) {{\n"
            f"  ^bb0(%x: f32, %y: f32):\n    linalg.yield %x : f32\n  }} -> {to}\n"
            f"  %el = tensor.empty() : {tl}\n"
            f"  %lc = linalg.generic {{indexing_maps = [{row3}], iterator_types = [{par(3)}]}}"
            f" ins(%ls : {tls}) outs(%el : {tl}) {{\n"
            f"  ^bb0(%x: f32, %y: f32):\n    linalg.yield %x : f32\n  }} -> {tl}\n"
            f"  %o, %l = attn.merge %oc, %lc, %ob, %lb : {to}, {tl}, {to}, {tl} -> {to}, {tl}\n"
            f"  return %o, %l : {to}, {tl}\n}}\n")
    return run_program(attn_run, work, name, text, (q, ks, vs, o_state, lse_state), 2,
                       check=check)


start_o = rng.standard_normal((1, HQ, 1, DV)).astype(np.float32)
start_lse = rng.standard_normal((1, HQ, 1)).astype(np.float32)
whole_o, whole_lse = call("whole", k, v, start_o, start_lse, check=True)

cuts = list(range(0, 6))  # token by token first
while cuts[-1] < S:
    cuts.append(min(S, cuts[-1] + int(rng.choice([1, 1, 3, 12, 64, 100]))))
o_state, lse_state, rows, lses = start_o, start_lse, [], []
for n, (a, b) in enumerate(zip(cuts, cuts[1:])):
    o, lse = call(f"piece{n}", k[:, :, a:b], v[:, :, a:b], o_state, lse_state)
    rows.append(o)
    lses.append(lse)
    o_state, lse_state = o[:, :, -1:], lse[:, :, -1:]
err_o = np.abs(np.concatenate(rows, axis=2) - whole_o).max()
err_lse = np.abs(np.concatenate(lses, axis=2) - whole_lse).max()
print(f"pieces={len(rows)} output_err={err_o:.2e} lse_err={err_lse:.2e}")
print("stream:", "ok" if err_o < 1e-5 and err_lse < 1e-5 else "FAIL")
