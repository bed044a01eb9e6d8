"""The programs of the GPU device check (scripts/device-check.sh): small
correctness cases covering the forms, dtypes and edges, and the GPU benchmark
shapes (docs/gpu.md). Each case has its MLIR program, how to draw its inputs,
and its reference, written once over an array module (NumPy here for the
local CPU rehearsal, PyTorch float64 on the GPU machine).
"""
import math

BENCH_B, BENCH_H, BENCH_D = 4, 16, 128


def t(shape, elt):
    return "tensor<" + "x".join(str(s) for s in shape) + f"x{elt}>"


def attention_program(name, b, hq, hkv, sq, skv, d, dv, elt, patterns="", operands=(),
                      lse=False, sinks=False):
    """score -> mask -> aggregate softmax; `operands`: (name, type) of the
    mask's dynamic operands."""
    qt, kt, vt = t([b, hq, sq, d], elt), t([b, hkv, skv, d], elt), t([b, hkv, skv, dv], elt)
    st, ot, lt = t([b, hq, sq, skv], "f32"), t([b, hq, sq, dv], elt), t([b, hq, sq], "f32")
    args = [f"%q: {qt}", f"%k: {kt}", f"%v: {vt}"] + [f"%{n}: {ty}" for n, ty in operands]
    if sinks:
        args.append(f"%sk: tensor<{hq}xf32>")
    body = f"  %s = attn.score %q, %k : {qt}, {kt} -> {st}\n"
    ops = ""
    if operands:
        ops = " (" + ", ".join(f"%{n}" for n, _ in operands) + ")"
        tys = ", " + ", ".join(ty for _, ty in operands)
    else:
        tys = ""
    body += f"  %m = attn.mask %s [{patterns}]{ops} : {st}{tys}\n"
    sk = " sinks(%sk)" if sinks else ""
    skt = f", tensor<{hq}xf32>" if sinks else ""
    if lse:
        body += f"  %o, %l = attn.aggregate softmax %m, %v{sk} : {st}, {vt}{skt} -> {ot}, {lt}\n"
        ret, rty = "%o, %l", f"{ot}, {lt}"
    else:
        body += f"  %o = attn.aggregate softmax %m, %v{sk} : {st}, {vt}{skt} -> {ot}\n"
        ret, rty = "%o", ot
    return f"func.func @{name}({', '.join(args)}) -> ({rty}) {{\n{body}  return {ret} : {rty}\n}}\n"


def linear_program(name, b, h, s, d, dv):
    ft, vt = t([b, h, s, d], "f32"), t([b, h, s, dv], "f32")
    return (f"func.func @{name}(%q: {ft}, %k: {ft}, %v: {vt}, %l: tensor<{h}xf32>) -> {vt} {{\n"
            f"  %o = attn.linear_aggregate %q, %k, %v decay(%l) {{causal}} : {ft}, {ft}, {vt}, "
            f"tensor<{h}xf32> -> {vt}\n  return %o : {vt}\n}}\n")


def scan_program(name, b, h, s, d):
    qt, kt = t([b, h, d], "f32"), t([b, h, s, d], "f32")
    st = t([b, h, s, s], "f32")
    return (f"func.func @{name}(%q: {qt}, %k: {kt}, %v: {kt}) -> {kt} {{\n"
            f"  %e = tensor.empty() : {kt}\n"
            f"  %qb = linalg.broadcast ins(%q : {qt}) outs(%e : {kt}) dimensions = [2]\n"
            f"  %s = attn.score %qb, %k : {kt}, {kt} -> {st}\n"
            f"  %m = attn.mask %s [#attn.causal] : {st}\n"
            f"  %o = attn.aggregate softmax %m, %v : {st}, {kt} -> {kt}\n  return %o : {kt}\n}}\n")


