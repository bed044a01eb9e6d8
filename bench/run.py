#!/usr/bin/python3
"""Benchmarks attn's compiled CPU kernels against the peers in bench/peers
(NumPy/OpenBLAS unfused, ONNX Runtime, OpenBLAS sgemm peak), on the same
shapes in the same run, and writes docs/benchmarks.md and docs/benchmarks.png.

usage: bench/run.py [--quick] [--reps N] [--rounds N] [--docs-only]
       bench/run.py --grad [--reps N] [--rounds N] [--docs-only]
       bench/run.py --entmax [--reps N] [--rounds N] [--docs-only]
       bench/run.py --ring [--reps N] [--rounds N] [--docs-only]

--grad runs the gradient suite instead (bench/grad.py, the programs of
bench/grad/): it rewrites only the "Gradients" section of docs/benchmarks.md
and docs/benchmarks-grad.png, and the forward suite keeps that section.
--entmax runs the entmax suite (bench/entmax.py) the same way: it rewrites
only the "Sparse normalisation (entmax)" section. --ring runs the ring
attention suite (bench/ring.py, Open MPI): the "Sequence parallelism (ring)"
section.

Needs a build (build/bin/attn-run, or $ATTN_BUILD_DIR/bin/attn-run). The
first run installs what the peers need (Debian packages through apt-get, and
the peers' npm packages into build/bench/peers/node_modules); see
bench/peers/README.md.

Every measurement is a median (attn-run --bench=N, the peers' own medians).
The peers run with glibc told to keep freed memory (attn-run does the same
itself) and OPENBLAS_CORETYPE naming the host's best kernel.
"""
import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("ATTN_BUILD_DIR", os.path.join(ROOT, "build"))
ATTN_RUN = os.path.join(BUILD, "bin", "attn-run")
PEERS_SRC = os.path.join(ROOT, "bench", "peers")  # the peer scripts
PEERS = os.path.join(BUILD, "bench", "peers")  # where they run: a copy with node_modules
WORK = os.path.join(BUILD, "bench", "work")
PY = "/usr/bin/python3"

ENV = dict(os.environ)
ENV.pop("OPENBLAS_L2_SIZE", None)
# OpenBLAS 0.3.21 does not recognise every AVX-512 CPU (it falls back to the
# SSE3 "Prescott" kernel on this VM): name the best kernel the CPU supports.
_flags = open("/proc/cpuinfo").read()


def cpu_description():
    """The CPU the numbers are measured on: model name, family/model and the
    widest vector ISA (machines of this kind differ between sessions)."""
    info = {}
    for line in _flags.splitlines():
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    isa = ("AVX-512" if "avx512f" in _flags else "AVX2" if "avx2" in _flags else "SSE")
    return (f"{info.get('model name', 'unknown CPU')}, family {info.get('cpu family', '?')} "
            f"model {info.get('model', '?')}, {isa}, {os.cpu_count()} cores")


# Where the measurements were taken (replaced by the saved one in --docs-only).
CPU = cpu_description()
if "avx512_bf16" in _flags:
    ENV["OPENBLAS_CORETYPE"] = "Cooperlake"
elif "avx512f" in _flags:
    ENV["OPENBLAS_CORETYPE"] = "SkylakeX"
elif "avx2" in _flags:
    ENV["OPENBLAS_CORETYPE"] = "Haswell"
else:
    ENV.pop("OPENBLAS_CORETYPE", None)
ENV["MALLOC_MMAP_MAX_"] = "0"
ENV["MALLOC_TRIM_THRESHOLD_"] = "100000000000"


def setup(extra_packages=()):
    """Installs what the peers need if it is missing: Debian packages (NumPy
    with OpenBLAS, threadpoolctl, matplotlib for the plot, Node.js and npm,
    and `extra_packages`), a copy of bench/peers in the build tree, and there
    the npm packages of bench/peers/package-lock.json (ONNX Runtime for
    Node)."""
    need = [p for p in ["python3-numpy", "python3-matplotlib", "libopenblas0-pthread",
                        "python3-threadpoolctl", *extra_packages]
            if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p],
                              capture_output=True, text=True).stdout.find("ok installed") < 0]
    if not shutil.which("node"):
        need += ["nodejs"]
    if not shutil.which("npm"):
        need += ["npm"]
    if need:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + need,
                       check=True, env=dict(ENV, DEBIAN_FRONTEND="noninteractive"))
    # The peers run from a copy in the build tree, so that node_modules stays
    # out of the sources; the scripts are copied afresh on every run.
    os.makedirs(PEERS, exist_ok=True)
    for name in os.listdir(PEERS_SRC):
        src = os.path.join(PEERS_SRC, name)
        if os.path.isfile(src) and not name.endswith(".md"):
            shutil.copy2(src, os.path.join(PEERS, name))
    # npm ci when node_modules is missing or was installed from another lock
    # file. ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node's install script
    # only downloads the CUDA provider; the CPU library ships in the package.
    lock = open(os.path.join(PEERS_SRC, "package-lock.json")).read()
    stamp = os.path.join(PEERS, "node_modules", ".attn-bench-lock.json")
    if not os.path.isfile(stamp) or open(stamp).read() != lock:
        shutil.rmtree(os.path.join(PEERS, "node_modules"), ignore_errors=True)
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=PEERS, check=True,
                       env=dict(ENV, ONNXRUNTIME_NODE_INSTALL="skip"))
        with open(stamp, "w") as f:
            f.write(lock)
    os.makedirs(WORK, exist_ok=True)


