"""The gradient benchmarks (issue 12): attn's @F_grad (attn-grad, the tiled
CPU backward, forward recomputation included) against our forward kernels,
our other backward kernels and PyTorch eager autograd, on the programs of
bench/grad/*.mlir; writes the "Gradients" section of docs/benchmarks.md and
docs/benchmarks-grad.png.

Run through `bench/run.py --grad [--rounds N] [--reps N] [--docs-only]`.

`attn-run --grad` cannot pair two entries in one process (--bench-with), so
every timed run is its own process, and the runs compared with each other
alternate round by round (every other round in reverse order); times are the
median over rounds of each run's median, ratios the median over rounds of the
ratio within a round.
"""
import os
import re
import subprocess
import time

import run as bench

PROGRAMS = os.path.join(bench.ROOT, "bench", "grad")
RESULTS = os.path.join(bench.WORK, "grad-results.json")
DOCS = os.path.join(bench.ROOT, "docs", "benchmarks.md")
PLOT = os.path.join(bench.ROOT, "docs", "benchmarks-grad.png")
# The section of docs/benchmarks.md this suite owns; the forward suite keeps
# it when it rewrites the page.
BEGIN = "<!-- gradients: written by bench/run.py --grad -->"
END = "<!-- end of gradients -->"
H, D = 8, 64
MIB = 2**20
PEER_VERSIONS = {}  # what the peer runs printed about themselves


def program(name):
    return os.path.join(PROGRAMS, name + ".mlir")


def attn_cmd(name, reps, grad, args=None):
    cmd = [bench.ATTN_RUN, program(name), "--pipeline=cpu", f"--bench={reps}", "--threads=2"]
    return cmd + (["--grad"] if grad else []) + (args or ["--random-args"])


def run_attn(name, reps, grad=True, args=None):
    """Median ms of `reps` timed calls of @NAME_grad (or of @NAME)."""
    cmd = attn_cmd(name, reps, grad, args)
    out = subprocess.run(cmd, capture_output=True, text=True, env=bench.ENV)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return float(re.search(r"median_ms=([0-9.]+)", out.stdout).group(1))


def torch_peer(impl, reps):
    """PyTorch eager autograd, causal S=4096: {fwd+bwd, fwd, bwd} ms and the
    peak working memory in MiB (peak RSS - RSS before the first call), or None."""
    cmd = [bench.PY, "torch_grad.py", "--impl", impl, "--variant", "causal", "--S", "4096",
           "--H", str(H), "--D", str(D), "--threads", "2", "--reps", str(reps), "--max-s", "120"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=bench.ENV, cwd=bench.PEERS)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    vals = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    if out.returncode != 0 or "ms" not in vals:
        print(f"  torch {impl}: {line or out.stderr.strip()[-300:]}", flush=True)
        return {f"torch {impl}": None}
    PEER_VERSIONS["torch"] = vals.get("torch")
    return {f"torch {impl}": float(vals["ms"]), f"torch {impl} fwd": float(vals["fwd_ms"]),
            f"torch {impl} bwd": float(vals["bwd_ms"]),
            f"torch {impl} MB": float(vals["peak_mb"]) - float(vals["base_mb"])}


def torch_memory_estimate(S):
    """The peer's own estimate of what unfused autograd needs at S (it skips
    the run when that exceeds MemAvailable), in MiB."""
    cmd = [bench.PY, "torch_grad.py", "--impl", "unfused", "--variant", "causal", "--S", str(S),
           "--H", str(H), "--D", str(D), "--rss-only"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=bench.ENV, cwd=bench.PEERS)
    m = re.search(r"need_mb=([0-9.]+)", out.stdout)
    return {"need_mb": float(m.group(1)) if m else None,
            "skipped": "skipped=1" in out.stdout}


def block_sparse_args():
    """.npy arguments of @blocksparse4096_grad: q, k, v, a 64x64 block mask
    keeping 10% of the blocks (drawn per head), then the cotangent dO.
    Returns (flags, density)."""
    import numpy as np
    rng = np.random.default_rng(0)
    S, nb = 4096, 4096 // 64
    qkv = [rng.uniform(-1, 1, (1, H, S, D)).astype(np.float32) for _ in range(3)]
    mask = rng.random((1, H, nb, nb)) < 0.10
    d_o = rng.uniform(-1, 1, (1, H, S, D)).astype(np.float32)
    return bench.npy_args("grad_bs4096", qkv + [mask, d_o]), float(mask.mean())


def machine_state():
    """Whether someone's build is running (a ninja process; the ones still
    waiting for /work/build.lock under flock are not) or tests are (lit),
    and the 1-minute load average: the machine has two cores, shared."""
    running = lambda args: subprocess.run(["pgrep"] + args, capture_output=True).returncode == 0
    return {"build": running(["-x", "ninja"]), "lit": running(["-f", "bin/lit "]),
            "load": os.getloadavg()[0]}