def cases():
    """name -> case dict: program, inputs [(name, shape, kind)], reference
    (kind and parameters), dtype, bench (peers) or None."""
    c = {}

    def add(name, program, inputs, ref, elt="f32", bench=None):
        c[name] = dict(program=program, inputs=inputs, ref=ref, elt=elt, bench=bench)

    def qkv(b, hq, hkv, sq, skv, d, dv):
        return [("q", [b, hq, sq, d], "normal"), ("k", [b, hkv, skv, d], "normal"),
                ("v", [b, hkv, skv, dv], "normal")]

    add("causal_gqa_f32", attention_program("causal_gqa_f32", 2, 8, 2, 300, 300, 64, 64, "f32",
                                            "#attn.causal"),
        qkv(2, 8, 2, 300, 300, 64, 64), dict(kind="attention", mask="causal"))
    add("dense_lse_bf16", attention_program("dense_lse_bf16", 1, 4, 4, 257, 257, 128, 128, "bf16",
                                            lse=True),
        qkv(1, 4, 4, 257, 257, 128, 128), dict(kind="attention", mask="none", lse=True), "bf16")
    add("window_sinks_f16", attention_program("window_sinks_f16", 1, 4, 2, 200, 333, 64, 64, "f16",
                                              "#attn.window<left = 63, right = 0>", sinks=True),
        qkv(1, 4, 2, 200, 333, 64, 64) + [("sk", [4], "normal")],
        dict(kind="attention", mask="window", left=63, right=0, sinks=True), "f16")
    add("causal_empty_rows", attention_program("causal_empty_rows", 1, 2, 2, 300, 200, 32, 32,
                                               "f32", "#attn.causal"),
        qkv(1, 2, 2, 300, 200, 32, 32), dict(kind="attention", mask="causal"))
    add("block_mask", attention_program("block_mask", 1, 4, 4, 512, 512, 64, 64, "f32",
                                        "#attn.block_mask<block_q = 64, block_kv = 64>",
                                        [("bm", t([1, 4, 8, 8], "i1"))]),
        qkv(1, 4, 4, 512, 512, 64, 64) + [("bm", [1, 4, 8, 8], "bool0.3")],
        dict(kind="attention", mask="block", block=64))
    add("documents", attention_program("documents", 1, 2, 2, 384, 384, 64, 64, "f32",
                                       "#attn.causal, #attn.segments",
                                       [("qs", t([1, 384], "i32")), ("ks", t([1, 384], "i32"))]),
        qkv(1, 2, 2, 384, 384, 64, 64) + [("qs", [1, 384], "docs5"), ("ks", [1, 384], "docs5")],
        dict(kind="attention", mask="causal+segments"))
    # Dynamic B and S: one compiled object, sizes from the inputs.
    add("dynamic_causal", attention_program("dynamic_causal", "?", 2, 2, "?", "?", 32, 32, "f32",
                                            "#attn.causal"),
        qkv(3, 2, 2, 77, 130, 32, 32), dict(kind="attention", mask="causal"))
    add("linear_decay", linear_program("linear_decay", 1, 4, 256, 32, 32),
        [("q", [1, 4, 256, 32], "uniform"), ("k", [1, 4, 256, 32], "uniform"),
         ("v", [1, 4, 256, 32], "uniform"), ("l", [4], "decay")],
        dict(kind="linear"))
    add("aaren_scan", scan_program("aaren_scan", 1, 4, 512, 64),
        [("q", [1, 4, 64], "normal"), ("k", [1, 4, 512, 64], "normal"), ("v", [1, 4, 512, 64], "normal")],
        dict(kind="scan"))

    B, H, D = BENCH_B, BENCH_H, BENCH_D
    for name, s, patterns, operands, extra, ref in (
            ("bench_causal", 8192, "#attn.causal", [], [], dict(kind="attention", mask="causal")),
            ("bench_dense", 8192, "", [], [], dict(kind="attention", mask="none")),
            ("bench_block_sparse", 8192, "#attn.block_mask<block_q = 128, block_kv = 128>",
             [("bm", t([1, 1, 64, 64], "i1"))], [("bm", [1, 1, 64, 64], "bool0.1")],
             dict(kind="attention", mask="block", block=128)),
            ("bench_window", 32768, "#attn.window<left = 1023, right = 0>", [], [],
             dict(kind="attention", mask="window", left=1023, right=0))):
        add(name, attention_program(name, B, H, H, s, s, D, D, "bf16", patterns, operands),
            qkv(B, H, H, s, s, D, D) + extra, ref, "bf16", bench=dict(seq=s))
    return c


def draw(kind, shape, rng, np):
    """Inputs as float32 (bf16 and f16 are rounded by the caller), bool or
    int32 arrays."""
    if kind == "normal":
        return rng.standard_normal(shape).astype(np.float32)
    if kind == "uniform":
        return rng.uniform(-1, 1, shape).astype(np.float32)
    if kind == "decay":
        return rng.uniform(0.5, 0.999, shape).astype(np.float32)
    if kind.startswith("bool"):
        return rng.random(shape) < float(kind[4:])
    if kind.startswith("docs"):
        n = int(kind[4:])
        cuts = np.sort(rng.choice(np.arange(1, shape[-1]), n - 1, replace=False))
        ids = np.zeros(shape[-1], np.int32)
        for c in cuts:
            ids[c:] += 1
        return np.broadcast_to(ids, shape).astype(np.int32).copy()
    raise ValueError(kind)


