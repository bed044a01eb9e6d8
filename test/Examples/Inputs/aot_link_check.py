"""Compile-only GPU check: every program given is compiled ahead of time by
`attn-compile --target=cuda` (kernels as cubins through ptxas, host code to
an object) and linked with the generic runner (attn-aot-run, which calls
every entry point), libattn_cuda_runtime.a and libcuda (the toolkit's stub
where no driver is installed) into an executable.

usage: aot_link_check.py ATTN_COMPILE CXX SRC_ROOT RUNTIME_LIB CUDA_STUBS WORKDIR FILE...
Prints one line per file and `aot link: N of M linked`.
"""
import os
import subprocess
import sys

attn_compile, cxx, src, runtime, stubs, work = sys.argv[1:7]
files = sys.argv[7:]
os.makedirs(work, exist_ok=True)
linked = 0
for path in files:
    name = os.path.splitext(os.path.basename(path))[0]
    out = os.path.join(work, name)
    r = subprocess.run([attn_compile, path, "--target=cuda", "-o", out], capture_output=True, text=True)
    if r.returncode:
        print(f"{name}: FAIL attn-compile: {r.stderr.strip()[:300]}")
        continue
    r = subprocess.run([cxx, "-O1", "-std=c++17", "-DATTN_CUDA", "-DATTN_ENTRY_TABLE", "-include", out + ".h",
                        os.path.join(src, "tools/attn-aot-run/attn-aot-run.cpp"),
                        os.path.join(src, "lib/Runner/Npy.cpp"), "-I" + os.path.join(src, "dialects"), out + ".o", runtime,
                        "-L" + stubs, "-lcuda", "-o", out + ".run"], capture_output=True, text=True)
    if r.returncode:
        print(f"{name}: FAIL link: {r.stderr.strip()[:300]}")
        continue
    linked += 1
    print(f"{name}: ok")
print(f"aot link: {linked} of {len(files)} linked")
