"""Row D8: carrying the linear-attention state across calls. A sequence is
cut into random pieces (some of a single token: decoding), each piece one
call of `attn.linear_aggregate ... state(%s)` with the previous call's final
state; the concatenated outputs and the last state must equal one call on
the whole sequence (the chunked form), which --check compares with the
reference interpreter. Each trial draws its shapes (GQA), decays in [-1, 1]
and chunk length.

usage: linear_recurrence.py ATTN_RUN WORKDIR SEED [TRIALS]
"""
import os
import sys

import numpy as np
from attn_driver import run_program

attn_run, work, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
trials = int(sys.argv[4]) if len(sys.argv) > 4 else 1
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(seed)


def call(name, qs, ks, vs, state, check=False):
    """One call on a piece; returns (output, final state)."""
    L = qs.shape[2]
    tq, tk = f"tensor<1x{HQ}x{L}x{F}xf32>", f"tensor<1x{HKV}x{L}x{F}xf32>"
    tv, to = f"tensor<1x{HKV}x{L}x{DV}xf32>", f"tensor<1x{HQ}x{L}x{DV}xf32>"
    ts = f"tensor<1x{HQ}x{F}x{DV}xf32>"
    text = (f"func.func @f(%q: {tq}, %k: {tk}, %v: {tv}, %l: tensor<{HQ}xf32>, %s: {ts})"
            f" -> ({to}, {ts}) {{\n"
            f"  %o, %s1 = attn.linear_aggregate %q, %k, %v decay(%l) state(%s : {ts}) {{causal}}"
            f" : {tq}, {tk}, {tv}, tensor<{HQ}xf32> -> {to}, {ts}\n"
            f"  return %o, %s1 : {to}, {ts}\n}}\n")
    return run_program(attn_run, work, name, text, (qs, ks, vs, lam, state), 2,
                       [f"--cpu-options=linear-chunk={CHUNK}"], check)


ok = True
for trial in range(trials):
    HKV = int(rng.choice([1, 2]))
    HQ = HKV * int(rng.choice([1, 2]))
    F, DV, S = int(rng.choice([4, 8, 16])), int(rng.choice([4, 6, 16])), int(rng.integers(40, 160))
    CHUNK = int(rng.choice([1, 5, 16, 64]))
    lam = rng.uniform(-1, 1, HQ).astype(np.float32)
    q = rng.uniform(-1, 1, (1, HQ, S, F)).astype(np.float32)
    k = rng.uniform(-1, 1, (1, HKV, S, F)).astype(np.float32)
    v = rng.uniform(-1, 1, (1, HKV, S, DV)).astype(np.float32)
    # A nonzero starting state, as from earlier calls, checked by the reference.
    start = rng.uniform(-1, 1, (1, HQ, F, DV)).astype(np.float32)
    whole_out, whole_state = call(f"t{trial}_whole", q, k, v, start, check=True)

    cuts = list(range(0, 8))  # token by token first, as in decoding
    while cuts[-1] < S:
        step = int(rng.choice([1, 1, 2, 7, 33, 64]))
        cuts.append(min(S, cuts[-1] + step))
    state, pieces = start, []
    for n, (a, b) in enumerate(zip(cuts, cuts[1:])):
        out, state = call(f"t{trial}_piece{n}", q[:, :, a:b], k[:, :, a:b], v[:, :, a:b], state)
        pieces.append(out)
    pieced = np.concatenate(pieces, axis=2)
    scale = np.abs(whole_out).max() + 1.0
    err_out = np.abs(pieced - whole_out).max() / scale
    err_state = np.abs(state - whole_state).max() / (np.abs(whole_state).max() + 1.0)
    print(f"trial {trial}: Hq={HQ} Hkv={HKV} F={F} Dv={DV} S={S} chunk={CHUNK} "
          f"pieces={len(pieces)} output_err={err_out:.2e} state_err={err_state:.2e}")
    ok &= bool(err_out < 1e-5 and err_state < 1e-5)
print("recurrence:", "ok" if ok else "FAIL")
