"""Differential test of the tiled CPU form against the reference interpreter.

usage: differential.py ATTN_RUN WORKDIR COUNT SEED [PIPELINE]
Draws COUNT random attention programs -- shapes that are not multiples of
the tile, GQA, Sq != Skv, every static mask pattern (single, intersected and
in unions), predicate regions, score_mod, sinks, lse, f16/bf16 and all three
aggregation kinds -- and runs each through `attn-run --pipeline=cpu --check`
with random tile sizes, vector widths and key-axis splits. Any disagreement fails the test with the program.
PIPELINE gpu-emulated runs the GPU kernels of attn-to-nvvm on CPU threads
instead (attn-run --pipeline=gpu-emulated), with random block sizes.
MODE (after PIPELINE): "grad" differentiates each program; "entmax" draws
α-entmax programs instead (graph form: score, score_mod, mask, aggregate
entmax with α in {1.2, 1.5, 2, 3}, fused by attn-fuse: the tiled form on
cpu, half of the cases recomputing the scores); "entmax+grad" both (α <= 2).
"""
import os
import random
import sys

from attn_driver import form_options, report_case, run_case
from random_programs import PREDICATES, SCORE_MOD, Draw, attention_function, operand_types

attn_run, work, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pipeline = sys.argv[5] if len(sys.argv) > 5 else "cpu"
# "grad": differentiate each program (attn-run --grad: @F_grad compiled,
# checked against the reference interpreter's own reverse mode).
mode = sys.argv[6] if len(sys.argv) > 6 else ""
grad = ["--grad"] if mode in ("grad", "entmax+grad") else []
entmax = mode.startswith("entmax")
os.makedirs(work, exist_ok=True)
rng = random.Random(seed)


draw = Draw(rng)
pattern, patterns, length = draw.pattern, draw.patterns, draw.length


def program():
    b = 0 if rng.random() < 0.03 else rng.randint(1, 2)
    hkv = rng.choice([1, 2, 4])
    hq = hkv * rng.choice([1, 2, 3])
    sq = length()
    skv = length()
    d = rng.choice([1, 8, 16, 24, 40])
    dv = rng.choice([1, 8, 12, 16, 24])
    elt = rng.choice(["f32", "f32", "f16", "bf16"])
    kind = rng.choice(["softmax", "softmax", "softmax", "sigmoid", "none"])
    pats = patterns(hq)
    use_sinks = kind == "softmax" and rng.random() < 0.3
    use_lse = kind == "softmax" and rng.random() < 0.5
    predicate = rng.choice(PREDICATES) if rng.random() < 0.3 else None
    score_mod = rng.random() < 0.2
    qt, kt, vt, ot = operand_types(b, hq, hkv, sq, skv, d, dv, elt)
    lt = f"tensor<{b}x{hq}x{sq}xf32>"
    return attention_function((qt, kt, vt, ot, lt), kind, pats, hq, use_sinks, use_lse,
                              predicate, score_mod)


def entmax_program():
    """The graph form with `attn.aggregate entmax`: attn-fuse makes it one
    attn.attention, so the cpu pipeline runs the whole-row tiled form."""
    b = 0 if rng.random() < 0.03 else rng.randint(1, 2)
    hkv = rng.choice([1, 2])
    hq = hkv * rng.choice([1, 2, 3])
    sq, skv = length(), length()
    d, dv = rng.choice([1, 8, 16, 24]), rng.choice([1, 8, 12])
    elt = rng.choice(["f32", "f32", "f16", "bf16"])
    # For α > 2, dp/ds = p^(2-α)/(α-1) grows without bound as a weight nears
    # 0 at the support's edge, so f32 and f64 gradients of a key that sits
    # there legitimately differ: gradients are drawn with α <= 2 (α = 3 has a
    # fixed program in test/Reference/entmax-grad.test).
    alpha = rng.choice([1.2, 1.5, 2.0] + ([] if grad else [3.0]))
    pats = patterns(hq)
    predicate = rng.choice(PREDICATES) if rng.random() < 0.3 else None
    qt, kt, vt, ot = operand_types(b, hq, hkv, sq, skv, d, dv, elt)
    st = f"tensor<{b}x{hq}x{sq}x{skv}xf32>"
    text = f"func.func @f(%q: {qt}, %k: {kt}, %v: {vt}) -> {ot} {{\n"
    text += f"  %s0 = attn.score %q, %k : {qt}, {kt} -> {st}\n"
    scores = "%s0"
    if rng.random() < 0.2:
        text += f"  %s1 = attn.score_mod %s0 : {st} {{\n{SCORE_MOD}\n  }}\n"
        scores = "%s1"
    text += f"  %m = attn.mask {scores} [{', '.join(pats)}] : {st}"
    text += (" {\n" + predicate + "\n  }\n") if predicate else "\n"
    text += (f"  %o = attn.aggregate entmax %m, %v {{alpha = {alpha} : f32}}"
             f" : {st}, {vt} -> {ot}\n  return %o : {ot}\n}}\n")
    return text


failures = 0
for n in range(count):
    text = entmax_program() if entmax else program()
    path = os.path.join(work, f"case{n}.mlir")
    with open(path, "w") as f:
        f.write(text)
    options = form_options(rng, pipeline)
    if entmax and pipeline == "cpu" and rng.random() < 0.5:
        options += " entmax-recompute=1"  # scores recomputed on every pass
    proc = run_case([attn_run, path, f"--pipeline={pipeline}", "--random-args", f"--seed={n}",
                     "--check", options] + grad)
    failures += report_case(f"case{n} {options}", proc, text)
print(f"differential: {count - failures} of {count} agree")
sys.exit(1 if failures else 0)
