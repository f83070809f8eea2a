#!/usr/bin/env python3
"""Data-parallel training of a small MLP on synthetic data with DDP.

Runs unchanged under either launcher:

    myriad run -np 4 examples/torch/train_ddp.py
    torchrun --nproc-per-node 4 examples/torch/train_ddp.py

Every rank draws its own batches from a generator seeded with
(--seed, rank), so two runs with the same seed and world size see the
same data and, with the same reduction order, compute the same model.
Rank 0 prints the mean loss over the ranks after each step and, at the
end, a checksum of the parameters (their sum, as float64).

    --backend myriad|gloo   the torch.distributed backend (default myriad)
    --model small|25m       ~0.4 M or ~25 M parameters
    --bf16-hook             Myriad's bf16 compression comm hook
    --torch-bf16-hook       torch's own bf16_compress_hook (for comparison)
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

import myriad.torch  # noqa: F401  registers the "myriad" backend
from myriad.torch.hooks import bf16_compress

MODELS = {"small": (256, 512, 3), "25m": (1024, 2048, 6)}  # input width, hidden width, hidden layers
CLASSES = 10


def make_model(name: str) -> nn.Module:
    width, hidden, layers = MODELS[name]
    blocks: list[nn.Module] = [nn.Linear(width, hidden), nn.ReLU()]
    for _ in range(layers - 1):
        blocks += [nn.Linear(hidden, hidden), nn.ReLU()]
    blocks.append(nn.Linear(hidden, CLASSES))
    return nn.Sequential(*blocks)


def batches(name: str, batch: int, seed: int, rank: int):
    width = MODELS[name][0]
    gen = torch.Generator().manual_seed(seed * 100_003 + rank)
    while True:
        x = torch.randn(batch, width, generator=gen)
        y = torch.randint(0, CLASSES, (batch,), generator=gen)
        yield x, y


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="myriad", choices=["myriad", "gloo"])
    p.add_argument("--model", default="small", choices=sorted(MODELS))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bf16-hook", action="store_true", help="Myriad's bf16 compression hook")
    p.add_argument("--torch-bf16-hook", action="store_true", help="torch's bf16_compress_hook")
    p.add_argument("--bucket-mb", type=float, default=25.0, help="DDP bucket size (bucket_cap_mb)")
    p.add_argument("--gradient-as-bucket-view", action="store_true")
    p.add_argument("--static-graph", action="store_true")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dist.init_process_group(args.backend)
    rank, world = dist.get_rank(), dist.get_world_size()

    torch.manual_seed(args.seed)
    model = DDP(
        make_model(args.model),
        bucket_cap_mb=args.bucket_mb,
        gradient_as_bucket_view=args.gradient_as_bucket_view,
        static_graph=args.static_graph,
    )
    if args.bf16_hook:
        model.register_comm_hook(None, bf16_compress)
    elif args.torch_bf16_hook:
        from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

        model.register_comm_hook(None, default_hooks.bf16_compress_hook)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    data = batches(args.model, args.batch, args.seed, rank)

    if rank == 0:
        params = sum(p.numel() for p in model.parameters())
        print(f"backend {args.backend} world {world} model {args.model} params {params}", flush=True)
    start = time.perf_counter()
    for step in range(args.steps):
        x, y = next(data)
        opt.zero_grad(set_to_none=not args.gradient_as_bucket_view)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        if rank == 0:
            print(f"step {step} loss {mean.item() / world:.9g}", flush=True)
    elapsed = time.perf_counter() - start
    checksum = sum(p.detach().double().sum().item() for p in model.parameters())
    if rank == 0:
        print(f"checksum {checksum:.12g}", flush=True)
        print(f"time {elapsed:.3f} s ({elapsed / max(args.steps, 1) * 1000:.1f} ms/step)", flush=True)
    dist.barrier()  # every rank done with the group before any tears it down
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
