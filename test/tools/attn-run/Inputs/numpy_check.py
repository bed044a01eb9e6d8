"""An independent NumPy oracle for attn-run: writes small programs, runs them
through attn-run (naive and reference pipelines) with .npy inputs/outputs and
compares with NumPy implementations written from the semantics in docs/language.md.

usage: numpy_check.py ATTN_RUN WORKDIR
"""
import os
import subprocess
import sys

import numpy as np

attn_run, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(7)
failures = []


def run(name, program, inputs, num_outputs, pipeline):
    path = os.path.join(work, name + ".mlir")
    with open(path, "w") as f:
        f.write(program)
    args = []
    for i, a in enumerate(inputs):
        p = os.path.join(work, f"{name}.in{i}.npy")
        np.save(p, a)
        args.append("--arg=" + p)
    outs = [os.path.join(work, f"{name}.{pipeline}.out{i}.npy") for i in range(num_outputs)]
    cmd = [attn_run, path, "--pipeline=" + pipeline] + args + ["--out=" + o for o in outs]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{name}: attn-run failed ({proc.returncode}): {proc.stderr}")
    return [np.load(o) for o in outs]


def compare(name, inputs, program, expected, tol):
    for pipeline in ("naive", "cpu", "reference"):
        got = run(name, program, inputs, len(expected), pipeline)
        for i, (g, e) in enumerate(zip(got, expected)):
            g64 = g.astype(np.float64)
            if g.shape != e.shape:
                failures.append(f"{name}/{pipeline} result {i}: shape {g.shape} vs {e.shape}")
                continue
            if np.isnan(g64).any():
                failures.append(f"{name}/{pipeline} result {i}: NaN")
                continue
            same_inf = np.isinf(e) & (g64 == e)
            err = np.where(same_inf, 0.0, np.abs(g64 - e))
            bound = tol + tol * np.where(np.isinf(e), 0.0, np.abs(e))
            if not (err <= bound).all():
                failures.append(f"{name}/{pipeline} result {i}: max err {np.nanmax(err):.3e}")
            print(f"{name}/{pipeline} result {i}: max_err={np.max(err):.3e}")