def program(name, B, H, Hkv, Sq, Skv, D, patterns, mask_args=()):
    """Writes an attention program (graph ops; attn-fuse fuses them);
    `mask_args` are (name, type) of the mask operands, extra arguments."""
    q, k = f"tensor<{B}x{H}x{Sq}x{D}xf32>", f"tensor<{B}x{Hkv}x{Skv}x{D}xf32>"
    s = f"tensor<{B}x{H}x{Sq}x{Skv}xf32>"
    o = f"tensor<{B}x{H}x{Sq}x{D}xf32>"
    extra = "".join(f", %{n}: {t}" for n, t in mask_args)
    lines = [f"func.func @{name}(%q: {q}, %k: {k}, %v: {k}{extra}) -> {o} {{",
             f"  %s = attn.score %q, %k : {q}, {k} -> {s}"]
    src = "%s"
    if patterns:
        ops = ""
        if mask_args:
            ops = (f" ({', '.join('%' + n for n, _ in mask_args)})"
                   f" : {s}, {', '.join(t for _, t in mask_args)}")
        else:
            ops = f" : {s}"
        lines.append(f"  %m = attn.mask %s [{patterns}]{ops}")
        src = "%m"
    lines += [f"  %o = attn.aggregate softmax {src}, %v : {s}, {k} -> {o}",
              f"  return %o : {o}", "}"]
    path = os.path.join(WORK, name + ".mlir")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def combine(name, paths):
    """One file holding the functions of several program files."""
    path = os.path.join(WORK, name + ".mlir")
    with open(path, "w") as f:
        for p in paths:
            f.write(open(p).read())
    return path


def npy_args(name, arrays):
    """Saves arrays as .npy files for attn-run --arg; returns the flags."""
    import numpy as np
    flags = []
    for n, a in enumerate(arrays):
        path = os.path.join(WORK, f"{name}_{n}.npy")
        np.save(path, a)
        flags.append(f"--arg={path}")
    return flags