class Ops:
    """The few array operations the references use, for NumPy or PyTorch."""

    def __init__(self, module, device="cpu"):
        self.m = module
        self.torch = module.__name__ == "torch"
        self.device = device

    def arange(self, n):
        # On the inputs' device: torch does not mix devices in one op.
        return self.m.arange(n, device=self.device) if self.torch else self.m.arange(n)

    def where(self, c, x, y):
        return self.m.where(c, x, y)

    def exp(self, x):
        return self.m.exp(x)

    def log(self, x):
        return self.m.log(x)

    def zeros_like(self, x):
        return self.m.zeros_like(x)

    def maximum(self, x, y):
        return self.m.maximum(x, y)

    def amax(self, x):
        return x.amax(-1, keepdim=True) if self.torch else x.max(-1, keepdims=True)

    def sum(self, x):
        return x.sum(-1, keepdim=True) if self.torch else x.sum(-1, keepdims=True)

    def repeat(self, x, g):
        return self.m.repeat_interleave(x, g, 1) if self.torch else self.m.repeat(x, g, axis=1)

    def broadcast_rows(self, q, s):
        """[B, H, D] -> [B, H, S, D]."""
        q = q[:, :, None, :]
        return q.expand(-1, -1, s, -1) if self.torch else self.m.broadcast_to(
            q, (q.shape[0], q.shape[1], s, q.shape[3]))


def reference(case, x, T, row0=0, sq_full=None):
    """The case's results in float64 from its inputs `x` (name -> array;
    T: Ops over numpy or torch), following the semantics of docs/language.md
    (section 2). The query rows may be a slice starting at row `row0` of
    `sq_full` rows (the benchmark shapes' float64 scores would not fit
    otherwise)."""
    ref = case["ref"]
    if ref["kind"] == "linear":
        q, k, v, lam = x["q"], x["k"], x["v"], x["l"]
        s = q.shape[2]
        e = T.arange(s)[:, None] - T.arange(s)[None, :]
        past = e >= 0
        w = T.where(past[None], lam[:, None, None] ** T.where(past, e, 0 * e)[None],
                    0 * lam[:, None, None])
        return [((q @ k.swapaxes(-1, -2)) * w[None]) @ v]
    if ref["kind"] == "scan":
        q = T.broadcast_rows(x["q"], x["k"].shape[2])
        return _softmax_attention({"q": q, "k": x["k"], "v": x["v"]}, dict(mask="causal"), T)
    return _softmax_attention(x, ref, T, row0, sq_full)


def _softmax_attention(x, ref, T, row0=0, sq_full=None):
    q, k, v = x["q"], x["k"], x["v"]
    sq, d = q.shape[2], q.shape[3]
    skv = k.shape[2]
    g = q.shape[1] // k.shape[1]
    k, v = T.repeat(k, g), T.repeat(v, g)
    s = (q @ k.swapaxes(-1, -2)) / math.sqrt(d)
    sq_full = sq_full or sq
    rows = T.arange(sq) + row0
    i = rows[:, None] + (skv - sq_full)  # aligned bottom-right
    j = T.arange(skv)[None, :]
    keep = j >= 0 * i
    mask = ref.get("mask", "none")
    if "causal" in mask:
        keep = keep & (j <= i)
    if mask == "window":
        keep = keep & (j >= i - ref["left"]) & (j <= i + ref["right"])
    keep = keep[None, None]
    if mask == "block":
        bq, bk = rows // ref["block"], T.arange(skv) // ref["block"]
        keep = keep & x["bm"][:, :, bq][:, :, :, bk]
    if "segments" in mask:
        keep = keep & (x["qs"][:, None, row0:row0 + sq, None] == x["ks"][:, None, None, :])
    ninf = float("-inf")
    s = T.where(keep, s, ninf + 0 * s)
    m = T.amax(s)
    if ref.get("sinks"):
        m = T.maximum(m, x["sk"][None, :, None, None] + 0 * m)
    m = T.where(m == ninf, T.zeros_like(m), m)
    p = T.exp(s - m)
    den = T.sum(p)
    if ref.get("sinks"):
        den = den + T.exp(x["sk"][None, :, None, None] - m)
    num = p @ v
    out = T.where(den > 0, num / T.where(den > 0, den, 1 + 0 * den), 0 * num)
    results = [out]
    if ref.get("lse"):
        results.append((m + T.log(den))[..., 0])
    return results


def flops(case):
    """FLOPs of one call counted like attn-run: 4 B H D per visible pair."""
    x = {n: s for n, s, _ in case["inputs"]}
    b, h, sq, d = x["q"]
    skv = x["k"][2]
    ref = case["ref"]
    pairs = sq * skv
    if ref.get("mask") == "causal":
        pairs = sq * (sq + 1) // 2
    elif ref.get("mask") == "window":
        pairs = sum(min(i + 1, ref["left"] + 1) for i in range(sq))
    elif ref.get("mask") == "block":
        pairs = int(pairs * float([k for n, _, k in case["inputs"] if n == "bm"][0][4:]))
    return 4.0 * b * h * d * pairs
