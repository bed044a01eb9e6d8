"""Differential test of the scan form (attn-scan) against the reference
interpreter.

usage: scan_differential.py ATTN_RUN WORKDIR COUNT SEED [grad]
Draws COUNT random programs of one query attending to every prefix -- the
query broadcast over the rows by linalg.broadcast or a linalg.generic copy,
then attn.score -> attn.mask [#attn.causal] -> attn.aggregate -- over
Sq < / = / > Skv, GQA, f32/f16/bf16, softmax (with sinks and lse), sigmoid
and none, score_mod and key-only predicates (key padding, which leaves the
first rows fully masked), dynamic B and S, random chunk lengths and vector
widths. Each program must take the scan form (attn-opt --attn-fuse
--attn-scan leaves no attn.attention) and agree with the reference through
`attn-run --pipeline=cpu --check`.

With "grad", each program's gradient (attn-grad's @f_grad) is checked
instead (`attn-run --grad --check`, against the reference's reverse mode),
and attn-scan must also take the backward (no attn.attention_grad left)
unless the program has a score_mod, whose backward is the tiled one.
"""
import os
import random
import subprocess
import sys

import numpy as np

attn_run, work, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
grad = len(sys.argv) > 5 and sys.argv[5] == "grad"
attn_opt = os.path.join(os.path.dirname(attn_run), "attn-opt") if os.sep in attn_run else "attn-opt"
os.makedirs(work, exist_ok=True)
rng = random.Random(seed)
nprng = np.random.default_rng(seed)
failures = 0


def ty(shape, elt):
    return "tensor<" + "x".join(str(s) for s in shape) + f"x{elt}>"


