"""Pieces of the random attention programs the differential drivers draw
(differential.py, ring_differential.py): mask patterns, predicate and
score_mod regions, sequence lengths and operand types."""


class Draw:
    """Draws from `rng` (a random.Random): the same seed, the same programs."""

    def __init__(self, rng):
        self.rng = rng

    def pattern(self, hq):
        rng = self.rng
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

    def patterns(self, hq):
        choice = self.rng.random()
        if choice < 0.15:
            return []
        if choice < 0.55:
            return [self.pattern(hq)]
        if choice < 0.8:
            return [self.pattern(hq), self.pattern(hq)]
        return [f"#attn.any<[{self.pattern(hq)}, {self.pattern(hq)}]>"]

    def length(self):
        """A sequence length: now and then the edges 0 (an empty tensor) and 1."""
        edge = self.rng.random()
        if edge < 0.04:
            return 0
        if edge < 0.12:
            return 1
        return self.rng.randint(2, 90)


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


def attention_function(types, kind, pats, hq, use_sinks, use_lse, predicate, score_mod,
                       extra_args=(), operands=""):
    """func.func @f around one attn.attention. `types`: Q, K, V, output and
    lse types; `extra_args` and `operands`: mask data (arguments and the
    operand list after the patterns)."""
    qt, kt, vt, ot, lt = types
    args = [f"%q: {qt}", f"%k: {kt}", f"%v: {vt}", *extra_args]
    if use_sinks:
        args.append(f"%sk: tensor<{hq}xf32>")
    results = [ot] + ([lt] if use_lse else [])
    names = "%o, %l" if use_lse else "%o"
    sinks = f" sinks(%sk : tensor<{hq}xf32>)" if use_sinks else ""
    text = f"func.func @f({', '.join(args)}) -> ({', '.join(results)}) {{\n"
    text += (f"  {names} = attn.attention {kind} %q, %k, %v [{', '.join(pats)}]{operands}{sinks}"
             f" : {qt}, {kt}, {vt} -> {', '.join(results)}")
    if score_mod:
        text += " score_mod {\n" + SCORE_MOD + "\n  }"
    if predicate:
        text += " mask {\n" + predicate + "\n  }"
    text += f"\n  return {names} : {', '.join(results)}\n}}\n"
    return text
