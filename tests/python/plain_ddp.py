"""A DDP training script as torchrun users write it: it never imports myriad.

    python plain_ddp.py [--backend gloo] [--steps N] [--second-group myriad]
                        [--die-at STEP]

init_process_group(backend) with torch's env:// rendezvous (rank 0 starts
torch's own TCPStore on MASTER_ADDR:MASTER_PORT), a seeded model, N steps
of DDP on rank-dependent data, then rank 0 prints "checksum <sum of every
parameter>". --second-group BACKEND also builds a process group of another
backend (importing that backend's package when it is not torch's) and
checks an all-reduce on it. --die-at STEP: rank 1 kills itself with SIGKILL
at that step of its first attempt (TORCHELASTIC_RESTART_COUNT=0), so a
launcher with restarts runs the script again from the start.
"""

import argparse
import os
import signal
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="gloo")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--second-group", default="")
    parser.add_argument("--die-at", type=int, default=-1)
    args = parser.parse_args()

    dist.init_process_group(args.backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.second_group:
        if args.second_group == "myriad":
            import myriad.torch  # noqa: F401  (registers the backend)
        group = dist.new_group(backend=args.second_group)
        flag = torch.tensor([float(rank + 1)])
        dist.all_reduce(flag, group=group)
        expected = world * (world + 1) / 2
        if flag.item() != expected:
            sys.stdout.write(f"second group {args.second_group}: {flag.item()} != {expected}\n")
            return 3

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 4))
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(1000 + rank)
    attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    for step in range(args.steps):
        if rank == 1 and step == args.die_at and attempt == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        x = torch.randn(8, 16, generator=generator)
        y = torch.randn(8, 4, generator=generator)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(ddp(x), y).backward()
        optimizer.step()
    total = sum(float(p.detach().double().sum()) for p in model.parameters())
    if rank == 0:
        # One write per line: ranks may share the launcher's pipe.
        sys.stdout.write(f"world {world} master_port {os.environ.get('MASTER_PORT')} checksum {total!r}\n")
        sys.stdout.flush()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    code = main()
    # Leave without the interpreter's finalisation: torch's gloo worker
    # threads can still hold Python objects then, and the process aborts
    # (SIGABRT, "terminate called without an active exception") after its
    # work is done, under torchrun as under myriad run. The tests compare
    # results and exit codes, not torch's teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
