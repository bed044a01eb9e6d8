"""The GPU device check, in two steps (scripts/device-check.sh).

prepare (here, with LLVM/MLIR): writes every case of device_cases.py as MLIR,
  compiles it ahead of time with attn-compile (--target=cuda, or cpu for a
  local rehearsal) and copies the runner and runtime sources next to the
  objects, so that the folder alone travels to the GPU machine.
run (there, with the CUDA driver, a C++ compiler and PyTorch; no LLVM):
  builds one attn-aot-run per case, draws the inputs, runs them, checks
  every result against a float64 PyTorch reference computed from the same
  .npy inputs, and benchmarks the benchmark cases against PyTorch SDPA
  (flash and cuDNN back ends) and FlexAttention on the same shapes in the
  same run. Writes results.json and results.md.

usage: device_check.py prepare --dir DIR [--target cuda|cpu] [--attn-compile PATH]
       device_check.py run --dir DIR --out OUT [--only NAME,...]
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import device_cases  # noqa: E402

ROOT = os.path.dirname(HERE)
TOLERANCE = {"f32": (1e-4, 1e-4), "f16": (2e-3, 2e-3), "bf16": (1e-2, 1e-2)}


def prepare(a):
    os.makedirs(a.dir, exist_ok=True)
    src = os.path.join(a.dir, "src")
    for rel in ("tools/attn-aot-run/attn-aot-run.cpp", "dialects/attn/Runner/Npy.h",
                "lib/Runner/Npy.cpp", "runtime/AttnCudaRuntime.cpp"):
        dst = os.path.join(src, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(os.path.join(ROOT, rel), dst)
    cases = device_cases.cases()
    names = sorted(cases) if not a.only else a.only.split(",")

    def compile_case(name):
        path = os.path.join(a.dir, name + ".mlir")
        with open(path, "w") as f:
            f.write(cases[name]["program"])
        r = subprocess.run([a.attn_compile, path, f"--target={a.target}",
                            "-o", os.path.join(a.dir, name)], capture_output=True, text=True)
        return name, r.returncode, r.stderr.strip()

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for name, rc, err in pool.map(compile_case, names):
            print(f"prepare {name}: {'ok' if rc == 0 else 'FAIL ' + err}", flush=True)
            if rc:
                sys.exit(1)
    with open(os.path.join(a.dir, "target"), "w") as f:
        f.write(a.target)


def build_runners(a, names, target):
    src = os.path.join(a.dir, "src")
    cxx = os.environ.get("CXX", "c++")
    cuda = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    common = [cxx, "-O2", "-std=c++17", "-DATTN_ENTRY_TABLE"]
    extra = []
    if target == "cuda":
        runtime = os.path.join(a.dir, "AttnCudaRuntime.o")
        subprocess.run([cxx, "-O2", "-std=c++17", "-c", "-I" + os.path.join(cuda, "include"),
                        os.path.join(src, "runtime/AttnCudaRuntime.cpp"), "-o", runtime], check=True)
        common.append("-DATTN_CUDA")
        extra = [runtime, "-L" + os.path.join(cuda, "lib64"),
                 "-L" + os.path.join(cuda, "lib64", "stubs"), "-lcuda"]
    else:
        extra = ["-L/usr/lib/llvm-22/lib", "-Wl,-rpath,/usr/lib/llvm-22/lib", "-lomp", "-lm"]

    def build(name):
        out = os.path.join(a.dir, name + ".run")
        r = subprocess.run(common + ["-include", os.path.join(a.dir, name + ".h"),
                                     os.path.join(src, "tools/attn-aot-run/attn-aot-run.cpp"),
                                     os.path.join(src, "lib/Runner/Npy.cpp"), "-I" + os.path.join(src, "dialects"),
                                     os.path.join(a.dir, name + ".o")] + extra + ["-o", out],
                           capture_output=True, text=True)
        return name, r.returncode, r.stderr.strip()

    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        for name, rc, err in pool.map(build, names):
            if rc:
                raise RuntimeError(f"building the runner of {name} failed: {err}")


def round_to(x, elt):
    """The values the kernel sees: bf16/f16 inputs rounded (bf16 travels as
    float32 .npy, f16 as float16)."""
    if elt == "f16":
        return x.astype(np.float16)
    if elt == "bf16":
        bits = x.astype(np.float32).view(np.uint32)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return bits.view(np.float32)
    return x


def run(a):
    target = open(os.path.join(a.dir, "target")).read().strip()
    cases = device_cases.cases()
    names = sorted(cases) if not a.only else a.only.split(",")
    t0 = time.time()
    build_runners(a, names, target)
    print(f"runners built in {time.time() - t0:.0f} s", flush=True)
    torch = None
    try:
        import torch as torch_module
        torch = torch_module
    except ImportError:
        if target == "cuda":
            raise
    dev = "cuda" if target == "cuda" else "cpu"
    T = device_cases.Ops(torch if torch is not None and target == "cuda" else np, dev)
    os.makedirs(a.out, exist_ok=True)
    results = {"target": target, "cases": {}}
    if torch is not None and target == "cuda":
        results["device"] = torch.cuda.get_device_name(0)
        results["torch"] = torch.__version__

    for n, name in enumerate(names):
        case = cases[name]
        rng = np.random.default_rng(1000 + n)
        work = os.path.join(a.out, name)
        os.makedirs(work, exist_ok=True)
        inputs, args = {}, []
        for iname, shape, kind in case["inputs"]:
            x = device_cases.draw(kind, shape, rng, np)
            if x.dtype == np.float32 and iname in ("q", "k", "v"):
                x = round_to(x, case["elt"])
            path = os.path.join(work, iname + ".npy")
            np.save(path, x)
            inputs[iname] = x
            args.append("--arg=" + path)
        outs = [os.path.join(work, f"out{r}.npy") for r in range(2 if case["ref"].get("lse") else 1)]
        cmd = [os.path.join(a.dir, name + ".run")] + args + ["--out=" + o for o in outs]
        entry = {}
        if case["bench"]:
            cmd += ["--bench=5", f"--flops={device_cases.flops(case)}"]
        t1 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode:
            entry.update(status="FAIL", error=(r.stderr or r.stdout).strip()[-400:])
            results["cases"][name] = entry
            print(f"{name}: FAIL {entry['error']}", flush=True)
            continue
        if case["bench"]:
            entry["median_ms"] = float(r.stdout.split("median_ms=")[1].split()[0])
        got = [np.load(o).astype(np.float64) for o in outs]
        # For the benchmark shapes, the reference of batch 0, heads 0-1 and
        # the last 512 query rows (they see the most keys): their float64
        # scores would not fit otherwise.
        sub, row0, sq_full = {}, 0, None
        if case["bench"]:
            sq_full = inputs["q"].shape[2]
            row0 = sq_full - 512
        for iname, x in inputs.items():
            y = x.astype(np.float64) if x.dtype.kind == "f" else x
            if case["bench"] and iname in ("k", "v"):
                y = y[:1, :2]
            if case["bench"] and iname == "q":
                y = y[:1, :2, row0:]
            sub[iname] = torch.from_numpy(np.ascontiguousarray(y)).to(dev) if T.torch else y
        want = device_cases.reference(case, sub, T, row0, sq_full)
        atol, rtol = TOLERANCE[case["elt"]]
        worst, ok = 0.0, True
        for g, w in zip(got, want):
            w = w.cpu().numpy() if T.torch else w
            if case["bench"]:
                g = g[:1, :2, row0:]
            err = np.abs(g - w)
            bad = ~((err <= atol + rtol * np.abs(w)) | (g == w))
            if bad.any():
                ok = False
                at = tuple(int(v) for v in np.argwhere(bad)[0])
                entry.setdefault("first_mismatch", f"{at}: got {g[at]:.6g}, want {w[at]:.6g}, "
                                                   f"{int(bad.sum())} of {bad.size} outside tolerance")
            worst = max(worst, float(np.nanmax(err)) if err.size else 0.0)
        entry.update(status="ok" if ok else "FAIL", max_abs_err=worst,
                     seconds=round(time.time() - t1, 1))
        if case["bench"] and torch is not None and target == "cuda":
            entry["peers"] = peers(torch, case, inputs)
        results["cases"][name] = entry
        print(f"{name}: {entry}", flush=True)

    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(markdown(results))
    print(markdown(results))
    if any(e["status"] != "ok" for e in results["cases"].values()):
        sys.exit(1)


def time_cuda(torch, fn, reps=10):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times))


def peers(torch, case, inputs):
    """PyTorch on the same inputs: SDPA (flash, cuDNN) and FlexAttention."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F
    q, k, v = (torch.from_numpy(inputs[n]).to("cuda", torch.bfloat16) for n in ("q", "k", "v"))
    ref = case["ref"]
    out = {}
    causal = ref.get("mask") == "causal"
    if ref.get("mask") in ("causal", "none"):  # SDPA has no block mask or window
        for label, backend in (("sdpa_flash", SDPBackend.FLASH_ATTENTION),
                               ("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION)):
            try:
                with sdpa_kernel(backend):
                    out[label] = time_cuda(torch, lambda: F.scaled_dot_product_attention(
                        q, k, v, is_causal=causal))
            except Exception as e:  # a back end the build lacks
                out[label] = f"unavailable: {type(e).__name__}"
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        s = q.shape[2]
        if ref.get("mask") == "block":
            bm = torch.from_numpy(inputs["bm"]).to("cuda")[0, 0]
            blk = ref["block"]

            def mask_mod(b, h, i, j):
                return bm[i // blk, j // blk]
        elif ref.get("mask") == "window":
            left = ref["left"]

            def mask_mod(b, h, i, j):
                return (j <= i) & (j >= i - left)
        else:
            mask_mod = None  # dense and causal: SDPA is the peer
        if mask_mod is not None:
            block_mask = create_block_mask(mask_mod, None, None, s, s)
            flex = torch.compile(flex_attention)
            out["flex_attention"] = time_cuda(torch, lambda: flex(q, k, v, block_mask=block_mask))
    except Exception as e:
        out["flex_attention"] = f"unavailable: {type(e).__name__}: {e}"[:200]
    return out


def markdown(results):
    lines = [f"Device check ({results['target']}"
             + (f", {results.get('device')}, torch {results.get('torch')}" if results.get("device") else "")
             + ")", "", "| case | status | max abs err | ours ms | SDPA flash ms | SDPA cuDNN ms | FlexAttention ms |",
             "|---|---|---|---|---|---|---|"]
    for name, e in results["cases"].items():
        p = e.get("peers", {})
        fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else ("" if v is None else str(v))
        lines.append(f"| {name} | {e['status']} | {e.get('max_abs_err', float('nan')):.2e} | "
                     f"{fmt(e.get('median_ms'))} | {fmt(p.get('sdpa_flash'))} | "
                     f"{fmt(p.get('sdpa_cudnn'))} | {fmt(p.get('flex_attention'))} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["prepare", "run"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out")
    ap.add_argument("--target", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--attn-compile", default=os.path.join(ROOT, "build", "bin", "attn-compile"))
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    if a.step == "prepare":
        prepare(a)
    else:
        a.out = a.out or os.path.join(a.dir, "out")
        run(a)


if __name__ == "__main__":
    main()
