#!/usr/bin/env python3
"""DDP step time of examples/torch/train_ddp.py's model: the myriad backend
against gloo, interleaved in one run, with the overlap each achieves.

Per round, in the same processes and on the same batches:
  A  DDP step (forward, backward with bucketed all-reduces, SGD) on myriad
  B  the same on gloo (a DDP model over a gloo group)
  C  compute only: the same step without DDP (no communication)
  D  communication only: the gradients' all-reduces alone, bucketed as DDP
     buckets them (--bucket-mb), on myriad (D1) and gloo (D2)
Reported: medians per step, the communication overhead of each backend
(step - compute, per round, median), the ratio of the two, and the
overlap: the share of the communication-only time hidden behind compute,
1 - overhead / comm-only.

    myriad run -np 2 benchmarks/compare/torch_ddp.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "torch"))
import train_ddp  # noqa: E402  (the example's model and data)


def timed(fn, steps: int, group) -> float:
    dist.barrier(group=group)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="25m", choices=sorted(train_ddp.MODELS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=3, help="steps per timed block")
    p.add_argument("--bucket-mb", type=float, default=25.0)
    p.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    dist.init_process_group("myriad")
    rank, world = dist.get_rank(), dist.get_world_size()
    gloo = dist.new_group(backend="gloo")
    torch.manual_seed(0)
    base = train_ddp.make_model(args.model)
    models = {
        "myriad": DDP(train_ddp.make_model(args.model), bucket_cap_mb=args.bucket_mb),
        "gloo": DDP(train_ddp.make_model(args.model), bucket_cap_mb=args.bucket_mb, process_group=gloo),
    }
    for m in models.values():
        m.module.load_state_dict(base.state_dict())
    opts = {k: torch.optim.SGD(m.parameters(), lr=1e-3) for k, m in models.items()}
    local_opt = torch.optim.SGD(base.parameters(), lr=1e-3)
    x, y = next(train_ddp.batches(args.model, args.batch, 0, rank))

    def step(model, opt):
        def run():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

        return run

    # The gradients, in DDP-sized buckets, for the communication-only blocks.
    numel = sum(q.numel() for q in base.parameters())
    per_bucket = int(args.bucket_mb * (1 << 20) / 4)
    buckets = [torch.ones(min(per_bucket, numel - i)) for i in range(0, numel, per_bucket)]

    def comm(group):
        def run():
            works = [dist.all_reduce(b, group=group, async_op=True) for b in buckets]
            for w in works:
                w.wait()

        return run

    blocks = {
        "myriad step": (step(models["myriad"], opts["myriad"]), None),
        "gloo step": (step(models["gloo"], opts["gloo"]), gloo),
        "compute": (step(base, local_opt), None),
        "myriad comm": (comm(None), None),
        "gloo comm": (comm(gloo), gloo),
    }
    for fn, group in blocks.values():  # warm-up
        timed(fn, 1, group)
    times: dict[str, list[float]] = {k: [] for k in blocks}
    for _ in range(args.rounds):
        for name, (fn, group) in blocks.items():
            times[name].append(timed(fn, args.steps, group))
    if rank != 0:
        dist.destroy_process_group()
        return
    med = {k: statistics.median(v) for k, v in times.items()}
    over = {b: [s - c for s, c in zip(times[f"{b} step"], times["compute"])] for b in ("myriad", "gloo")}
    print(f"# DDP {args.model} ({numel / 1e6:.1f} M parameters), {world} ranks, batch {args.batch}, "
          f"{args.threads} thread(s) per rank, {len(buckets)} buckets of <= {args.bucket_mb} MB, "
          f"{args.rounds} rounds of {args.steps} steps")
    print("| what | median per step |")
    print("| --- | --- |")
    for k, v in med.items():
        print(f"| {k} | {v * 1e3:.1f} ms |")
    for b in ("myriad", "gloo"):
        o = statistics.median(over[b])
        hidden = 1 - o / med[f"{b} comm"]
        print(f"| {b} overhead (step - compute) | {o * 1e3:.1f} ms; overlap {hidden * 100:.0f}% of comm-only |")
    om, og = statistics.median(over["myriad"]), statistics.median(over["gloo"])
    # An overhead at or below zero is communication fully hidden (within the noise).
    ratio = f"{og / om:.1f}x" if om > 0 else "myriad's is within the noise of zero"
    print(f"| overhead ratio gloo/myriad (of medians) | {ratio} |")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
