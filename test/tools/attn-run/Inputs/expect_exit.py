"""Runs a command, requires a given exit status, and prints its stderr.

usage: expect_exit.py STATUS CMD [ARGS...]
lit's internal shell cannot test for one specific non-zero status ("not"
accepts any), and attn-run's contract distinguishes 1 (check failed) from 2
(invalid program or input).
"""
import subprocess
import sys

want = int(sys.argv[1])
proc = subprocess.run(sys.argv[2:], capture_output=True, text=True)
sys.stdout.write(proc.stderr)
if proc.returncode != want:
    sys.stdout.write(proc.stdout)
    sys.exit(f"expected exit status {want}, got {proc.returncode}")
