"""Compile-only GPU check: every program given is lowered by
`attn-opt --attn-to-nvvm="chip=CHIP format=isa"`, the PTX of each gpu.binary
object is extracted and assembled by ptxas for that chip.

usage: ptxas_check.py [--grad] ATTN_OPT PTXAS WORKDIR CHIP FILE...
With --grad, `--attn-grad` runs first: each public F gains @F_grad, whose
kernels are assembled too.
Prints one line per file and a summary line `ptxas CHIP: N of M accepted`.
"""
import os
import re
import subprocess
import sys

argv = sys.argv[1:]
grad = argv[:1] == ["--grad"]
if grad:
    argv = argv[1:]
attn_opt, ptxas, work, chip = argv[:4]
files = argv[4:]
os.makedirs(work, exist_ok=True)
accepted = 0


def mlir_string(s):
    """Decodes an MLIR string literal body (hex escapes such as \\0A, \\\\, \\")."""
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == "\\":
            nxt = s[i + 1]
            if nxt in "\\\"":
                out.append(ord(nxt))
                i += 2
            elif nxt == "n":
                out.append(10)
                i += 2
            elif nxt == "t":
                out.append(9)
                i += 2
            else:
                out.append(int(s[i + 1:i + 3], 16))
                i += 3
        else:
            out.extend(s[i].encode())
            i += 1
    return bytes(out)


for path in files:
    name = os.path.splitext(os.path.basename(path))[0]
    passes = ["--attn-grad"] if grad else []
    r = subprocess.run([attn_opt, path, *passes, f"--attn-to-nvvm=chip={chip} format=isa"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name}: FAIL lowering: {r.stderr.strip().splitlines()[:1]}")
        continue
    blobs = re.findall(r'(?:assembly|bin) = "((?:[^"\\]|\\.)*)"', r.stdout)
    if not blobs:
        print(f"{name}: FAIL no gpu.binary object")
        continue
    ok = True
    for n, blob in enumerate(blobs):
        ptx = os.path.join(work, f"{name}-{chip}-{n}.ptx")
        with open(ptx, "wb") as f:
            f.write(mlir_string(blob).rstrip(b"\0"))
        p = subprocess.run([ptxas, f"-arch={chip}", ptx, "-o", ptx + ".cubin"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            ok = False
            print(f"{name}: FAIL ptxas: {p.stderr.strip().splitlines()[:2]}")
    if ok:
        accepted += 1
        print(f"{name}: ok ({len(blobs)} module{'s' if len(blobs) > 1 else ''})")
print(f"ptxas {chip}: {accepted} of {len(files)} accepted")
