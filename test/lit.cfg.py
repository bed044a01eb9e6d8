# -*- Python -*-
import os
import shutil

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "ATTN"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attn_obj_root, "test")

# FileCheck variables do not leak across CHECK-LABEL blocks.
config.environment["FILECHECK_OPTS"] = "-enable-var-scope"

llvm_config.use_default_substitutions()

# Project tools first: a tool lit cannot find would silently fall back to
# /usr/lib/llvm-22/bin.
llvm_config.with_environment("PATH", config.attn_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tools = [
    ToolSubst("attn-opt", unresolved="fatal"),
    ToolSubst("attn-translate", unresolved="fatal"),
    ToolSubst("attn-run", unresolved="fatal"),
    ToolSubst("attn-compile", unresolved="fatal"),
    ToolSubst("attn-aot-run", unresolved="fatal"),
    ToolSubst("attn-fuzz", unresolved="ignore"),
]
llvm_config.add_tool_substitutions(tools, [config.attn_tools_dir])

# Debian's python3 carries numpy (the pyenv python3 on PATH may not).
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%attn_src", config.attn_src_root))
config.substitutions.append(("%attn_build", config.attn_obj_root))
config.substitutions.append(("%cmake", config.cmake_command))
config.substitutions.append(("%mlir_dir", config.mlir_dir))
config.substitutions.append(("%cxx", config.cxx_compiler))
config.substitutions.append(("%cc", config.c_compiler))
config.substitutions.append(("%llvm_lib_dir", config.llvm_lib_dir))

# The package test builds a consumer of the install tree with CMake and Ninja.
ninja = config.make_program
if not (os.path.basename(ninja).startswith("ninja") and os.path.exists(ninja)):
    ninja = shutil.which("ninja")
if ninja and os.path.exists(config.cmake_command):
    config.available_features.add("cmake-ninja")
    config.substitutions.append(("%ninja", ninja))

# GPU: compile-only checks need the CUDA toolkit (ptxas, cuda.h and the stub
# libcuda); execution needs a GPU with its driver, which CI never has.
ptxas = os.path.join(config.cuda_root, "bin", "ptxas")
if os.path.exists(ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
if config.cuda_include_dir and "NOTFOUND" not in config.cuda_include_dir:
    config.available_features.add("cuda-toolkit")
    config.substitutions.append(("%cuda_include", config.cuda_include_dir))
    config.substitutions.append(("%cuda_stubs", os.path.join(config.cuda_root, "lib64", "stubs")))
# MPI (Open MPI, installed by scripts/setup.sh): the ranks of a test run on
# this machine, as many as asked (--oversubscribe), also as root.
mpirun, mpicc = shutil.which("mpirun"), shutil.which("mpicc")
if mpirun and mpicc:
    import subprocess
    link = subprocess.run([mpicc, "--showme:link"], capture_output=True, text=True)
    if link.returncode == 0:
        config.available_features.add("mpi")
        config.substitutions.append(
            ("%mpirun", f"{mpirun} --allow-run-as-root --oversubscribe"))
        # Containers often forbid the cross-memory attach that Open MPI's
        # shared-memory transport uses for large messages: copy instead.
        config.environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
        config.substitutions.append(("%mpi_link", link.stdout.strip()))
        flags = subprocess.run([mpicc, "--showme:compile"], capture_output=True, text=True)
        config.substitutions.append(("%mpi_compile", flags.stdout.strip()))
        # attn-run --sequence-parallel=ring (attn-run built against MPI).
        if getattr(config, "attn_have_mpi", 0):
            config.available_features.add("ring")
# scripts/sanitizer-lane.sh: ASan builds cannot run under address-space
# limits.
if os.environ.get("ATTN_SANITIZER_LANE"):
    config.available_features.add("asan")
if os.path.exists(os.path.join(config.attn_tools_dir, "attn-fuzz")):
    config.available_features.add("attn-fuzz")
# The host's instruction-set extensions (/proc/cpuinfo flags), for tests of
# attn-run --mcpu/--mattr that depend on what the machine lacks.
try:
    with open("/proc/cpuinfo") as cpuinfo:
        flags = next((l.split(":", 1)[1].split() for l in cpuinfo if l.startswith("flags")), [])
    for flag in ("avx2", "avx512f", "avx512_fp16"):
        if flag in flags:
            config.available_features.add("host-" + flag.replace("_", ""))
except OSError:
    pass
if os.path.exists("/dev/nvidia0") or os.path.exists("/dev/nvidiactl"):
    config.available_features.add("cuda-gpu")
