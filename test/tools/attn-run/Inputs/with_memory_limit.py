"""Runs a command under an address-space limit (lit's shell has no ulimit).

usage: with_memory_limit.py MIB CMD [ARGS...]
Sets RLIMIT_AS to MIB mebibytes, then executes CMD in this process.
"""
import os
import resource
import sys

limit = int(sys.argv[1]) << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
os.execvp(sys.argv[2], sys.argv[2:])
