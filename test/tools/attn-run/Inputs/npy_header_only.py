"""Writes a .npy file whose header claims SHAPE but holds 64 data bytes.

usage: npy_header_only.py OUT SHAPE
SHAPE is comma-separated and copied verbatim into the header, so it can
hold sizes numpy itself would refuse (2^63 - 1, 20-digit numbers).
"""
import sys

out, shape = sys.argv[1], sys.argv[2]
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }"
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(out, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little"))
    f.write(header.encode() + bytes(64))
