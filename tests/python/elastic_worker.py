"""A rank for test_elastic.py: trains a tiny DDP model with a checkpoint
every step, reports its steps to the agent, and resumes from the latest
checkpoint after a restart.

Modes (argv[1]):
  crash-once   rank 1 is killed (SIGKILL, by itself) at step 3 of the first
               round; the restarted ranks restore and finish 6 steps
  raise        every rank raises ValueError at step 0 (a bug in the script)
  slow         40 steps of at least 0.1 s each: a run long enough to break
               something under it (the store, a server) while it trains
Prints "restored step N from SOURCE" after a restore, "final CHECKSUM" at
the end (rank 0), and a JSON line per rank with its restart count and whether
torch was imported before the script ran (a rank forked by --preload).
"""

import json
import os
import signal
import sys
import time

# True in a rank forked from `myriad run --preload torch`'s fork server.
PRELOADED = "torch" in sys.modules

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

import myriad.checkpoint  # noqa: E402
import myriad.elastic  # noqa: E402
import myriad.torch  # noqa: E402,F401

STEPS = 6
SLOW_STEPS = 40


def say(line: str) -> None:
    """One write per line: under torchrun the ranks share one stdout pipe,
    and print() with PYTHONUNBUFFERED=1 writes the text and its newline
    apart, so two ranks' lines can interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    mode, ckpt_dir = sys.argv[1], sys.argv[2]
    dist.init_process_group("myriad")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    state = {"model": model.module.state_dict(), "opt": opt.state_dict(), "step": 0}
    first = 0
    if myriad.checkpoint.latest_step(ckpt_dir) is not None:
        result = myriad.checkpoint.load(state, ckpt_dir)
        model.module.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        first = int(state["step"])
        say(f"restored step {first} from {result.source}")
    steps = SLOW_STEPS if mode == "slow" else STEPS
    for step in range(first, steps):
        if mode == "slow":
            time.sleep(0.1)
        if mode == "raise":
            raise ValueError(f"bad learning rate schedule at step {step}")
        if mode == "crash-once" and rank == 1 and step == 3 and myriad.elastic.failure_count() == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        g = torch.Generator().manual_seed(step * 100 + rank)
        x = torch.randn(16, 8, generator=g)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        myriad.elastic.step(step)
        state = {"model": model.module.state_dict(), "opt": opt.state_dict(), "step": step + 1}
        myriad.checkpoint.save(state, ckpt_dir, step + 1).wait()
    if rank == 0:
        total = sum(float(p.detach().double().sum()) for p in model.parameters())
        say(f"final {total:.12g}")
    say(json.dumps({"rank": rank, "restarts": myriad.elastic.restart_count(), "preloaded": PRELOADED}))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
