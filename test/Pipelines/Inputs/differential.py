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

from attn_driver import form_options, run_case

attn_run, work, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pipeline = sys.argv[5] if len(sys.argv) > 5 else "cpu"
# "grad": differentiate each program (attn-run --grad: @F_grad compiled,
# checked against the reference interpreter's own reverse mode).
mode = sys.argv[6] if len(sys.argv) > 6 else ""
grad = ["--grad"] if mode in ("grad", "entmax+grad") else []
entmax = mode.startswith("entmax")
os.makedirs(work, exist_ok=True)
rng = random.Random(seed)


def pattern(hq):
    kind = rng.choice(["causal", "window", "window_heads", "chunk", "sink",
                       "prefix", "block_local"])
    if kind == "causal":
        return "#attn.causal"
    if kind == "window":
        return f"#attn.window<left = {rng.randint(0, 40)}, right = {rng.randint(0, 8)}>"
    if kind == "window_heads":
        left = ", ".join(str(rng.randint(0, 40)) for _ in range(hq))
        return f"#attn.window<left = [{left}], right = {rng.randint(0, 5)}>"
    if kind == "chunk":
        return f"#attn.chunk<size = {rng.randint(1, 50)}>"
    if kind == "sink":
        return f"#attn.sink<count = {rng.randint(1, 9)}>"
    if kind == "prefix":
        return f"#attn.prefix<length = {rng.randint(0, 40)}>"
    return f"#attn.block_local<block = {rng.randint(1, 40)}, halo = {rng.randint(0, 9)}>"


def patterns(hq):
    choice = rng.random()
    if choice < 0.15:
        return []
    if choice < 0.55:
        return [pattern(hq)]
    if choice < 0.8:
        return [pattern(hq), pattern(hq)]
    return [f"#attn.any<[{pattern(hq)}, {pattern(hq)}]>"]


PREDICATES = [
    # a diagonal band written with index arithmetic (analysable)
    """  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c5 = arith.constant 5 : index
    %lo = arith.subi %i, %c5 : index
    %a = arith.cmpi sge, %j, %lo : index
    %c = arith.cmpi sle, %j, %i : index
    %keep = arith.andi %a, %c : i1
    attn.yield %keep : i1""",
    # 2-D halo blocks on a grid of width 7 (divisions and remainders)
    """  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c7 = arith.constant 7 : index
    %c3 = arith.constant 3 : index
    %ri = arith.divui %i, %c7 : index
    %rj = arith.divui %j, %c7 : index
    %bi = arith.divui %ri, %c3 : index
    %bj = arith.divui %rj, %c3 : index
    %keep = arith.cmpi eq, %bi, %bj : index
    attn.yield %keep : i1""",
    # even keys only (remainder: partial everywhere)
    """  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c2 = arith.constant 2 : index
    %c0 = arith.constant 0 : index
    %r = arith.remui %j, %c2 : index
    %keep = arith.cmpi eq, %r, %c0 : index
    attn.yield %keep : i1""",
]


SCORE_MOD = """  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 2.0 : f32
    %y = arith.divf %x, %c : f32
    %t = math.tanh %y : f32
    %z = arith.mulf %t, %c : f32
    attn.yield %z : f32"""


def operand_types(b, hq, hkv, sq, skv, d, dv, elt):
    """The types of Q, K, V and the output."""
    return (f"tensor<{b}x{hq}x{sq}x{d}x{elt}>", f"tensor<{b}x{hkv}x{skv}x{d}x{elt}>",
            f"tensor<{b}x{hkv}x{skv}x{dv}x{elt}>", f"tensor<{b}x{hq}x{sq}x{dv}x{elt}>")


def length():
    """A sequence length: now and then the edges 0 (an empty tensor) and 1."""
    edge = rng.random()
    if edge < 0.04:
        return 0
    if edge < 0.12:
        return 1
    return rng.randint(2, 90)


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
    args = [f"%q: {qt}", f"%k: {kt}", f"%v: {vt}"]
    if use_sinks:
        args.append(f"%sk: tensor<{hq}xf32>")
    results = [ot] + ([lt] if use_lse else [])
    names = "%o, %l" if use_lse else "%o"
    sinks = f" sinks(%sk : tensor<{hq}xf32>)" if use_sinks else ""
    text = f"func.func @f({', '.join(args)}) -> ({', '.join(results)}) {{\n"
    text += (f"  {names} = attn.attention {kind} %q, %k, %v [{', '.join(pats)}]{sinks}"
             f" : {qt}, {kt}, {vt} -> {', '.join(results)}")
    if score_mod:
        text += " score_mod {\n" + SCORE_MOD + "\n  }"
    if predicate:
        text += " mask {\n" + predicate + "\n  }"
    text += f"\n  return {names} : {', '.join(results)}\n}}\n"
    return text


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
    status = "ok" if proc.returncode == 0 else "FAIL"
    print(f"case{n} {options}: {status} {proc.stdout.strip()}")
    if proc.returncode != 0:
        failures += 1
        print(text)
        print(proc.stderr)
print(f"differential: {count - failures} of {count} agree")
sys.exit(1 if failures else 0)
