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
    --ckpt-dir DIR          resume from DIR's latest step, if any, and with
    --ckpt-every N          save there every N steps (myriad.checkpoint, async)

A checkpoint holds the model, the optimizer, the number of steps done, the
global RNG state and each rank's data generator state (a Shard per rank),
so a resumed run continues exactly where the saved one was: 6 steps, then
a resumed run to 10, print the losses and checksum of 10 uninterrupted
steps.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

import myriad.checkpoint as ckpt
import myriad.elastic
import myriad.torch  # noqa: F401  registers the "myriad" backend
from myriad.torch.hooks import bf16_compress

MODELS = {"small": (256, 512, 3), "25m": (1024, 2048, 6)}  # input width, hidden width, hidden layers
CLASSES = 10


def say(line: str) -> None:
    """Prints one line with one write: with PYTHONUNBUFFERED=1, print() writes
    the text and its newline apart, and a log line from the checkpoint
    service's background thread could land between them."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def make_model(name: str) -> nn.Module:
    width, hidden, layers = MODELS[name]
    blocks: list[nn.Module] = [nn.Linear(width, hidden), nn.ReLU()]
    for _ in range(layers - 1):
        blocks += [nn.Linear(hidden, hidden), nn.ReLU()]
    blocks.append(nn.Linear(hidden, CLASSES))
    return nn.Sequential(*blocks)


def batches(name: str, batch: int, gen: torch.Generator):
    width = MODELS[name][0]
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
    p.add_argument("--ckpt-dir", help="resume from this directory's latest checkpoint; save into it")
    p.add_argument("--ckpt-every", type=int, default=0, help="save a checkpoint every N steps (needs --ckpt-dir)")
    args = p.parse_args(argv)
    if args.ckpt_every < 0 or (args.ckpt_every and not args.ckpt_dir):
        p.error("--ckpt-every takes N >= 1 and needs --ckpt-dir")
    return args


def training_state(model: nn.Module, opt: torch.optim.Optimizer, done: int, gen: torch.Generator) -> dict:
    """What a checkpoint holds. Everything is the same on every rank but the
    data generator, which each rank saves as its row of a [world, n] tensor."""
    rank, world = dist.get_rank(), dist.get_world_size()
    gen_state = gen.get_state().unsqueeze(0)
    return {
        "model": model.state_dict(),
        "optim": opt.state_dict(),
        "step": done,
        "rng": torch.get_rng_state(),
        "data": ckpt.Shard(gen_state, (world, gen_state.shape[1]), rank),
    }


def resume(args: argparse.Namespace, model: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator) -> int:
    """Loads the latest checkpoint of --ckpt-dir, if any; returns the steps it had done."""
    if not args.ckpt_dir or ckpt.latest_step(args.ckpt_dir) is None:
        return 0
    state = training_state(model, opt, 0, gen)
    result = ckpt.load(state, args.ckpt_dir)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optim"])
    torch.set_rng_state(state["rng"])
    gen.set_state(state["data"].tensor[0])
    if dist.get_rank() == 0:
        say(f"resumed from step {state['step']} ({result.source})")
    return int(state["step"])


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
    gen = torch.Generator().manual_seed(args.seed * 100_003 + rank)
    first = resume(args, model.module, opt, gen)
    data = batches(args.model, args.batch, gen)

    if rank == 0:
        params = sum(p.numel() for p in model.parameters())
        say(f"backend {args.backend} world {world} model {args.model} params {params}")
    start = time.perf_counter()
    for step in range(first, args.steps):
        x, y = next(data)
        opt.zero_grad(set_to_none=not args.gradient_as_bucket_view)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        if rank == 0:
            say(f"step {step} loss {mean.item() / world:.9g}")
        myriad.elastic.step(step)  # progress for the agent's goodput ledger (a no-op outside myriad run)
        if args.ckpt_every and (step + 1) % args.ckpt_every == 0:
            # Returns once the snapshot is taken; the write overlaps the next steps.
            ckpt.save(training_state(model.module, opt, step + 1, gen), args.ckpt_dir, step + 1)
    if args.ckpt_every:
        ckpt.wait()  # the last save is committed before the group goes away
    elapsed = time.perf_counter() - start
    checksum = sum(p.detach().double().sum().item() for p in model.parameters())
    if rank == 0:
        say(f"checksum {checksum:.12g}")
        steps = max(args.steps - first, 1)
        say(f"time {elapsed:.3f} s ({elapsed / steps * 1000:.1f} ms/step)")
    dist.barrier()  # every rank done with the group before any tears it down
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
