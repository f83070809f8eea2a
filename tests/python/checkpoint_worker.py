"""One rank of the multi-rank myriad.checkpoint tests (test_checkpoint.py).

    checkpoint_worker.py train  DIR BACKEND   3 DDP steps (Adam), save step 3, keep what was saved
    checkpoint_worker.py resume DIR BACKEND   another init, load, compare with what was saved, 1 more step
    checkpoint_worker.py async  DIR           ordering of asynchronous saves (2 ranks)

BACKEND is a torch.distributed backend, or "none": no process group (the
checkpoint service then builds its communicator from the job's store).
Exits non-zero (with a traceback) when a check fails.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

import myriad
import myriad.checkpoint as ckpt
import myriad.torch  # noqa: F401  the "myriad" backend

STEPS = 3


def model_and_optimizer(seed: int, backend: str) -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    wrapped = nn.parallel.DistributedDataParallel(net) if backend != "none" else net
    return net, wrapped, torch.optim.Adam(net.parameters(), lr=0.01)


def rank_and_world(backend: str) -> tuple[int, int]:
    if backend == "none":
        return myriad.rank(), myriad.world_size()
    dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


def step(model: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator) -> None:
    x, y = torch.randn(4, 8, generator=gen), torch.randint(0, 4, (4,), generator=gen)
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()


def state_of(net: nn.Module, opt: torch.optim.Optimizer, rank: int, world: int) -> dict:
    own = torch.full((1, 3), float(rank))  # differs per rank: saved as a shard
    return {"model": net.state_dict(), "optim": opt.state_dict(), "step": 0, "own": ckpt.Shard(own, (world, 3), rank)}


def train(dir: str, backend: str) -> None:
    rank, world = rank_and_world(backend)
    net, model, opt = model_and_optimizer(0, backend)
    # Without DDP nothing keeps the ranks' models equal: they train on the same data.
    gen = torch.Generator().manual_seed(rank if backend != "none" else 0)
    for _ in range(STEPS):
        step(model, opt, gen)
    state = state_of(net, opt, rank, world)
    state["step"] = STEPS
    handle = ckpt.save(state, dir, STEPS)
    handle.wait()
    torch.save({"model": net.state_dict(), "optim": opt.state_dict()}, f"{dir}.expected-{rank}.pt")
    print(f"rank {rank}: saved step {STEPS}", flush=True)
    if backend != "none":
        dist.barrier()
        dist.destroy_process_group()


def equal(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    return a == b


def resume(dir: str, backend: str) -> None:
    rank, world = rank_and_world(backend)
    net, model, opt = model_and_optimizer(1234, backend)
    state = state_of(net, opt, rank, world)
    own = state["own"].tensor
    result = ckpt.load(state, dir)
    assert state["own"].tensor is own and torch.equal(own, torch.full((1, 3), float(rank))), own
    net.load_state_dict(state["model"])
    opt.load_state_dict(state["optim"])
    expected = torch.load(f"{dir}.expected-{rank}.pt")
    assert equal(net.state_dict(), expected["model"]), "parameters differ from the saved ones"
    assert equal(opt.state_dict(), expected["optim"]), "optimizer state differs from the saved one"
    print(f"rank {rank}: resumed step {state['step']} from {result.source} ({result.step})", flush=True)
    step(model, opt, torch.Generator().manual_seed(rank))  # training goes on
    if backend != "none":
        dist.barrier()
        dist.destroy_process_group()


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def asynchronous(dir: str) -> None:
    """Rank 0 saves while rank 1 holds back (a save commits only once every
    rank has written), so each check below follows from the order of
    events, not from timing."""
    dist.init_process_group("myriad")
    rank = dist.get_rank()
    signal = Path(f"{dir}.go")
    state = {"w": torch.arange(1000, dtype=torch.float32)}
    # The first save makes the process's checkpointer, collectively.
    ckpt.save(state, dir, 0).wait()

    # 1. save() returns after the snapshot: rank 1 has not even called it yet.
    if rank == 0:
        handle = ckpt.save(state, dir, 1)
        assert not handle.done(), "the save completed before rank 1 took part"
        state["w"].zero_()  # the snapshot is taken: changing the state is fine
        signal.touch()
    else:
        wait_for(signal)
        handle = ckpt.save(state, dir, 1)
    handle.wait()
    assert handle.done()

    # 2. A save while the previous one persists waits for it.
    signal2 = Path(f"{dir}.go2")
    if rank == 0:
        first = ckpt.save(state, dir, 2)
        signal2.touch()
        second = ckpt.save(state, dir, 3)
        assert first.done(), "save(3) returned while save(2) was still persisting"
    else:
        wait_for(signal2)
        time.sleep(0.2)
        first = ckpt.save(state, dir, 2)
        second = ckpt.save(state, dir, 3)
    second.wait()

    # 3. skip_if_busy: skipped on every rank while a save persists. The
    #    persist writes 16 MiB per rank; the check follows the snapshot at
    #    once, so a skip is all but certain: a save that was not skipped must
    #    then have been committed.
    big = {"big": ckpt.Shard(torch.full((1, 4 << 20), float(rank)), (2, 4 << 20), rank)}
    skipped = False
    for attempt in range(10):
        base = 10 + 2 * attempt
        ckpt.save(big, dir, base)
        extra = ckpt.save(big, dir, base + 1, skip_if_busy=True)
        ckpt.wait()
        if extra.skipped:
            assert extra.done() and base + 1 not in ckpt.list_steps(dir), ckpt.list_steps(dir)
            skipped = True
            break
        extra.wait()
        assert base + 1 in ckpt.list_steps(dir)
    assert skipped, "no save was skipped in 10 tries"
    loaded = {"w": torch.empty(1000)}
    assert ckpt.load(loaded, dir, 1).step == 1 and torch.equal(loaded["w"], torch.arange(1000.0))
    print(f"rank {rank}: async ok", flush=True)
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    mode, dir = sys.argv[1], sys.argv[2]
    if mode == "train":
        train(dir, sys.argv[3])
    elif mode == "resume":
        resume(dir, sys.argv[3])
    elif mode == "async":
        asynchronous(dir)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
