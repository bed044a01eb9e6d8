"""Property test of the mask analysis' interval rules: random predicate
regions over the whole modelled index op set (and ops it must decline),
on differences that are negative and positive. For each program:

  1. `attn-opt --attn-test-mask-analysis` prints the class of every
     (query tile, key tile) pair as the kernels compute it; a brute-force
     evaluation of the region here (64-bit two's-complement semantics,
     written independently of the compiler) checks that no kept pair lies
     in a tile called empty and no masked pair in a tile called full;
  2. `attn-run --pipeline=cpu` and `--pipeline=gpu-emulated` with small
     random tiles agree with the reference interpreter (--check).

usage: mask_analysis_property.py ATTN_OPT ATTN_RUN WORKDIR COUNT SEED"""
import os
import random
import re
import subprocess
import sys

attn_opt, attn_run, work, count, seed = sys.argv[1:6]
count, seed = int(count), int(seed)
os.makedirs(work, exist_ok=True)
MASK = (1 << 64) - 1


def s64(x):
    x &= MASK
    return x - (1 << 64) if x >> 63 else x


def u64(x):
    return x & MASK


def trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


INDEX_BIN = {
    "addi": lambda a, b: s64(a + b),
    "subi": lambda a, b: s64(a - b),
    "muli": lambda a, b: s64(a * b),
    "divsi": lambda a, b: s64(trunc_div(a, b)),
    "floordivsi": lambda a, b: s64(a // b),
    "ceildivsi": lambda a, b: s64(-((-a) // b)),
    "divui": lambda a, b: s64(u64(a) // u64(b)),
    "remsi": lambda a, b: s64(a - b * trunc_div(a, b)),
    "remui": lambda a, b: s64(u64(a) % u64(b)),
    "minsi": min,
    "maxsi": max,
    "minui": lambda a, b: a if u64(a) <= u64(b) else b,
    "maxui": lambda a, b: a if u64(a) >= u64(b) else b,
    "shli": lambda a, b: s64(a << b),
    "shrsi": lambda a, b: a >> b,
    "shrui": lambda a, b: s64(u64(a) >> b),
}
# Ops whose right operand is a constant: a positive divisor, a shift amount.
CONST_RHS = {"divsi", "floordivsi", "ceildivsi", "divui", "remsi", "remui",
             "shli", "shrsi", "shrui"}
CMP = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "slt": lambda a, b: a < b, "sle": lambda a, b: a <= b,
    "sgt": lambda a, b: a > b, "sge": lambda a, b: a >= b,
    "ult": lambda a, b: u64(a) < u64(b), "ule": lambda a, b: u64(a) <= u64(b),
    "ugt": lambda a, b: u64(a) > u64(b), "uge": lambda a, b: u64(a) >= u64(b),
}


class Region:
    """A random predicate region: its MLIR lines and a program to evaluate."""

    def __init__(self, rng, skv):
        self.rng, self.lines, self.prog = rng, [], []
        self.ints, self.bools, self.n = ["%i", "%j", "%h"], [], 0
        for _ in range(rng.randint(3, 9)):
            self.step(skv)
        if not self.bools:
            self.emit("arith.cmpi sle, {}, %i : index", "cmp_sle", [self.ints[-1], "%i"],
                      self.bools)
        # Combine the last two conditions so that several ops matter.
        self.keep = self.bools[-1]
        if len(self.bools) > 1:
            self.keep = self.emit("arith.ori {}, {} : i1", "ori",
                                  [self.bools[-1], self.bools[-2]], self.bools)

    def emit(self, fmt, op, args, into):
        self.n += 1
        name = f"%v{self.n}"
        self.lines.append(f"    {name} = " + fmt.format(*args))
        self.prog.append((name, op, args))
        into.append(name)
        return name

    def const(self, value):
        return self.emit(f"arith.constant {value} : index", "const", [value], [])

    def step(self, skv):
        rng, ints, bools = self.rng, self.ints, self.bools
        kind = rng.random()
        if kind < 0.55:
            op = rng.choice(list(INDEX_BIN))
            a = rng.choice(ints)
            if op in CONST_RHS:
                b = self.const(rng.randint(0, 5) if op.startswith("sh") else rng.randint(1, 9))
            else:
                b = rng.choice(ints + [self.const(rng.randint(-3 * skv, 3 * skv))])
            self.emit(f"arith.{op} {{}}, {{}} : index", op, [a, b], ints)
        elif kind < 0.65:
            self.emit("math.absi {} : index", "absi", [rng.choice(ints)], ints)
        elif kind < 0.72:
            op = rng.choice(["index_cast", "index_castui"])
            wide = self.emit(f"arith.{op} {{}} : index to i64", "copy", [rng.choice(ints)], [])
            self.emit(f"arith.{op} {{}} : i64 to index", "copy", [wide], ints)
        elif kind < 0.9 or not bools:
            pred = rng.choice(list(CMP))
            b = rng.choice(ints + [self.const(rng.randint(-skv, 2 * skv))])
            self.emit(f"arith.cmpi {pred}, {{}}, {{}} : index", "cmp_" + pred,
                      [rng.choice(ints), b], bools)
        elif rng.random() < 0.5:
            self.emit("arith.select {}, {}, {} : index", "select",
                      [rng.choice(bools), rng.choice(ints), rng.choice(ints)], ints)
        else:
            op = rng.choice(["andi", "ori", "xori"])
            self.emit(f"arith.{op} {{}}, {{}} : i1", op,
                      [rng.choice(bools), rng.choice(bools)], bools)

    def kept(self, b, h, i, j):
        env = {"%b": b, "%h": h, "%i": i, "%j": j}
        for name, op, args in self.prog:
            x = [env.get(a) for a in args]
            if op == "const":
                env[name] = args[0]
            elif op == "copy":
                env[name] = x[0]
            elif op == "absi":
                env[name] = s64(abs(x[0]))
            elif op.startswith("cmp_"):
                env[name] = CMP[op[4:]](x[0], x[1])
            elif op == "select":
                env[name] = x[1] if x[0] else x[2]
            elif op in ("andi", "ori", "xori"):
                env[name] = {"andi": x[0] and x[1], "ori": x[0] or x[1],
                             "xori": x[0] != x[1]}[op]
            else:
                env[name] = INDEX_BIN[op](x[0], x[1])
        return bool(env[self.keep])


def pattern_keeps(pattern, i, j, sq, skv):
    aligned = i + skv - sq
    if pattern == "#attn.causal":
        return j <= aligned
    if pattern:
        return aligned - 5 <= j <= aligned
    return True


def check_classes(output, region, pattern, sq, skv, tkv):
    """Brute force over every tile called empty or full."""
    bad, tiles = [], 0
    for m in re.finditer(r"h(\d+) q\[(\d+), (\d+)\) keys \[\S+, \S+\) (\S+)", output):
        h, i0, i1, classes = int(m[1]), int(m[2]), int(m[3]), m[4]
        for t, c in enumerate(classes):
            if c not in ".F":
                continue
            tiles += 1
            for i in range(i0, i1):
                for j in range(t * tkv, min((t + 1) * tkv, skv)):
                    kept = region.kept(0, h, i, j) and pattern_keeps(pattern, i, j, sq, skv)
                    if kept == (c == "."):
                        bad.append(f"h{h} q{i} k{j} {'kept' if kept else 'masked'} "
                                   f"in a tile called {c!r}")
    return bad, tiles


rng = random.Random(seed)
failures = checked_tiles = 0
for n in range(count):
    sq, skv, hq = rng.randint(1, 40), rng.randint(1, 40), rng.choice([1, 2])
    tq, tkv = rng.randint(1, 8), rng.randint(1, 8)
    region = Region(rng, skv)
    pattern = rng.choice(["", "#attn.causal", "#attn.window<left = 5, right = 0>"])
    qt, kt, vt, ot = (f"tensor<1x{hq}x{sq}x8xf32>", f"tensor<1x{hq}x{skv}x8xf32>",
                      f"tensor<1x{hq}x{skv}x4xf32>", f"tensor<1x{hq}x{sq}x4xf32>")
    text = (f"func.func @f(%q: {qt}, %k: {kt}, %v: {vt}) -> {ot} {{\n"
            f"  %o = attn.attention softmax %q, %k, %v [{pattern}] : {qt}, {kt}, {vt} -> {ot}\n"
            "  mask {\n  ^bb0(%b: index, %h: index, %i: index, %j: index):\n"
            + "\n".join(region.lines) + f"\n    attn.yield {region.keep} : i1\n  }}\n"
            f"  return %o : {ot}\n}}\n")
    path = os.path.join(work, f"case{n}.mlir")
    with open(path, "w") as fh:
        fh.write(text)
    r = subprocess.run([attn_opt, path, f"--attn-test-mask-analysis=tile-q={tq} tile-kv={tkv}",
                        "-o", os.devnull], capture_output=True, text=True)
    bad, tiles = check_classes(r.stdout, region, pattern, sq, skv, tkv)
    checked_tiles += tiles
    if r.returncode != 0:
        bad.append(f"attn-opt: {r.stderr.strip()}")
    for pipeline, opts in (("cpu", f"--cpu-options=tile-q={4 * tq} tile-kv={8 * tkv}"),
                           ("gpu-emulated", f"--gpu-options=block-q={tq} block-kv={tkv}")):
        p = subprocess.run([attn_run, path, f"--pipeline={pipeline}", opts, "--random-args",
                            f"--seed={n}", "--check"], capture_output=True, text=True,
                           env=dict(os.environ, KMP_BLOCKTIME="0"))
        if p.returncode != 0:
            bad.append(f"{pipeline}: {p.stderr.strip().splitlines()[:1]}")
    print(f"case{n} tiles {tq}x{tkv}: {'FAIL' if bad else 'ok'}")
    if bad:
        failures += 1
        print(text + "\n".join("    " + line for line in bad[:5]))
print(f"mask analysis property: {count - failures} of {count} sound "
      f"({checked_tiles} empty/full tiles checked)")
sys.exit(1 if failures else 0)
