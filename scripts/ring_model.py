#!/usr/bin/python3
"""The step-time model of ring attention (docs/ring-attention.md): per ring
step, the compute on the K/V block in hand against the transfer of the next
block, for causal attention over S tokens cut into P zigzag shards.

usage: scripts/ring_model.py [--S N] [--D N]

Per step a rank holds n = S/P queries and receives n keys: with zigzag half
the n^2 (query, key) pairs are visible, each costing 4·D FLOPs per head (QK^T
and PV), so compute = 2·H·D·n^2 / F; the transfer is K and V,
2·n·Hkv·D·b bytes over a link of BW bytes/s. The transfer hides behind the
compute when n >= F·b·Hkv / (H·BW): a bound on P = S/n that does not depend
on D. Prints markdown tables, compute/transfer in ms per step, `*` where the
transfer does not hide.
"""
import argparse

RANKS = [8, 16, 32, 64, 128, 256, 512, 1024]
LINKS_GBIT = [100, 200, 400]
DEVICES = [("H100-class GPU rank, bf16 (2 B), 400 TFLOP/s sustained", 400e12, 2),
           ("CPU node rank, f32 (4 B), 5 TFLOP/s sustained", 5e12, 4)]
HEADS = [(32, 32), (32, 4)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--S", type=int, default=1 << 20)
    ap.add_argument("--D", type=int, default=128)
    a = ap.parse_args()
    for name, flops, elt in DEVICES:
        print(f"\n{name}, S = {a.S}, D = {a.D}: compute / transfer per step (ms)\n")
        print("| H / Hkv | link | " + " | ".join(f"P={p}" for p in RANKS) + " | largest P hiding the transfer |")
        print("|---|---|" + "---|" * len(RANKS) + "---|")
        for h, hkv in HEADS:
            for gbit in LINKS_GBIT:
                bw = gbit / 8 * 1e9
                cells, hidden = [], None
                for p in RANKS:
                    n = a.S / p
                    compute = 2 * h * a.D * n * n / flops
                    transfer = 2 * n * hkv * a.D * elt / bw
                    cells.append(f"{compute * 1e3:.2f} / {transfer * 1e3:.2f}"
                                 + ("" if compute >= transfer else " *"))
                    if compute >= transfer:
                        hidden = p
                bound = flops * elt * hkv / (h * bw)
                print(f"| {h} / {hkv} | {gbit} Gb/s | " + " | ".join(cells)
                      + f" | {hidden or '-'} (n >= {bound:.0f} tokens) |")


if __name__ == "__main__":
    main()