for n in range(count):
    b, hkv = rng.randint(1, 2), rng.choice([1, 2])
    hq = hkv * rng.choice([1, 2])
    dynamic = rng.random() < 0.2
    skv = rng.randint(1, 300)
    # Static query lengths up to 8 are the tiled decode kernel's.
    sq = skv if dynamic or (skv > 8 and rng.random() < 0.5) else rng.randint(9, 300)
    d, dv = rng.choice([4, 8, 16, 24, 32]), rng.choice([4, 8, 16, 20])
    kind = rng.choice(["softmax"] * 4 + ["sigmoid", "none"])
    elt = rng.choice(["f32", "f32", "f16", "bf16"]) if kind == "softmax" else "f32"
    sinks = kind == "softmax" and rng.random() < 0.3
    lse = kind == "softmax" and rng.random() < 0.5
    # attn-grad has no derivative of a generic whose map has a constant.
    style = rng.choice(["bcast", "bcast-heads", "generic"] + ([] if grad else ["generic-row"]))
    mod = rng.choice([None, "softcap", "bias"] if not dynamic else [None, "softcap"])
    pred = rng.choice([None, None, "pad", "stride"])
    B, S, SQ = ("?", "?", "?") if dynamic else (b, skv, sq)

    qshape = {"bcast": [B, hq, d], "bcast-heads": [hq, d], "generic": [B, hq, d],
              "generic-row": [B, hq, 1, d]}[style]
    kt, vt = ty([B, hkv, S, d], elt), ty([B, hkv, S, dv], elt)
    qbt, st, ot = ty([B, hq, SQ, d], elt), ty([B, hq, SQ, S], "f32"), ty([B, hq, SQ, dv], elt)
    lt = ty([B, hq, SQ], "f32")
    args = [f"%q: {ty(qshape, elt)}", f"%k: {kt}", f"%v: {vt}"]
    if sinks:
        args.append(f"%sk: tensor<{hq}xf32>")
    if mod == "bias":
        args.append(f"%bias: tensor<{hq}x{skv}xf32>")
    body = ""
    if dynamic:
        body += ("  %c0 = arith.constant 0 : index\n  %c2 = arith.constant 2 : index\n"
                 f"  %nb = tensor.dim %k, %c0 : {kt}\n  %ns = tensor.dim %k, %c2 : {kt}\n"
                 f"  %e = tensor.empty(%nb, %ns) : {qbt}\n")
    else:
        body += f"  %e = tensor.empty() : {qbt}\n"
    if style in ("bcast", "bcast-heads"):
        dims = "[2]" if style == "bcast" else "[0, 2]"
        body += (f"  %qb = linalg.broadcast ins(%q : {ty(qshape, elt)}) outs(%e : {qbt})"
                 f" dimensions = {dims}\n")
    else:
        imap = ("affine_map<(b, h, i, d) -> (b, h, d)>" if style == "generic"
                else "affine_map<(b, h, i, d) -> (b, h, 0, d)>")
        body += (f"  %qb = linalg.generic {{indexing_maps = [{imap}, affine_map<(b, h, i, d) -> (b, h, i, d)>],"
                 f" iterator_types = [\"parallel\", \"parallel\", \"parallel\", \"parallel\"]}}"
                 f" ins(%q : {ty(qshape, elt)}) outs(%e : {qbt}) {{\n"
                 f"  ^bb0(%x: {elt}, %y: {elt}):\n    linalg.yield %x : {elt}\n  }} -> {qbt}\n")
    scale = rng.choice([None, 0.3])
    attr = f" {{scale = {scale} : f32}}" if scale else ""
    body += f"  %s = attn.score %qb, %k{attr} : {qbt}, {kt} -> {st}\n"
    cur = "%s"
    if mod:
        body += (f"  %t = attn.score_mod %s : {st} {{\n"
                 "  ^bb0(%x: f32, %bi: index, %h: index, %i: index, %j: index):\n")
        if mod == "softcap":
            body += ("    %c = arith.constant 2.0 : f32\n    %y = arith.divf %x, %c : f32\n"
                     "    %z = math.tanh %y : f32\n    %w = arith.mulf %z, %c : f32\n"
                     "    attn.yield %w : f32\n  }\n")
        else:
            body += ("    %a = tensor.extract %bias[%h, %j] : " + f"tensor<{hq}x{skv}xf32>\n"
                     "    %w = arith.addf %x, %a : f32\n    attn.yield %w : f32\n  }\n")
        cur = "%t"
    if pred:
        body += (f"  %m = attn.mask {cur} [#attn.causal] : {st} {{\n"
                 "  ^bb0(%bi: index, %h: index, %i: index, %j: index):\n")
        if pred == "pad":  # the first keys are padding
            body += (f"    %p = arith.constant {rng.randint(0, 40)} : index\n"
                     "    %keep = arith.cmpi uge, %j, %p : index\n")
        else:
            body += ("    %c3 = arith.constant 3 : index\n    %c1 = arith.constant 1 : index\n"
                     "    %r = arith.remui %j, %c3 : index\n"
                     "    %keep = arith.cmpi ne, %r, %c1 : index\n")
        body += "    attn.yield %keep : i1\n  }\n"
    else:
        body += f"  %m = attn.mask {cur} [#attn.causal] : {st}\n"
    sk = f" sinks(%sk)" if sinks else ""
    skt = f", tensor<{hq}xf32>" if sinks else ""
    if lse:
        body += (f"  %o, %l = attn.aggregate {kind} %m, %v{sk} : {st}, {vt}{skt} -> {ot}, {lt}\n")
        rets, rtys = "%o, %l", f"{ot}, {lt}"
    else:
        body += f"  %o = attn.aggregate {kind} %m, %v{sk} : {st}, {vt}{skt} -> {ot}\n"
        rets, rtys = "%o", ot
    text = f"func.func @f({', '.join(args)}) -> ({rtys}) {{\n{body}  return {rets} : {rtys}\n}}\n"
    path = os.path.join(work, f"case{n}.mlir")
    with open(path, "w") as f:
        f.write(text)

    chunk = rng.choice([1, 5, 16, 64, 0])
    vw = rng.choice([8, 16])
    cmd = [attn_run, path, "--pipeline=cpu", "--check",
           f"--cpu-options=scan-chunk={chunk} vector-width={vw}"] + (["--grad"] if grad else [])
    if dynamic:
        # Arrays of the drawn sizes (bf16 is exchanged as float32): the
        # arguments, then (grad) the cotangents of o and lse.
        shapes = [{"bcast-heads": [hq, d], "generic-row": [b, hq, 1, d]}.get(style, [b, hq, d]),
                  [b, hkv, skv, d], [b, hkv, skv, dv]] + ([[hq]] if sinks else [])
        half = [a < 3 for a in range(len(shapes))]
        if grad:
            shapes += [[b, hq, sq, dv]] + ([[b, hq, sq]] if lse else [])
            half += [True] + ([False] if lse else [])
        for a, shape in enumerate(shapes):
            arr = nprng.standard_normal(shape).astype(np.float16 if elt == "f16" and half[a] else np.float32)
            np.save(os.path.join(work, f"case{n}-{a}.npy"), arr)
            cmd.append(f"--arg={os.path.join(work, f'case{n}-{a}.npy')}")
    else:
        cmd += ["--random-args", f"--seed={n}"]
    passes = ["--attn-grad", "--attn-fuse", "--attn-scan"] if grad else ["--attn-fuse", "--attn-scan"]
    form = subprocess.run([attn_opt, path] + passes, capture_output=True, text=True)
    # The forward is always scanned; the backward unless it has a score_mod.
    scanned = (form.returncode == 0 and "attn.attention " not in form.stdout and
               ("attn.attention_grad" in form.stdout) == (grad and bool(mod)))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    ok = proc.returncode == 0 and scanned
    print(f"case{n} chunk={chunk} vector-width={vw}: {'ok' if ok else 'FAIL'}"
          f"{'' if scanned else ' (not the scan form)'} {proc.stdout.strip()}")
    if not ok:
        failures += 1
        print(text)
        print(proc.stderr, form.stderr)
print(f"scan differential{' (grad)' if grad else ''}: {count - failures} of {count} agree")
