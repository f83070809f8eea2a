"""One rank of an error-path scenario on the myriad backend. Exits 0 when
the rank saw what the scenario expects, 1 otherwise (printing why).

usage: python error_worker.py mismatch|wait_timeout|killed_peer|bad_arguments
"""

import os
import signal
import sys
import time
from datetime import timedelta

import torch
import torch.distributed as dist

import myriad.torch  # noqa: F401


def expect_raise(fn, *words):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is checked below
        text = str(e)
        missing = [w for w in words if w not in text]
        if missing:
            raise AssertionError(f"error {type(e).__name__} lacks {missing}: {text}") from e
        return e
    raise AssertionError(f"no error; expected one naming {words}")


def mismatch(rank):
    # Ranks disagree on the count: every rank's wait raises, naming the mismatch.
    t = torch.ones(10 + rank)
    e = expect_raise(lambda: dist.all_reduce(t), "mismatch")
    assert isinstance(e, dist.DistBackendError), type(e)
    # Failures are sticky: the next operation fails too, at once.
    expect_raise(lambda: dist.all_reduce(torch.ones(4)))


def wait_timeout(rank):
    # Rank 1 joins only when rank 0 says so (over a gloo group): rank 0's
    # bounded wait runs out, and the operation goes on to complete.
    signal_group = dist.new_group(backend="gloo")
    t = torch.ones(8)
    if rank == 0:
        work = dist.all_reduce(t, async_op=True)
        expect_raise(lambda: work.wait(timeout=timedelta(milliseconds=200)), "did not complete")
        dist.barrier(group=signal_group)
        work.wait()
    else:
        dist.barrier(group=signal_group)
        dist.all_reduce(t)
    assert torch.equal(t, torch.full((8,), float(dist.get_world_size()))), t


def killed_peer(rank):
    t = torch.ones(1 << 16)
    dist.all_reduce(t)
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.5)
    expect_raise(lambda: [dist.all_reduce(t) for _ in range(50)], "rank 1")


def bad_arguments(rank):
    expect_raise(lambda: dist.all_reduce(torch.ones(3, dtype=torch.uint32)), "UInt32", "float32")
    expect_raise(lambda: dist.all_reduce(torch.ones(3, dtype=torch.uint16)), "UInt16")
    expect_raise(lambda: dist.all_reduce(torch.ones(3), op=dist.ReduceOp.BAND), "BAND", "integer")
    expect_raise(lambda: dist.all_reduce(torch.ones(3, dtype=torch.int32), op=dist.ReduceOp.AVG), "AVG", "floating")
    # The group still works after rejected calls (nothing was started).
    t = torch.ones(3)
    dist.all_reduce(t)
    assert torch.equal(t, torch.full((3,), float(dist.get_world_size())))


def main():
    scenario = sys.argv[1]
    dist.init_process_group("myriad", timeout=timedelta(seconds=60))
    rank = dist.get_rank()
    try:
        globals()[scenario](rank)
    except Exception as e:  # noqa: BLE001
        print(f"rank {rank}: {scenario} FAILED: {type(e).__name__}: {e}", flush=True)
        os._exit(1)
    print(f"rank {rank}: {scenario} ok", flush=True)
    # A failed group cannot be torn down collectively: leave at once.
    os._exit(0)


if __name__ == "__main__":
    main()