def peak_rss(cmd):
    """Runs cmd alone: (peak RSS in MiB from wait4, median_ms it printed)."""
    import tempfile
    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=bench.ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed")
        out.seek(0)
        ms = re.search(r"median_ms=([0-9.]+)", out.read())
    mib = usage.ru_maxrss / 1024
    print(f"  {mib:8.0f} MiB peak RSS, {time.monotonic() - t0:6.1f} s: {' '.join(cmd)}", flush=True)
    return mib, float(ms.group(1)) if ms else None


def memory():
    """Peak RSS (wait4) of attn-run --grad --bench=1 on @causal32768 (the
    first call and one timed call), of the forward alone at that length,
    and of @causal64_grad (loading, JIT and runtime: the baseline). One
    process at a time."""
    grad, grad_ms = peak_rss(attn_cmd("causal32768", 1, True))
    forward, _ = peak_rss(attn_cmd("causal32768", 1, False))
    base, _ = peak_rss(attn_cmd("causal64", 1, True))
    tensor = H * 32768 * D * 4 / MIB  # one B x H x S x D f32 tensor, MiB
    return {"grad_mb": grad, "forward_mb": forward, "base_mb": base, "tensor_mib": tensor,
            "grad_ms": grad_ms, "torch": torch_memory_estimate(32768)}