def run_attn(path, threads, reps, args=None):
    """attn-run --bench; returns the median ms of `reps` timed calls. `args`:
    --arg flags, else random arguments."""
    cmd = [ATTN_RUN, path, "--pipeline=cpu", f"--bench={reps}", f"--threads={threads}"]
    cmd += args if args else ["--random-args"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return float(re.search(r"median_ms=([0-9.]+)", out.stdout).group(1))


def run_attn_paired(path, entry, other, threads, reps):
    """attn-run --bench with --bench-with: `entry` and `other` timed call by
    call alternately in one process; returns {entry: ms, other: ms,
    other/entry: the median of the per-call time ratios}."""
    cmd = [ATTN_RUN, path, f"--entry={entry}", f"--bench-with={other}", "--pipeline=cpu",
           "--random-args", f"--bench={reps}", f"--threads={threads}"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    first = re.search(r"^median_ms=([0-9.]+)", out.stdout, re.M)
    second = re.search(r"entry=\S+ median_ms=([0-9.]+) .*time_ratio=([0-9.]+)", out.stdout)
    return {entry: float(first.group(1)), other: float(second.group(1)),
            f"{other}/{entry}": float(second.group(2))}


def interleaved(runs, rounds):
    """Runs every measurement of `runs` (name -> callable returning ms)
    once per round, alternately, for `rounds` rounds, in reverse order every
    other round: the machine is shared and switches speed regimes, and
    alternating keeps the comparisons made within a round fair. Returns
    name -> list of per-round ms."""
    times = {}
    for n in range(rounds):
        order = list(runs.items())
        for name, fn in (order if n % 2 == 0 else reversed(order)):
            value = fn()
            # A run may measure several things at once (a dict of them).
            for key, ms in (value.items() if isinstance(value, dict) else [(name, value)]):
                times.setdefault(key, []).append(ms)
                print(f"  round {n + 1}: {key:40s} {ms if ms is not None else float('nan'):10.2f}",
                      flush=True)
    return times


def save_results(path, saved):
    """Writes a suite's measurements, for --docs-only to rewrite its docs."""
    with open(path, "w") as f:
        json.dump(saved, f, indent=1)


def load_results(path):
    with open(path) as f:
        return json.load(f)


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def paired_ratio(times, num, den):
    """The median over rounds of num's time / den's time in the same round."""
    return median([a / b for a, b in zip(times[num], times[den]) if a and b])


def peak_rss_mb(cmd):
    """Runs cmd alone and returns its peak RSS in MB (wait4 rusage)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed")
    return usage.ru_maxrss / 1024


def run_peer(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=PEERS)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    vals = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    if out.returncode != 0 or "ms" not in vals:
        return None
    return float(vals["ms"])


def numpy_peer(variant, S, window=256, H=8, D=64):
    return run_peer([PY, "np_attn.py", "--variant", variant, "--S", str(S), "--H", str(H),
                     "--D", str(D), "--window", str(window), "--threads", "2", "--max-s", "60"])


def ort_peer(op, variant, S, window=256, H=8, D=64):
    return run_peer(["node", "ort_attn.js", "--op", op, "--variant", variant, "--S", str(S),
                     "--H", str(H), "--D", str(D), "--window", str(window), "--threads", "2"])


def sgemm_peak(threads=2):
    out = subprocess.run([PY, "sgemm_peak.py", "--square", "4096", "--S", "--D", "--threads", str(threads)],
                         capture_output=True, text=True, env=ENV, cwd=PEERS)
    vals = [float(v) for v in re.findall(r"gflops=([0-9.]+)", out.stdout)]
    return max(vals) if vals else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Peers and their installation: bench/peers/README.md")
    ap.add_argument("--quick", action="store_true", help="smaller shapes, for a smoke run")
    ap.add_argument("--reps", type=int, default=5, help="timed calls per attn-run")
    ap.add_argument("--rounds", type=int, default=None,
                    help="alternating rounds of the runs compared with each other "
                         "(default 7; 5 with --grad)")
    ap.add_argument("--docs-only", action="store_true",
                    help="rewrite docs/benchmarks.md and .png from the last run's results.json")
    ap.add_argument("--grad", action="store_true",
                    help="the gradient suite (bench/grad.py) instead of the forward one")
    ap.add_argument("--entmax", action="store_true",
                    help="the entmax suite (bench/entmax.py) instead of the forward one")
    ap.add_argument("--ring", action="store_true",
                    help="the ring attention suite (bench/ring.py) instead of the forward one")
    a = ap.parse_args()
    if a.ring:
        import ring
        a.rounds = a.rounds or 3
        a.reps = min(a.reps, 3)  # calls of seconds each: at most 3 per run
        return ring.docs_only() if a.docs_only else ring.main(a)
    if a.entmax:
        import entmax
        a.rounds = a.rounds or 5
        return entmax.docs_only() if a.docs_only else entmax.main(a)
    if a.grad:
        import grad
        a.rounds = a.rounds or 5
        return grad.docs_only() if a.docs_only else grad.main(a)
    a.rounds = a.rounds or 7
    if a.docs_only:
        return docs_from_results()
    setup()
    big = not a.quick
    S = 4096 if big else 1024
    results, rows = {}, []

    def record(case, impl, ms, note=""):
        results.setdefault(case, {})[impl] = ms
        rows.append((case, impl, ms, note))
        print(f"{case:34s} {impl:28s} {ms if ms is not None else float('nan'):10.2f} ms {note}", flush=True)

    peak = sgemm_peak()
    print(f"sgemm peak (2 threads, 4096^3): {peak} GFLOP/s", flush=True)
    # What a second core buys on this machine: OpenBLAS's own scaling,
    # alternated like our runs.
    inverse = lambda g: 1e3 / g if g else None  # time per GFLOP, for the ratio
    sg = interleaved({"sgemm 1": lambda: inverse(sgemm_peak(1)),
                      "sgemm 2": lambda: inverse(sgemm_peak(2))}, 3)
    sgemm_scaling = paired_ratio(sg, "sgemm 1", "sgemm 2")

    # Dense, causal and sliding window, ours and ONNX Runtime's, alternated
    # over rounds.
    # Our comparisons between our own kernels (causal vs dense, window at
    # two lengths) time both call by call in one process.
    pd = program("dense", 1, 8, 8, S, S, 64, "")
    pc = program("causal", 1, 8, 8, S, S, 64, "#attn.causal")
    W1, W2 = (8192, 16384) if big else (2048, 4096)
    pw = {Sw: program(f"window{Sw}", 1, 8, 8, Sw, Sw, 64,
                      "#attn.causal, #attn.window<left = 255, right = 0>") for Sw in (W1, W2)}
    pdc = combine("dense_causal", [pd, pc])
    pww = combine("windows", [pw[W1], pw[W2]])
    runs = {
        "dense+causal 2": lambda: {f"{k} 2": v for k, v in
                                   run_attn_paired(pdc, "dense", "causal", 2, a.reps).items()},
        "dense 1": lambda: run_attn(pd, 1, a.reps),
        "ort mha": lambda: ort_peer("mha", "dense", S),
        "ort gqa causal": lambda: ort_peer("gqa", "causal", S),
        "windows": lambda: {{f"window{W1}": "window 1", f"window{W2}": "window 2",
                             f"window{W2}/window{W1}": "window growth"}[k]: v for k, v in
                            run_attn_paired(pww, f"window{W1}", f"window{W2}", 2,
                                            2 * a.reps).items()},
        "ort gqa window": lambda: ort_peer("gqa", "window", W1),
    }
    times = interleaved(runs, a.rounds)
    med = {name: median(ts) for name, ts in times.items()}
    gflops = lambda ms, pairs: 4.0 * 8 * 64 * pairs / (ms * 1e-3) / 1e9
    gf = gflops(med["dense 2"], S * S)
    record(f"dense S={S}", "attn (cpu, 2 threads)", med["dense 2"],
           f"{gf:.0f} GFLOP/s, {gf / peak:.0%} of sgemm peak" if peak else "")
    record(f"dense S={S}", "attn (cpu, 1 thread)", med["dense 1"])
    record(f"dense S={S}", "numpy/OpenBLAS unfused", numpy_peer("dense", S))
    record(f"dense S={S}", "ORT MultiHeadAttention", med["ort mha"])
    record(f"causal S={S}", "attn (cpu, 2 threads)", med["causal 2"],
           f"{gflops(med['causal 2'], S * S / 2):.0f} GFLOP/s")
    record(f"causal S={S}", "ORT GroupQueryAttention", med["ort gqa causal"])
    for Sw, name in ((W1, "window 1"), (W2, "window 2")):
        pairs = Sw * 256 - 256 * 255 / 2
        record(f"window 256 S={Sw}", "attn (cpu, 2 threads)", med[name],
               f"{gflops(med[name], pairs):.0f} GFLOP/s")
    record(f"window 256 S={W1}", "ORT GQA local_window_size", med["ort gqa window"])
    record(f"window 256 S={W2}", "numpy/OpenBLAS masked dense", numpy_peer("window", W2))
    paired = {
        "dense/ort": paired_ratio(times, "ort mha", "dense 2"),
        "dense 1/2": paired_ratio(times, "dense 1", "dense 2"),
        "sgemm 1/2": sgemm_scaling,
        "causal": 1 / median(times["causal/dense 2"]),
        "causal/ort": paired_ratio(times, "ort gqa causal", "causal 2"),
        "window/ort": paired_ratio(times, "ort gqa window", "window 1"),
        "window growth": median(times["window growth"]),
    }

    # Memory: causal attention on a long sequence.
    Sm = 32768 if big else 8192
    p = program("causal_long", 1, 8, 8, Sm, Sm, 64, "#attn.causal")
    ms = run_attn(p, 2, 2)
    peak_mb = peak_rss_mb([ATTN_RUN, p, "--pipeline=cpu", "--random-args", "--threads=2"])
    # The same process with a tiny problem: what loading and JIT cost.
    tiny = program("causal_tiny", 1, 8, 8, 64, 64, 64, "#attn.causal")
    base_mb = peak_rss_mb([ATTN_RUN, tiny, "--pipeline=cpu", "--random-args", "--threads=2"])
    io_mb = 4 * 1 * 8 * Sm * 64 * 4 / 2**20
    record(f"causal S={Sm} (memory)", "attn (cpu, 2 threads)", ms,
           f"peak RSS {peak_mb:.0f} MB = {base_mb:.0f} MB process baseline + "
           f"{peak_mb - base_mb:.0f} MB; inputs+output {io_mb:.0f} MB")
    results["memory"] = {"peak_mb": peak_mb, "base_mb": base_mb, "io_mb": io_mb}

    # Decode: one query against a long KV cache, 32 heads; 1 and 2 threads
    # interleaved.
    Sd = 32768 if big else 8192
    p = program("decode", 1, 32, 32, 1, Sd, 64, "#attn.causal")
    dec = interleaved({"decode 1": lambda: run_attn(p, 1, max(a.reps, 9)),
                       "decode 2": lambda: run_attn(p, 2, max(a.reps, 9))}, a.rounds)
    record(f"decode Sq=1 Skv={Sd} H=32", "attn (cpu, 1 thread)", median(dec["decode 1"]))
    record(f"decode Sq=1 Skv={Sd} H=32", "attn (cpu, 2 threads)", median(dec["decode 2"]))
    paired["decode"] = paired_ratio(dec, "decode 1", "decode 2")

    sparse = sparse_cases(a, big, record, results.get(f"dense S={S}", {}).get("numpy/OpenBLAS unfused"), S)
    paired.update(sparse)
    paired.update(linear_cases(a, big, record))
    paired.update(scan_cases(a, big, record))

    save_results(os.path.join(WORK, "results.json"),
                 {"rows": rows, "sgemm_peak": peak, "rounds": times, "decode_rounds": dec,
                  "paired": paired, "memory": results["memory"], "size": S, "big": big,
                  "rounds_count": a.rounds, "cpu": CPU})
    write_docs(rows, results, paired, peak, S, big, a.rounds)


def power_law_graph(n, avg_deg, rng):
    """A random graph with Pareto-distributed (power-law) out-degrees of
    mean ~avg_deg, as CSR (row pointers, sorted unique columns), i32."""
    import numpy as np
    raw = rng.pareto(1.1, n) + 1.0
    deg = np.minimum(np.maximum(1, np.round(raw / raw.mean() * avg_deg)), n).astype(np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int64), deg)
    key = np.unique(rows * n + rng.integers(0, n, rows.size, dtype=np.int64))
    rowptr = np.zeros(n + 1, np.int64)
    np.add.at(rowptr, key // n + 1, 1)
    return np.cumsum(rowptr).astype(np.int32), (key % n).astype(np.int32)


def sparse_cases(a, big, record, numpy_dense_ms, numpy_dense_s):
    """The sparse-form targets: block-sparse, document masking, LSH buckets
    against our dense kernels, alternated over rounds, and graph attention
    against the NumPy masked-dense peer extrapolated from its dense time;
    returns their ratios."""
    import numpy as np
    rng = np.random.default_rng(0)
    H, D = 8, 64
    Sb = 8192 if big else 2048
    qkv = lambda S: [rng.uniform(-1, 1, (1, H, S, D)).astype(np.float32) for _ in range(3)]
    # Block-sparse: 64x64 blocks, 10 % of them kept (and an empty mask: the
    # compaction and the per-query-tile work alone).
    nb = Sb // 64
    bm_type = f"tensor<1x{H}x{nb}x{nb}xi1>"
    p_dense = program("sparse_dense", 1, H, H, Sb, Sb, D, "")
    p_bs = program("block_sparse", 1, H, H, Sb, Sb, D, "#attn.block_mask<block_q = 64, block_kv = 64>",
                   [("bm", bm_type)])
    x = qkv(Sb)
    bm10 = rng.random((1, H, nb, nb)) < 0.10
    args_dense = npy_args("sparse_dense", x)
    args_bs10 = npy_args("bs10", x + [bm10])
    args_bs0 = npy_args("bs0", x + [np.zeros_like(bm10)])
    # Document masking: 16 equal documents, causal inside each.
    Sd = 16384 if big else 4096
    seg_type = f"tensor<1x{Sd}xi32>"
    p_causal = program("doc_causal", 1, H, H, Sd, Sd, D, "#attn.causal")
    p_docs = program("documents", 1, H, H, Sd, Sd, D, "#attn.causal, #attn.segments",
                     [("qs", seg_type), ("ks", seg_type)])
    y = qkv(Sd)
    ids = (np.arange(Sd) // (Sd // 16)).astype(np.int32)[None, :]
    args_causal = npy_args("doc_causal", y)
    args_docs = npy_args("documents", y + [ids, ids])
    # LSH / cluster buckets: 64 bucket ids in random order (one id per
    # token shared by queries and keys), against dense at the same length.
    p_dense16 = program("dense16", 1, H, H, Sd, Sd, D, "")
    p_lsh = program("lsh", 1, H, H, Sd, Sd, D, "#attn.segments",
                    [("qb", seg_type), ("kb", seg_type)])
    buckets = rng.integers(0, 64, (1, Sd)).astype(np.int32)
    args_dense16 = npy_args("dense16", y)
    args_lsh = npy_args("lsh", y + [buckets, buckets])
    runs = {
        "dense S16384": lambda: run_attn(p_dense16, 2, max(1, a.reps // 2), args_dense16),
        "lsh 64 buckets": lambda: run_attn(p_lsh, 2, a.reps, args_lsh),
        "dense S8192": lambda: run_attn(p_dense, 2, a.reps, args_dense),
        "block-sparse 10%": lambda: run_attn(p_bs, 2, a.reps, args_bs10),
        "block-sparse 0%": lambda: run_attn(p_bs, 2, a.reps, args_bs0),
        "causal S16384": lambda: run_attn(p_causal, 2, a.reps, args_causal),
        "documents": lambda: run_attn(p_docs, 2, a.reps, args_docs),
    }
    times = interleaved(runs, max(3, a.rounds // 2))
    med = {name: median(ts) for name, ts in times.items()}
    record(f"dense S={Sb}", "attn (cpu, 2 threads)", med["dense S8192"])
    record(f"block-sparse 64x64 10% S={Sb}", "attn (cpu, 2 threads)", med["block-sparse 10%"])
    record(f"block-sparse 64x64 0% S={Sb}", "attn (cpu, 2 threads)", med["block-sparse 0%"],
           "compaction and per-query-tile work only")
    record(f"causal S={Sd}", "attn (cpu, 2 threads)", med["causal S16384"])
    record(f"16 documents, causal S={Sd}", "attn (cpu, 2 threads)", med["documents"])
    record(f"dense S={Sd}", "attn (cpu, 2 threads)", med["dense S16384"])
    record(f"LSH 64 buckets S={Sd}", "attn (cpu, 2 threads)", med["lsh 64 buckets"])
    density = float(bm10.mean())

    # Graph attention on a power-law graph (CSR), D = 64, 8 heads.
    N = 100000 if big else 10000
    rp, cols = power_law_graph(N, 16, rng)
    T = f"tensor<1x{H}x{N}x{D}xf32>"
    p_graph = os.path.join(WORK, "graph.mlir")
    with open(p_graph, "w") as f:
        f.write(f"func.func @graph(%q: {T}, %k: {T}, %v: {T}, %rp: tensor<{N + 1}xi32>, "
                f"%cols: tensor<{cols.size}xi32>) -> {T} {{\n"
                f"  %o = attn.attention softmax %q, %k, %v [#attn.csr] (%rp, %cols : "
                f"tensor<{N + 1}xi32>, tensor<{cols.size}xi32>) : {T}, {T}, {T} -> {T}\n"
                f"  return %o : {T}\n}}\n")
    args_graph = npy_args("graph", qkv(N) + [rp, cols])
    graph_ms = median([run_attn(p_graph, 2, a.reps, args_graph) for _ in range(3)])
    graph_mb = peak_rss_mb([ATTN_RUN, p_graph, "--pipeline=cpu", "--threads=2"] + args_graph)
    io_mb = (4 * H * N * D * 4 + (N + 1 + cols.size) * 4) / 2**20
    # NumPy masked dense costs at least its dense time, which grows as N^2.
    numpy_graph_ms = numpy_dense_ms * (N / numpy_dense_s) ** 2 if numpy_dense_ms else None
    record(f"graph N={N} avg degree {cols.size / N:.1f}", "attn (cpu, 2 threads)", graph_ms,
           f"peak RSS {graph_mb:.0f} MB; Q, K, V, output and CSR {io_mb:.0f} MB")
    record(f"graph N={N} avg degree {cols.size / N:.1f}", "numpy masked dense (extrapolated)",
           numpy_graph_ms, f"numpy dense S={numpy_dense_s} x (N/S)^2")
    return {
        "block-sparse vs dense": paired_ratio(times, "dense S8192", "block-sparse 10%"),
        "block-sparse vs bound": median([t / (density * d + z) for t, d, z in zip(
            times["block-sparse 10%"], times["dense S8192"], times["block-sparse 0%"])]),
        "block density": density,
        "documents vs causal": paired_ratio(times, "causal S16384", "documents"),
        "lsh vs dense": paired_ratio(times, "dense S16384", "lsh 64 buckets"),
        "graph vs numpy": numpy_graph_ms / graph_ms if numpy_graph_ms else None,
        "graph memory": graph_mb,
    }


def docs_from_results():
    """Rewrites the docs from the measurements saved by the last run."""
    saved = load_results(os.path.join(WORK, "results.json"))
    rows = [tuple(r) for r in saved["rows"]]
    results = {}
    for case, impl, ms, _ in rows:
        results.setdefault(case, {})[impl] = ms
    S = saved.get("size") or (4096 if "dense S=4096" in results else 1024)
    big = saved.get("big", S == 4096)
    memory = saved.get("memory")
    if not memory:  # runs before the field existed: from the row's note
        for case, _, _, note in rows:
            m = re.search(r"peak RSS (\d+) MB = (\d+) MB process baseline .* inputs\+output (\d+) MB", note)
            if m:
                memory = {"peak_mb": float(m.group(1)), "base_mb": float(m.group(2)),
                          "io_mb": float(m.group(3))}
    results["memory"] = memory or {}
    rounds = saved.get("rounds_count") or len(next(iter(saved["rounds"].values())))
    global CPU
    CPU = saved.get("cpu", CPU)
    write_docs(rows, results, saved["paired"], saved["sgemm_peak"], S, big, rounds)


def growth_and_speedup(a, path, name, S1, S2, reps):
    """Paired call-by-call timings over rounds of NAME at lengths S1 and S2
    (`reps` calls per run), and of NAME against our tiled causal softmax
    `softmax{S1}` at S1. Returns the per-round growth S1 -> S2, speed-ups
    over softmax, and times (ms) keyed short, long and softmax."""
    growth, versus, times = [], [], {}
    short, long_ = f"{name}{S1}", f"{name}{S2}"
    for _ in range(max(3, a.rounds // 2)):
        r = run_attn_paired(path, short, long_, 2, reps)
        growth.append(r[f"{long_}/{short}"])
        times.setdefault("long", []).append(r[long_])
        r = run_attn_paired(path, short, f"softmax{S1}", 2, 3)
        versus.append(r[f"softmax{S1}/{short}"])
        times.setdefault("short", []).append(r[short])
        times.setdefault("softmax", []).append(r[f"softmax{S1}"])
    return growth, versus, times


def linear_cases(a, big, record):
    """The linear-form targets: causal linear attention with decay (chunked
    form) at two lengths, and against our tiled causal softmax attention;
    each pair timed call by call in one process, over rounds."""
    H, D = 8, 64
    S1, S2 = (8192, 65536) if big else (2048, 16384)

    def linear(S):
        t = f"tensor<1x{H}x{S}x{D}xf32>"
        return (f"func.func @linear{S}(%q: {t}, %k: {t}, %v: {t}, %l: tensor<{H}xf32>) -> {t} {{\n"
                f"  %o = attn.linear_aggregate %q, %k, %v decay(%l) {{causal}} : {t}, {t}, {t}, "
                f"tensor<{H}xf32> -> {t}\n  return %o : {t}\n}}\n")
    path = os.path.join(WORK, "linear.mlir")
    with open(path, "w") as f:
        f.write(linear(S1) + linear(S2) + open(program(f"softmax{S1}", 1, H, H, S1, S1, D,
                                                         "#attn.causal")).read())
    growth, versus, times = growth_and_speedup(a, path, "linear", S1, S2, 3)
    record(f"causal linear, decay S={S1}", "attn (cpu, 2 threads)", median(times["short"]),
           "chunked form (attn-linearize), random decays in [-1, 1]")
    record(f"causal linear, decay S={S2}", "attn (cpu, 2 threads)", median(times["long"]))
    record(f"causal softmax S={S1}", "attn (cpu, 2 threads)", median(times["softmax"]))

    # Recurrent decode: one token per call with the state of a prefix of
    # 1k or 64k tokens (each state computed by a call on the prefix).
    import numpy as np
    rng = np.random.default_rng(1)
    lam = rng.uniform(0.9, 0.999, H).astype(np.float32)
    st = f"tensor<1x{H}x{D}x{D}xf32>"

    def stateful(name, L):
        t = f"tensor<1x{H}x{L}x{D}xf32>"
        path = os.path.join(WORK, f"{name}.mlir")
        with open(path, "w") as f:
            f.write(f"func.func @{name}(%q: {t}, %k: {t}, %v: {t}, %l: tensor<{H}xf32>, %s: {st})"
                    f" -> ({t}, {st}) {{\n  %o, %s1 = attn.linear_aggregate %q, %k, %v decay(%l) "
                    f"state(%s : {st}) {{causal}} : {t}, {t}, {t}, tensor<{H}xf32> -> {t}, {st}\n"
                    f"  return %o, %s1 : {t}, {st}\n}}\n")
        return path
    step = stateful("decode_step", 1)
    token = [rng.uniform(-1, 1, (1, H, 1, D)).astype(np.float32) for _ in range(3)]
    per_token = {}
    for P in (1024, 65536):
        prefix = stateful(f"prefix{P}", P)
        x = [rng.uniform(-1, 1, (1, H, P, D)).astype(np.float32) for _ in range(3)]
        args = npy_args(f"prefix{P}", x + [lam, np.zeros((1, H, D, D), np.float32)])
        outs = [os.path.join(WORK, f"prefix{P}_out{n}.npy") for n in range(2)]
        subprocess.run([ATTN_RUN, prefix, "--pipeline=cpu"] + args + [f"--out={o}" for o in outs],
                       check=True, env=ENV, capture_output=True)
        step_args = npy_args(f"step{P}", token + [lam, np.load(outs[1])])
        per_token[P] = step_args
    ratios, t1k, t64k = [], [], []
    for _ in range(max(3, a.rounds // 2)):
        a1 = run_attn(step, 2, 200, per_token[1024])
        a2 = run_attn(step, 2, 200, per_token[65536])
        t1k.append(a1)
        t64k.append(a2)
        ratios.append(a2 / a1)
    record("decode one token, state of 1k tokens", "attn (cpu, 2 threads)", median(t1k),
           "linear attention with decay, H=8, D=64")
    record("decode one token, state of 64k tokens", "attn (cpu, 2 threads)", median(t64k))
    return {"linear growth": median(growth), "linear vs softmax": median(versus),
            "linear sizes": (S1, S2), "decode position": median(ratios)}


def scan_cases(a, big, record):
    """Row D6 (Aaren): one query over every prefix, the scan form
    (attn-scan), at two lengths and against our tiled causal softmax
    attention of as many distinct query rows; each pair timed call by call
    in one process, over rounds."""
    H, D = 8, 64
    S1, S2 = (8192, 65536) if big else (2048, 16384)

    def aaren(S):
        t = f"tensor<1x{H}x{S}x{D}xf32>"
        st = f"tensor<1x{H}x{S}x{S}xf32>"
        return (f"func.func @aaren{S}(%q: tensor<1x{H}x{D}xf32>, %k: {t}, %v: {t}) -> {t} {{\n"
                f"  %e = tensor.empty() : {t}\n"
                f"  %qb = linalg.broadcast ins(%q : tensor<1x{H}x{D}xf32>) outs(%e : {t}) dimensions = [2]\n"
                f"  %s = attn.score %qb, %k : {t}, {t} -> {st}\n"
                f"  %m = attn.mask %s [#attn.causal] : {st}\n"
                f"  %o = attn.aggregate softmax %m, %v : {st}, {t} -> {t}\n  return %o : {t}\n}}\n")
    path = os.path.join(WORK, "scan.mlir")
    with open(path, "w") as f:
        f.write(aaren(S1) + aaren(S2) + open(program(f"softmax{S1}", 1, H, H, S1, S1, D,
                                                       "#attn.causal")).read())
    growth, versus, times = growth_and_speedup(a, path, "aaren", S1, S2, 5)
    record(f"one query, every prefix S={S1}", "attn (cpu, 2 threads)", median(times["short"]),
           "scan form (attn-scan), Aaren")
    record(f"one query, every prefix S={S2}", "attn (cpu, 2 threads)", median(times["long"]))
    return {"scan growth": median(growth), "scan vs softmax": median(versus),
            "scan sizes": (S1, S2)}


def write_docs(rows, results, paired, peak, S, big, rounds):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def r(case, impl):
        return results.get(case, {}).get(impl)

    def ratio(x, y):
        return (x / y) if (x and y) else float("nan")

    att2 = "attn (cpu, 2 threads)"
    dense, causal = f"dense S={S}", f"causal S={S}"
    w1, w2 = (f"window 256 S={8192 if big else 2048}", f"window 256 S={16384 if big else 4096}")
    dec = f"decode Sq=1 Skv={32768 if big else 8192} H=32"
    targets = [
        ("dense: faster than NumPy unfused", ratio(r(dense, "numpy/OpenBLAS unfused"), r(dense, att2)), ">= 1.5x"),
        ("dense: speed relative to ORT MHA", paired["dense/ort"], ">= 0.6x"),
        ("dense: 2 threads vs 1", paired["dense 1/2"],
         f"~2x (OpenBLAS sgemm: {paired['sgemm 1/2']:.2f}x)" if paired.get("sgemm 1/2") else "~2x"),
        ("causal: faster than our dense", paired["causal"], ">= 1.8x"),
        ("causal: faster than ORT GQA causal", paired["causal/ort"], "> 1x"),
        (f"{w2}: faster than NumPy masked dense", ratio(r(w2, "numpy/OpenBLAS masked dense"), r(w2, att2)), ">= 40x"),
        (f"{w1}: faster than ORT GQA window", paired["window/ort"], ">= 5x"),
        ("window: time growth from S to 2S", paired["window growth"], "<= 2.3x"),
        ("decode: 2 threads vs 1", paired["decode"], ">= 1.7x"),
    ]
    sparse_targets = [
        (f"block-sparse 10%: faster than our dense", paired["block-sparse vs dense"], ">= 6x"),
        (f"block-sparse 10%: time / (density x dense + empty-mask time)",
         paired["block-sparse vs bound"], "<= 1.5x"),
        ("16 documents: faster than our dense causal", paired["documents vs causal"], ">= 10x"),
        ("graph (power law, degree 16): faster than NumPy masked dense, extrapolated",
         paired["graph vs numpy"], ">= 100x"),
        ("LSH 64 buckets: faster than our dense", paired["lsh vs dense"], ">= 8x"),
    ]
    mem = results.get("memory", {})
    lines = ["# Benchmarks", "",
             "fp32, B=1, H=8, D=64 (decode: H=32), medians, all measured in one run of",
             f"`bench/run.py{'' if big else ' --quick'}` on the 2-core VM ({time.strftime('%Y-%m-%d')}),",
             f"CPU: {CPU}.",
             f"OpenBLAS sgemm peak with 2 threads (4096^3): {peak:.0f} GFLOP/s." if peak else "",
             f"Peers run with OPENBLAS_CORETYPE={ENV.get('OPENBLAS_CORETYPE', 'unset')} (OpenBLAS 0.3.21 "
             "falls back to its SSE3 kernel on this CPU otherwise) and glibc keeping freed memory.",
             "GFLOP/s count 4*B*H*D per visible (query, key) pair, as the peers do.",
             f"The VM switches speed regimes, so the dense, causal and window measurements, ours and "
             f"ONNX Runtime's, run alternately over {rounds} rounds, as do the 1- and 2-thread decode runs: "
             "times are the median over rounds of each run's median, and the ratios between them below "
             "are the median over rounds of the ratio within a round. Causal vs dense and the two window "
             "lengths are timed call by call alternately in one process (`attn-run --bench-with`); their "
             "ratios are medians of the per-call ratios over all rounds. The NumPy peers, orders of "
             "magnitude slower, run once.", "",
             "| case | implementation | median ms | notes |", "|---|---|---|---|"]
    for case, impl, ms, note in rows:
        lines.append(f"| {case} | {impl} | {'skipped' if ms is None else f'{ms:.2f}'} | {note} |")
    lines += ["", "## Targets: tiled form", "", "| target | measured | wanted |", "|---|---|---|"]
    for name, val, want in targets:
        lines.append(f"| {name} | {(val or float('nan')):.2f}x | {want} |")
    if mem.get("peak_mb"):
        extra = mem["peak_mb"] - mem["base_mb"] - mem["io_mb"]
        lines.append(f"| causal S={32768 if big else 8192}: peak RSS above the process baseline "
                     f"minus inputs and output | {extra:.0f} MB | <= 64 MiB |")
    lines += ["", "## Targets: sparse forms", "",
              f"Block mask density drawn: {paired['block density']:.3f}; the empty-mask time stands for "
              "the compaction (it runs the compaction and the per-query-tile set-up and finish, nothing "
              "else).", "", "| target | measured | wanted |", "|---|---|---|"]
    for name, val, want in sparse_targets:
        lines.append(f"| {name} | {(val or float('nan')):.2f}x | {want} |")
    if paired.get("linear growth"):
        S1, S2 = paired["linear sizes"]
        lines += ["", "## Targets: linear and scan forms", "",
                  "| target | measured | wanted |", "|---|---|---|",
                  f"| causal linear with decay: time growth S={S1} -> {S2} | "
                  f"{paired['linear growth']:.2f}x | <= 8.8x (length x{S2 // S1}) |",
                  f"| causal linear with decay S={S1}: faster than our causal softmax | "
                  f"{paired['linear vs softmax']:.2f}x | >= 4x |",
                  f"| recurrent decode: per-token time, position 64k vs 1k | "
                  f"{paired['decode position']:.2f}x | <= 1.2x |"]
    if paired.get("scan growth"):
        S1, S2 = paired["scan sizes"]
        lines += [f"| scan form (D6): time growth S={S1} -> {S2} | "
                  f"{paired['scan growth']:.2f}x | linear (length x{S2 // S1}) |",
                  f"| scan form (D6) S={S1}: faster than our tiled causal softmax | "
                  f"{paired['scan vs softmax']:.2f}x | O(S) vs O(S^2) |"]
    # The GPU device check runs elsewhere: scripts/device-check.sh
    # writes results.md, committed as docs/gpu-results.md.
    gpu = os.path.join(ROOT, "docs", "gpu-results.md")
    lines += ["", "## GPU", ""]
    if os.path.exists(gpu):
        lines += [open(gpu).read().strip(), "", "(from docs/gpu-results.md, written by "
                  "`scripts/device-check.sh run` on the GPU machine)"]
    else:
        lines += ["Not measured yet: no session has had a GPU machine. The device check "
                  "(`scripts/device-check.sh`, docs/gpu.md) is ready; its results.md goes to "
                  "docs/gpu-results.md and appears here."]
    lines += ["", "![benchmarks](benchmarks.png)", ""]
    page = os.path.join(ROOT, "docs", "benchmarks.md")
    text = "\n".join(lines)
    # The gradients section belongs to the gradient suite: keep it.
    import entmax
    import grad
    import ring
    old_page = open(page).read() if os.path.exists(page) else ""
    for suite in (grad, entmax, ring):
        kept = suite.kept_section(old_page)
        if kept:
            text = grad.insert_section(text, kept)
    with open(page, "w") as f:
        f.write(text)

    # One panel per comparison: a case's implementations, or our sparse
    # kernels next to the dense kernel they are measured against.
    def panel(case):
        m = re.match(r"(block-sparse .*|dense) S=(\d+)$", case)
        if m and m.group(2) in ("8192", "2048"):
            return f"S={m.group(2)}: dense vs block-sparse"
        if re.match(r"(causal|16 documents, causal) S=(16384|4096)$", case) and case != f"causal S={S}":
            return f"S={case.split('S=')[-1]}: causal vs 16 documents"
        if re.match(r"(dense|LSH 64 buckets) S=(16384|4096)$", case) and case != f"dense S={S}":
            return f"S={case.split('S=')[-1]}: dense vs LSH buckets"
        if case.startswith(("causal linear", "causal softmax")):
            return "causal linear attention with decay"
        if case.startswith("one query, every prefix"):
            return "one query, every prefix (scan)"
        if case.startswith("decode one token"):
            return "recurrent decode, one token"
        return case
    panels = {}
    for case, impl, ms, _ in rows:
        name = panel(case)
        label = impl if name == case else f"{case.split(' S=')[0]}\n{impl}"
        panels.setdefault(name, []).append((label, ms or 0, impl.startswith("attn")))
    ncols = 5
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.6 * nrows), squeeze=False)
    axes = axes.flatten()
    for ax in axes[len(panels):]:
        ax.axis("off")
    for ax, (case, bars) in zip(axes, panels.items()):
        ax.bar(range(len(bars)), [v for _, v, _ in bars],
               color=["#1f77b4" if ours else "#aaaaaa" for _, _, ours in bars])
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels([l.replace(" (", "\n(").replace("/", "/\n") for l, _, _ in bars], fontsize=5)
        ax.set_title(case, fontsize=8)
        ax.set_ylabel("ms (lower is better)", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(ROOT, "docs", "benchmarks.png"), dpi=110)


if __name__ == "__main__":
    main()