def sdpa(q, k, v, scale, keep, sinks=None):
    """O and lse per docs/language.md: masked = -inf, fully masked row -> 0 / -inf."""
    b, hq, sq, d = q.shape
    hkv = k.shape[1]
    g = hq // hkv
    kk = np.repeat(k.astype(np.float64), g, axis=1)
    vv = np.repeat(v.astype(np.float64), g, axis=1)
    s = scale * np.einsum("bhid,bhjd->bhij", q.astype(np.float64), kk)
    s = np.where(keep, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    if sinks is not None:
        m = np.maximum(m, sinks[None, :, None, None])
    m_safe = np.where(np.isinf(m), 0.0, m)
    p = np.exp(s - m_safe)
    l = p.sum(axis=-1, keepdims=True)
    if sinks is not None:
        l = l + np.exp(sinks[None, :, None, None] - m_safe)
    o = np.where(l > 0, np.einsum("bhij,bhjd->bhid", p, vv) / np.where(l > 0, l, 1), 0.0)
    lse = (m_safe + np.log(l))[..., 0]
    return o, lse


def positions(sq, skv):
    i = np.arange(sq)[:, None] + (skv - sq)
    j = np.arange(skv)[None, :]
    return i, j


# 1. Causal GQA attention with Sq > Skv: the first Sq - Skv rows see no key.
q = rng.uniform(-1, 1, (2, 4, 11, 8)).astype(np.float32)
k = rng.uniform(-1, 1, (2, 2, 7, 8)).astype(np.float32)
v = rng.uniform(-1, 1, (2, 2, 7, 8)).astype(np.float32)
i, j = positions(11, 7)
o, lse = sdpa(q, k, v, 1 / np.sqrt(8), (j <= i)[None, None])
compare("causal_masked_rows", [q, k, v], """
func.func @f(%q: tensor<2x4x11x8xf32>, %k: tensor<2x2x7x8xf32>, %v: tensor<2x2x7x8xf32>) -> (tensor<2x4x11x8xf32>, tensor<2x4x11xf32>) {
  %s = attn.score %q, %k : tensor<2x4x11x8xf32>, tensor<2x2x7x8xf32> -> tensor<2x4x11x7xf32>
  %m = attn.mask %s [#attn.causal] : tensor<2x4x11x7xf32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<2x4x11x7xf32>, tensor<2x2x7x8xf32> -> tensor<2x4x11x8xf32>, tensor<2x4x11xf32>
  return %o, %l : tensor<2x4x11x8xf32>, tensor<2x4x11xf32>
}
""", [o, lse], 1e-4)
assert (o[:, :, :4] == 0).all() and np.isneginf(lse[:, :, :4]).all()

# 2. Per-head sliding window with sinks, cross attention Sq < Skv.
q = rng.uniform(-1, 1, (1, 4, 5, 8)).astype(np.float32)
k = rng.uniform(-1, 1, (1, 2, 13, 8)).astype(np.float32)
v = rng.uniform(-1, 1, (1, 2, 13, 8)).astype(np.float32)
sk = rng.uniform(-1, 1, (4,)).astype(np.float32)
left, right = np.array([0, 1, 2, 5]), np.array([0, 0, 1, 2])
i, j = positions(5, 13)
keep = (j[None] >= i[None] - left[:, None, None]) & (j[None] <= i[None] + right[:, None, None])
o, _ = sdpa(q, k, v, 0.3, keep[None], sinks=sk.astype(np.float64))
compare("window_sinks", [q, k, v, sk], """
func.func @f(%q: tensor<1x4x5x8xf32>, %k: tensor<1x2x13x8xf32>, %v: tensor<1x2x13x8xf32>, %sk: tensor<4xf32>) -> tensor<1x4x5x8xf32> {
  %s = attn.score %q, %k {scale = 0.3 : f32} : tensor<1x4x5x8xf32>, tensor<1x2x13x8xf32> -> tensor<1x4x5x13xf32>
  %m = attn.mask %s [#attn.window<left = [0, 1, 2, 5], right = [0, 0, 1, 2]>] : tensor<1x4x5x13xf32>
  %o = attn.aggregate softmax %m, %v sinks(%sk) : tensor<1x4x5x13xf32>, tensor<1x2x13x8xf32>, tensor<4xf32> -> tensor<1x4x5x8xf32>
  return %o : tensor<1x4x5x8xf32>
}
""", [o], 1e-4)

# 3. f16 inputs and output, dense.
q = rng.uniform(-1, 1, (1, 2, 9, 16)).astype(np.float16)
k = rng.uniform(-1, 1, (1, 2, 9, 16)).astype(np.float16)
v = rng.uniform(-1, 1, (1, 2, 9, 16)).astype(np.float16)
o, _ = sdpa(q, k, v, 0.25, np.ones((1, 1, 9, 9), bool))
compare("dense_f16", [q, k, v], """
func.func @f(%q: tensor<1x2x9x16xf16>, %k: tensor<1x2x9x16xf16>, %v: tensor<1x2x9x16xf16>) -> tensor<1x2x9x16xf16> {
  %s = attn.score %q, %k : tensor<1x2x9x16xf16>, tensor<1x2x9x16xf16> -> tensor<1x2x9x9xf32>
  %o = attn.aggregate softmax %s, %v : tensor<1x2x9x9xf32>, tensor<1x2x9x16xf16> -> tensor<1x2x9x16xf16>
  return %o : tensor<1x2x9x16xf16>
}
""", [o], 2e-3)

# 4. Causal linear attention with per-head decay (Sq < Skv).
q = rng.uniform(-1, 1, (1, 2, 6, 4)).astype(np.float32)
k = rng.uniform(-1, 1, (1, 2, 9, 4)).astype(np.float32)
v = rng.uniform(-1, 1, (1, 2, 9, 3)).astype(np.float32)
lam = np.array([0.9, 0.5], np.float32)
i, j = positions(6, 9)
a = np.einsum("bhid,bhjd->bhij", q.astype(np.float64), k.astype(np.float64))
w = np.where(j <= i, lam.astype(np.float64)[None, :, None, None] ** np.maximum(i - j, 0), 0.0)
o = np.einsum("bhij,bhje->bhie", a * w, v.astype(np.float64))
compare("linear_decay", [q, k, v, lam], """
func.func @f(%q: tensor<1x2x6x4xf32>, %k: tensor<1x2x9x4xf32>, %v: tensor<1x2x9x3xf32>, %l: tensor<2xf32>) -> tensor<1x2x6x3xf32> {
  %o = attn.linear_aggregate %q, %k, %v decay(%l) {causal} : tensor<1x2x6x4xf32>, tensor<1x2x9x4xf32>, tensor<1x2x9x3xf32>, tensor<2xf32> -> tensor<1x2x6x3xf32>
  return %o : tensor<1x2x6x3xf32>
}
""", [o], 1e-4)

# 5. Top-k selection: descending, ties to the smaller index, masked never.
s = rng.integers(-3, 3, (1, 2, 4, 10)).astype(np.float32)  # many ties
i, j = positions(4, 10)
masked = np.where(j <= i, s, -np.inf)
order = np.argsort(-masked, axis=-1, kind="stable")[..., :5]
top = np.take_along_axis(masked, order, axis=-1)
expected = np.where(np.isinf(top), -1, order).astype(np.float64)
compare("topk_ties", [s], """
func.func @f(%s: tensor<1x2x4x10xf32>) -> tensor<1x2x4x5xi32> {
  %m = attn.mask %s [#attn.causal] : tensor<1x2x4x10xf32>
  %i = attn.select_topk %m {top_k = 5} : tensor<1x2x4x10xf32> -> tensor<1x2x4x5xi32>
  return %i : tensor<1x2x4x5xi32>
}
""", [expected], 0.0)

# 6. bf16 inputs exchanged as float32 (rounded to nearest even), bf16 output.
def to_bf16(x):
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


q = rng.uniform(-1, 1, (1, 2, 7, 8)).astype(np.float32)
k = rng.uniform(-1, 1, (1, 1, 10, 8)).astype(np.float32)
v = rng.uniform(-1, 1, (1, 1, 10, 8)).astype(np.float32)
i, j = positions(7, 10)
o, _ = sdpa(to_bf16(q), to_bf16(k), to_bf16(v), 1 / np.sqrt(8), (j <= i)[None, None])
compare("causal_bf16", [q, k, v], """
func.func @f(%q: tensor<1x2x7x8xbf16>, %k: tensor<1x1x10x8xbf16>, %v: tensor<1x1x10x8xbf16>) -> tensor<1x2x7x8xbf16> {
  %s = attn.score %q, %k : tensor<1x2x7x8xbf16>, tensor<1x1x10x8xbf16> -> tensor<1x2x7x10xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x7x10xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x7x10xf32>, tensor<1x1x10x8xbf16> -> tensor<1x2x7x8xbf16>
  return %o : tensor<1x2x7x8xbf16>
}
""", [o], 1e-2)

# 7. Block selection (bool output): mean-pooled blocks, partial last blocks,
# causal candidates, top-2 with ties to the smaller block.
q = rng.uniform(-1, 1, (1, 2, 11, 4)).astype(np.float32)
k = rng.uniform(-1, 1, (1, 1, 14, 4)).astype(np.float32)
bq, bkv, topk = 4, 4, 2
nqb, nkb = -(-11 // bq), -(-14 // bkv)
pq = np.stack([q[:, :, r * bq:(r + 1) * bq].astype(np.float64).mean(axis=2) for r in range(nqb)], axis=2)
pk = np.stack([k[:, :, c * bkv:(c + 1) * bkv].astype(np.float64).mean(axis=2) for c in range(nkb)], axis=2)
score = np.einsum("bhrd,bhcd->bhrc", pq, np.repeat(pk, 2, axis=1))
expected = np.zeros((1, 2, nqb, nkb))
for h in range(2):
    for r in range(nqb):
        last = min((r + 1) * bq, 11) - 1 + (14 - 11)
        cands = [c for c in range(nkb) if c * bkv <= last]
        cands.sort(key=lambda c: (-score[0, h, r, c], c))
        for c in cands[:topk]:
            expected[0, h, r, c] = 1
compare("select_blocks", [q, k], """
func.func @f(%q: tensor<1x2x11x4xf32>, %k: tensor<1x1x14x4xf32>) -> tensor<1x2x3x4xi1> {
  %b = attn.select_blocks %q, %k {block_q = 4, block_kv = 4, top_k = 2, pool = "mean", causal} : tensor<1x2x11x4xf32>, tensor<1x1x14x4xf32> -> tensor<1x2x3x4xi1>
  return %b : tensor<1x2x3x4xi1>
}
""", [expected], 0.0)

if failures:
    sys.exit("\n".join(failures))
print("numpy check: all agree")