def main(a):
    bench.setup(["python3-torch"])  # PyTorch, CPU, for torch_grad.py
    bs_args, density = block_sparse_args()
    reps = a.reps
    runs = {
        "causal fwd": lambda: run_attn("causal4096", reps, grad=False),
        "causal grad": lambda: run_attn("causal4096", reps),
        "dense grad": lambda: run_attn("dense4096", max(3, reps // 2)),
        "torch unfused": lambda: torch_peer("unfused", 3),
        "torch sdpa": lambda: torch_peer("sdpa", 3),
        "window8192 grad": lambda: run_attn("window8192", reps),
        "window16384 grad": lambda: run_attn("window16384", reps),
        "blocksparse grad": lambda: run_attn("blocksparse4096", max(3, reps // 2), args=bs_args),
        "linear8192 grad": lambda: run_attn("linear8192", reps),
        "linear65536 grad": lambda: run_attn("linear65536", max(3, reps // 2)),
    }
    busy = []

    def watched(fn):
        def measure():
            busy.append(machine_state())
            return fn()
        return measure
    started = time.monotonic()
    times = bench.interleaved({k: watched(f) for k, f in runs.items()}, a.rounds)
    print("memory (one process at a time):", flush=True)
    mem = memory()
    saved = {"command": "bench/run.py --grad" + (f" --rounds={a.rounds}" if a.rounds != 5 else "")
             + (f" --reps={a.reps}" if a.reps != 5 else ""), "times": times, "memory": mem, "density": density, "rounds": a.rounds,
             "reps": reps, "cpu": bench.CPU, "torch": PEER_VERSIONS.get("torch"),
             "builds_seen": sum(b["build"] for b in busy),
             "tests_seen": sum(b["lit"] for b in busy), "runs": len(busy),
             "load": bench.median([b["load"] for b in busy]),
             "minutes": (time.monotonic() - started) / 60, "date": time.strftime("%Y-%m-%d")}
    bench.save_results(RESULTS, saved)
    if saved["builds_seen"] or saved["tests_seen"]:
        print(f"warning: a build (ninja) was running at {saved['builds_seen']} and tests (lit) "
              f"at {saved['tests_seen']} of {saved['runs']} measurements (median load "
              f"{saved['load']:.1f}); rerun for clean numbers", flush=True)
    write_docs(saved)


def docs_only():
    write_docs(bench.load_results(RESULTS))


def summarise(saved):
    """Rows (case, implementation, ms, note) and targets (name, value,
    unit, wanted, holds) from the saved measurements."""
    t = saved["times"]
    med = {k: bench.median(v) for k, v in t.items()}
    ratio = lambda num, den: bench.paired_ratio(t, num, den)
    ours = "attn @F_grad (cpu, 2 threads)"
    rows = [
        ("causal S=4096", "attn forward (cpu, 2 threads)", med["causal fwd"], ""),
        ("causal S=4096", ours, med["causal grad"], "row tiles: statistics sweep + gradient sweep, no separate forward"),
    ]
    for impl, label in (("unfused", "PyTorch eager autograd, unfused"),
                        ("sdpa", "PyTorch eager autograd, SDPA")):
        total = med.get(f"torch {impl}")
        note = (f"forward {med[f'torch {impl} fwd']:.0f} ms + backward "
                f"{med[f'torch {impl} bwd']:.0f} ms; working memory "
                f"{med[f'torch {impl} MB']:.0f} MiB" if total else "failed or skipped")
        rows.append(("causal S=4096", label + " (fwd+bwd)", total, note))
    rows += [("dense S=4096", ours, med["dense grad"], ""),
             ("window 256 S=8192", ours, med["window8192 grad"], ""),
             ("window 256 S=16384", ours, med["window16384 grad"], ""),
             ("block-sparse 64x64 10% S=4096", ours, med["blocksparse grad"],
              f"random block mask, density {saved['density']:.3f}"),
             ("causal linear, decay S=8192", ours, med["linear8192 grad"],
              "swish feature map, chunked forward and backward"),
             ("causal linear, decay S=65536", ours, med["linear65536 grad"], "")]
    m = saved["memory"]
    io = 7 * m["tensor_mib"]  # q, k, v, dO in; dq, dk, dv out
    extra = m["grad_mb"] - m["base_mb"] - io
    rows.append(("causal S=32768 (memory)", ours, m["grad_ms"],
                 f"peak RSS {m['grad_mb']:.0f} MiB = {m['base_mb']:.0f} MiB baseline (@causal64_grad) "
                 f"+ {m['grad_mb'] - m['base_mb']:.0f} MiB; forward alone {m['forward_mb']:.0f} MiB"))
    tm = m["torch"]
    torch_need = (f"needs ~{tm['need_mb'] / 1024:.0f} GiB (S x S score, probability and gradient "
                  f"tensors){', skipped' if tm['skipped'] else ''}" if tm.get("need_mb") else "n/a")
    rows.append(("causal S=32768 (memory)", "PyTorch eager autograd, unfused", None, torch_need))

    growth = lambda num, den: ratio(num, den)
    targets = [
        ("causal S=4096: @F_grad time / forward time", ratio("causal grad", "causal fwd"),
         "<= 2.5x", lambda v: v <= 2.5),
        ("causal S=4096: PyTorch eager autograd (unfused) fwd+bwd / our @F_grad",
         ratio("torch unfused", "causal grad"), ">= 3x", lambda v: v >= 3),
        ("causal S=4096: PyTorch SDPA fwd+bwd / our @F_grad", ratio("torch sdpa", "causal grad"),
         "(no target)", None),
        ("causal S=4096: PyTorch unfused backward half / our @F_grad",
         ratio("torch unfused bwd", "causal grad"), "(no target)", None),
        ("causal S=4096: PyTorch SDPA backward half / our @F_grad",
         ratio("torch sdpa bwd", "causal grad"), "(no target)", None),
        ("causal S=4096: backward faster than dense backward", ratio("dense grad", "causal grad"),
         ">= 1.8x", lambda v: v >= 1.8),
        ("window 256: backward time growth S=8192 -> 16384",
         growth("window16384 grad", "window8192 grad"), "<= 2.3x", lambda v: v <= 2.3),
        ("block-sparse 10% S=4096: backward faster than dense backward",
         ratio("dense grad", "blocksparse grad"), ">= 5x", lambda v: v >= 5),
        ("causal linear with decay: backward time growth S=8192 -> 65536",
         growth("linear65536 grad", "linear8192 grad"), "<= 8.8x (length x8)", lambda v: v <= 8.8),
    ]
    targets = [(n, v, "x", w, None if (ok is None or v is None) else ok(v))
               for n, v, w, ok in targets]
    targets.insert(7, ("causal S=32768: backward peak RSS above baseline, minus q, k, v, dO "
                       f"and dq, dk, dv ({io:.0f} MiB)", extra, " MiB", "<= 64 MiB", extra <= 64))
    return rows, targets


def machine_note(saved):
    """What else ran on the two cores while we measured."""
    if "tests_seen" not in saved:  # the first runs counted flock waiters too
        return (f"A build was running or queued during {saved['builds_seen']} of "
                f"{saved['runs']} measurements.")
    return (f"Other work on the two cores during the {saved['runs']} measurements: a build "
            f"(ninja) during {saved['builds_seen']}, tests (lit) during {saved['tests_seen']}; "
            f"median 1-minute load average {saved['load']:.1f} (2 would be a quiet machine "
            "running our two threads).")


def section(saved):
    rows, targets = summarise(saved)
    m = saved["memory"]
    lines = [BEGIN, "## Gradients", "",
             f"fp32, B=1, H=8, D=64, 2 threads, measured in one run of `{saved['command']}` "
             f"({saved['date']}, {saved['minutes']:.0f} minutes), CPU: {saved['cpu']}; "
             f"PyTorch {saved.get('torch') or '?'} (Debian python3-torch, OpenBLAS, 2 threads).",
             "The programs are bench/grad/*.mlir; `attn-run FILE --grad --random-args "
             "--bench=N --threads=2` times @F_grad, which must recompute what it needs of the forward "
             "from F's arguments: the tiled CPU form's row tiles (docs/tiled-form.md) get lse and "
             "Δ from a first sweep over each query tile's key tiles that keeps S and dP, then "
             "dq, dk, dv from a second; five contractions per tile pair where the forward has two. "
             "PyTorch times forward + `backward(dO)` of the same attention (peer "
             "bench/peers/torch_grad.py), and separately its two halves. `--bench-with` does not "
             "combine with `--grad`, so every run is its own process: the runs alternate over "
             f"{saved['rounds']} rounds (reversed every other round); times are medians over rounds "
             "of each run's median, ratios medians over rounds of the ratio within a round.",
             machine_note(saved), "",
             "| case | implementation | median ms | notes |", "|---|---|---|---|"]
    for case, impl, ms, note in rows:
        lines.append(f"| {case} | {impl} | {'-' if ms is None else f'{ms:.2f}'} | {note} |")
    lines += ["", "| target | measured | wanted | holds |", "|---|---|---|---|"]
    for name, val, unit, want, ok in targets:
        shown = "n/a" if val is None else (f"{val:.2f}x" if unit == "x" else f"{val:.0f}{unit}")
        lines.append(f"| {name} | {shown} | {want} | {'' if ok is None else ('yes' if ok else 'no')} |")
    tensor = m["tensor_mib"]
    lines += ["", f"Memory: each B x H x S x D f32 tensor at S=32768 is {tensor:.0f} MiB. attn-run "
              "holds the arguments q, k, v and the cotangent dO (moved into @F_grad's argument "
              "list, not copied); @F_grad returns dq, dk, dv (--bench frees them without "
              "copying). The target counts those 7 tensors as inputs and outputs: "
              f"{7 * tensor:.0f} MiB. The baseline is the peak RSS of the same process on "
              "@causal64_grad (loading, the JIT, the OpenMP runtime). What the tiled backward "
              "(lib/Conversion/AttnToLoops/TileGrad.cpp) adds, with row tiles (B x Hkv = 8: one "
              "query part; softmax; no captures): no forward pass and no O, and per running "
              "iteration (one per thread) the kept S^T and dP^T of one query tile against all "
              "key tiles, 2 x S x 64 floats; dk and dv are f32 here, so they are their own "
              "accumulators. PyTorch's unfused autograd keeps S x S tensors, estimated by "
              "the peer without running it.", "",
              "![gradient benchmarks](benchmarks-grad.png)", END]
    return "\n".join(lines)


def write_docs(saved):
    write_section(DOCS, BEGIN, END, section(saved))
    plot(saved)


def write_section(page, begin, end, block):
    """Replaces a suite's section (from `begin` to `end`) of the page, or
    inserts it before the GPU section."""
    text = open(page).read() if os.path.exists(page) else "# Benchmarks\n"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = insert_section(text, block)
    with open(page, "w") as f:
        f.write(text)


def insert_section(text, block):
    """Places the gradients section before the GPU section (or at the end)."""
    at = text.find("\n## GPU")
    if at < 0:
        return text.rstrip("\n") + "\n\n" + block + "\n"
    return text[:at] + "\n" + block + "\n" + text[at:]


def kept_section(old_text, begin=BEGIN, end=END):
    """A suite's section of a page (from `begin` to `end`; by default the
    gradients'), for the forward suite to keep."""
    if begin not in old_text:
        return None
    return begin + old_text.split(begin, 1)[1].split(end, 1)[0] + end


def plot(saved):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = saved["times"]
    med = {k: bench.median(v) for k, v in t.items()}
    panels = [
        ("causal S=4096", [("attn\nforward", med["causal fwd"], True),
                           ("attn\n@F_grad", med["causal grad"], True),
                           ("PyTorch\nunfused\nfwd+bwd", med.get("torch unfused"), False),
                           ("PyTorch\nSDPA\nfwd+bwd", med.get("torch sdpa"), False)]),
        ("S=4096: causal vs dense backward", [("dense", med["dense grad"], True),
                                              ("causal", med["causal grad"], True)]),
        ("window 256 backward", [("S=8192", med["window8192 grad"], True),
                                 ("S=16384", med["window16384 grad"], True)]),
        ("S=4096: dense vs block-sparse 10%\nbackward",
         [("dense", med["dense grad"], True), ("block-sparse", med["blocksparse grad"], True)]),
        ("causal linear with decay\nbackward", [("S=8192", med["linear8192 grad"], True),
                                                ("S=65536", med["linear65536 grad"], True)]),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for ax, (title, bars) in zip(axes, panels):
        ax.bar(range(len(bars)), [v or 0 for _, v, _ in bars],
               color=["#1f77b4" if ours else "#aaaaaa" for _, _, ours in bars])
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels([label for label, _, _ in bars], fontsize=6)
        ax.set_title(title, fontsize=8)
        ax.set_ylabel("ms (lower is better)", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
