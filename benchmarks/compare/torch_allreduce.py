#!/usr/bin/env python3
"""torch.distributed.all_reduce from Python: the myriad backend against gloo,
interleaved in one run.

Both backends live in the same processes (the default group is myriad, a
second group over the same ranks is gloo) and run on the same buffers. For
each size, pairs of timed blocks alternate A (myriad), B (gloo), A, B ...;
each block is a barrier on its own group, then `iters` in-place float32 sum
all-reduces. Reported per size: the median time per operation of each,
busbw (bytes x 2(n-1)/n / time; with 2 ranks, bytes / time) and the median
and p10/p90 of the per-pair ratios gloo/myriad (how many times faster
myriad is).

    myriad run -np 2 benchmarks/compare/torch_allreduce.py
    torchrun --nproc-per-node 2 benchmarks/compare/torch_allreduce.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.distributed as dist

import myriad.torch  # noqa: F401


def sizes(lo: int, hi: int) -> list[int]:
    out, s = [], lo
    while s <= hi:
        out.append(s)
        s *= 4
    return out


def human(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n // scale} {unit}"
    return f"{n} B"


def block(t: torch.Tensor, group, iters: int) -> float:
    dist.barrier(group=group)
    start = time.perf_counter()
    for _ in range(iters):
        dist.all_reduce(t, group=group)
    return (time.perf_counter() - start) / iters


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--min-bytes", type=int, default=4 << 10)
    p.add_argument("--max-bytes", type=int, default=256 << 20)
    p.add_argument("--pairs", type=int, default=9, help="timed A,B pairs per size")
    p.add_argument("--block-seconds", type=float, default=0.1, help="target length of a timed block")
    args = p.parse_args()

    dist.init_process_group("myriad")
    rank, n = dist.get_rank(), dist.get_world_size()
    mine = dist.group.WORLD
    gloo = dist.new_group(backend="gloo")
    factor = 2 * (n - 1) / n
    if rank == 0:
        print(f"# all_reduce f32 sum, {n} ranks, {args.pairs} interleaved pairs per size; ratio = gloo time / myriad time")
        print("| size | myriad | gloo | myriad busbw | gloo busbw | ratio median | ratio p10 / p90 |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
    for nbytes in sizes(args.min_bytes, args.max_bytes):
        t = torch.ones(nbytes // 4)
        # Warm-up (connections, first-touch of pages) and the block length,
        # from gloo, the slower: agreed across ranks so blocks stay paired.
        block(t, mine, 2)
        one = torch.tensor([block(t, gloo, 2)], dtype=torch.float64)
        dist.all_reduce(one, op=dist.ReduceOp.MAX, group=gloo)
        iters = max(1, min(1000, int(args.block_seconds / one.item())))
        a, b, ratios = [], [], []
        for _ in range(args.pairs):
            ta = block(t, mine, iters)
            tb = block(t, gloo, iters)
            a.append(ta)
            b.append(tb)
            ratios.append(tb / ta)
        if rank == 0:
            ma, mb = statistics.median(a), statistics.median(b)
            print(
                f"| {human(nbytes)} | {ma * 1e6:.1f} us | {mb * 1e6:.1f} us | "
                f"{nbytes * factor / ma / 1e9:.2f} GB/s | {nbytes * factor / mb / 1e9:.2f} GB/s | "
                f"{statistics.median(ratios):.1f}x | {pct(ratios, 0.1):.1f} / {pct(ratios, 0.9):.1f} |",
                flush=True,
            )
        del t
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
