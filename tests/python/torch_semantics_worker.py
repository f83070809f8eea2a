"""One rank of a scenario on what torch expects of a CPU backend, on the
myriad backend: waits inside Future callbacks and comm hooks (PowerSGD),
timeouts that fire on time and say "Timed out", PREMUL_SUM,
all_gather_coalesced, sparse all-reduce, dist.recv() without src and
monitored_barrier. Results
are checked against values computed here and, where simple, against gloo
on the same inputs (a gloo group over the same ranks). Exits 0 when the
rank saw what the scenario expects, 1 otherwise (printing why).

usage: python torch_semantics_worker.py SCENARIO
"""

from __future__ import annotations

import faulthandler
import os
import sys
import time
from datetime import timedelta

import torch
import torch.distributed as dist

import myriad.torch  # noqa: F401

# A hang shows every thread's stack before the harness kills the rank.
HANG_DUMP_S = 100


def model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))


def train(ddp, rank, steps):
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(100 + rank)
    for _ in range(steps):
        x = torch.randn(12, 16, generator=gen)
        y = torch.randn(12, 8, generator=gen)
        opt.zero_grad()
        torch.nn.functional.mse_loss(ddp(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in ddp.parameters()]


def assert_close(mine, theirs, what):
    for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        if not torch.allclose(a, b, rtol=1e-5, atol=1e-6):
            raise AssertionError(f"{what}: parameter {i} differs by {(a - b).abs().max().item()}")


def powersgd(rank, gloo):
    from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as powersgd_hook

    results = []
    for group in (None, gloo):  # None: the default group, myriad
        ddp = torch.nn.parallel.DistributedDataParallel(model(0), process_group=group)
        state = powersgd_hook.PowerSGDState(process_group=group, matrix_approximation_rank=1, start_powerSGD_iter=2)
        ddp.register_comm_hook(state, powersgd_hook.powerSGD_hook)
        results.append(train(ddp, rank, steps=6))
    assert_close(results[0], results[1], "PowerSGD on myriad against gloo")
    # The run moved the parameters: the comparison is not of two untouched models.
    untouched = [p.detach() for p in model(0).parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(results[0], untouched, strict=True))


def hook_waits_inside_callback(rank, gloo):
    world = dist.get_world_size()

    def hook(state, bucket):
        fut = dist.all_reduce(bucket.buffer(), async_op=True).get_future()

        def again(f):
            total = f.value()[0]
            # A second all-reduce, waited for inside the callback: world x the sum.
            dist.all_reduce(total, async_op=True).get_future().wait()
            return total / (world * world)

        return fut.then(again)

    mine = torch.nn.parallel.DistributedDataParallel(model(1))
    mine.register_comm_hook(None, hook)
    theirs = torch.nn.parallel.DistributedDataParallel(model(1), process_group=gloo)  # averages
    assert_close(train(mine, rank, steps=4), train(theirs, rank, steps=4), "waiting hook against gloo's average")


def future_chain(rank, gloo):
    world = dist.get_world_size()
    total = world * (world + 1) / 2

    def work_wait(f):
        x = f.value()[0].clone()
        dist.all_reduce(x, async_op=True).wait()  # the Work's wait, inside a callback
        return x

    def future_wait(f):
        y = f.value().clone()
        dist.all_reduce(y, async_op=True).get_future().wait()  # the Future's
        return y

    for _ in range(3):
        t = torch.full((4,), float(rank + 1))
        fut = dist.all_reduce(t, async_op=True).get_future()
        out = fut.then(work_wait).then(future_wait).wait()
        assert torch.equal(out, torch.full((4,), total * world * world)), out
    # Several chains in flight at once: each completes (the order in which their callbacks issue the inner
    # all-reduces is not fixed across ranks once a callback blocks, on gloo as here, so only the chains'
    # completion is checked, not which inner all-reduce paired with which).
    futs = []
    for i in range(4):
        t = torch.full((3,), float(rank + i))
        futs.append(dist.all_reduce(t, async_op=True).get_future().then(work_wait))
    sums = sorted(float(f.wait()[0]) for f in futs)
    assert len(sums) == 4 and all(s > 0 for s in sums), sums
    # A Work's Future is complete once its wait() returns, as on gloo.
    work = dist.all_reduce(torch.ones(2), async_op=True)
    work.wait()
    assert work.get_future().done()
    assert torch.equal(work.get_future().value()[0], torch.full((2,), float(world)))


def hung_wait_times_out(rank, gloo):
    # Rank 1 never joins the all-reduce: rank 0's unbounded wait raises at
    # the group's 3 s timeout, naming the operation, its sequence number
    # and rank 1. Bounds are generous (a noisy machine); the old delay was
    # the timeout plus a 2 s grace.
    if rank == 1:
        dist.barrier(group=gloo)  # rank 0 has seen its error
        return
    work = dist.all_reduce(torch.ones(4), async_op=True)
    start = time.monotonic()
    try:
        work.wait()
        raise AssertionError("the wait on an all-reduce rank 1 never joined returned")
    except dist.DistBackendError as e:
        elapsed = time.monotonic() - start
        text = str(e)
    print(f"raised after {elapsed:.3f} s: {text}", flush=True)
    assert 2.9 <= elapsed < 4.5, elapsed
    for word in ("Timed out", "allreduce", "#0", "rank(s) 1 did not reach it"):
        assert word in text, (word, text)
    dist.barrier(group=gloo)


def bounded_wait_times_out(rank, gloo):
    # A wait with its own timeout raises "Timed out" when it runs out; the
    # operation goes on and completes once rank 1 joins.
    t = torch.ones(8)
    if rank == 0:
        work = dist.all_reduce(t, async_op=True)
        start = time.monotonic()
        try:
            work.wait(timeout=timedelta(milliseconds=500))
            raise AssertionError("the bounded wait returned")
        except RuntimeError as e:
            elapsed = time.monotonic() - start
            assert "Timed out" in str(e), str(e)
        assert 0.45 <= elapsed < 2.0, elapsed
        dist.barrier(group=gloo)
        work.wait()
    else:
        dist.barrier(group=gloo)
        dist.all_reduce(t)
    assert torch.equal(t, torch.full((8,), float(dist.get_world_size())))


def premul_sum(rank, gloo):
    world = dist.get_world_size()
    base = [torch.arange(6, dtype=torch.float64).reshape(2, 3) + 10 * r for r in range(world)]
    total = sum(base)
    for factor in (2.5, torch.tensor(0.5, dtype=torch.float64)):
        f = float(factor)
        op = dist._make_nccl_premul_sum(factor)
        t = base[rank].clone()
        dist.all_reduce(t, op=op)
        assert torch.allclose(t, total * f), (factor, t)
        # reduce_scatter_tensor: the input is left as it was.
        inp = torch.cat([b.reshape(-1) for b in base]) + rank
        kept = inp.clone()
        out = torch.empty(6, dtype=torch.float64)
        dist.reduce_scatter_tensor(out, inp, op=op)
        expected = f * sum(torch.cat([b.reshape(-1) for b in base]) + r for r in range(world))
        assert torch.allclose(out, expected.chunk(world)[rank]), (factor, out)
        assert torch.equal(inp, kept), "PREMUL_SUM changed reduce_scatter_tensor's input"
        # reduce: the root gets the sum; the others' tensors are left as they were.
        t = base[rank].clone()
        dist.reduce(t, dst=0, op=op)
        assert torch.allclose(t, total * f if rank == 0 else base[rank]), (factor, rank, t)
        # all_reduce_coalesced
        a, b = base[rank].clone(), base[rank][0].clone()
        dist.all_reduce_coalesced([a, b], op=op)
        assert torch.allclose(a, total * f) and torch.allclose(b, total[0] * f), (a, b)
    # Integer tensors take a float factor and keep their type (truncated, as NCCL's int premul).
    t = torch.full((3,), rank + 1, dtype=torch.int32)
    dist.all_reduce(t, op=dist._make_nccl_premul_sum(2.0))
    assert torch.equal(t, torch.full((3,), 2 * world * (world + 1) // 2, dtype=torch.int32)), t


def gather_coalesced(rank, gloo):
    world = dist.get_world_size()

    def inputs(r):
        # One dtype (torch requires it), several shapes.
        return [
            torch.arange(6, dtype=torch.float32).reshape(2, 3) + r,
            torch.full((5,), float(r)),
            torch.tensor(7.0 * r),  # 0-dim
            torch.zeros(0),
        ]

    for group in (None, gloo):
        mine = inputs(rank)
        # outputs[r][i]: rank r's input i; a non-contiguous one too (a transpose).
        outputs = [[torch.empty(3, 2).t()] + [torch.empty_like(t) for t in mine[1:]] for _ in range(world)]
        dist.all_gather_coalesced(outputs, mine, group=group)
        for r in range(world):
            for i, expected in enumerate(inputs(r)):
                got = outputs[r][i]
                assert got.dtype == expected.dtype and torch.equal(got, expected), (group, r, i, got, expected)


def sparse_all_reduce(rank, gloo):
    world = dist.get_world_size()

    def sparse(r):
        # Overlapping and distinct entries, duplicates within a rank, a dense dimension.
        indices = torch.tensor([[0, r, 3, r], [1, 2, 0, 2]])
        values = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [0.5, 0.25]]) * (r + 1)
        return torch.sparse_coo_tensor(indices, values, (4, 3, 2))

    dense = sum(sparse(r).to_dense() for r in range(world))
    results = []
    for group in (None, gloo):
        t = sparse(rank)
        dist.all_reduce(t, group=group)
        assert t.is_sparse
        assert torch.equal(t.to_dense(), dense), (group, t.to_dense(), dense)
        results.append(t)
    assert results[0].coalesce()._nnz() == results[1].coalesce()._nnz()
    # An empty sparse tensor on one rank.
    t = sparse(rank) if rank == 0 else torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, 2), (4, 3, 2))
    dist.all_reduce(t)
    assert torch.equal(t.to_dense(), sparse(0).to_dense()), t
    try:
        dist.all_reduce(sparse(rank), op=dist.ReduceOp.MAX)
        raise AssertionError("MAX of a sparse tensor was accepted")
    except (RuntimeError, ValueError) as e:
        assert "SUM" in str(e), str(e)


def recv_any_source(rank, gloo):
    """dist.recv(t) without src: rank 0 takes each other rank's message once,
    whichever comes first, and learns who sent it, on myriad as on gloo."""
    world = dist.get_world_size()
    results = []
    for group in (None, gloo):
        got = {}
        if rank == 0:
            for _ in range(world - 1):
                t = torch.full((5,), -1.0)
                src = dist.recv(t, group=group)
                assert src not in got, f"rank {src}'s message arrived twice"
                assert torch.equal(t, torch.arange(5.0) + 10 * src), (src, t)
                got[src] = t
            assert sorted(got) == list(range(1, world)), sorted(got)
        else:
            # The highest rank first: arrival order is not rank order.
            time.sleep(0.05 * (world - rank))
            dist.send(torch.arange(5.0) + 10 * rank, dst=0, group=group)
        # An any-source receive needs every peer alive: nobody leaves early.
        dist.barrier(group=group)
        results.append(got)
    assert sorted(results[0]) == sorted(results[1])
    for src, t in results[0].items():
        assert torch.equal(t, results[1][src]), (src, t, results[1][src])


def monitored_barrier_passes(rank, gloo):
    """dist.monitored_barrier on myriad passes when every rank comes, with and
    without wait_all_ranks, as on gloo, and again after that."""
    for group in (None, gloo, None):
        dist.monitored_barrier(group=group, timeout=timedelta(seconds=30))
        dist.monitored_barrier(group=group, timeout=timedelta(seconds=30), wait_all_ranks=True)
    t = torch.ones(3)
    dist.all_reduce(t)  # the group still works after its monitored barriers
    assert torch.equal(t, torch.full((3,), float(dist.get_world_size()))), t


def _monitored_barrier_without_the_others(rank, gloo, wait_all_ranks):
    # Only rank 0 comes; it must raise within the timeout, naming who stayed
    # away in gloo's words. Everyone then meets on gloo (the myriad group
    # has a failed operation and is not used again).
    world = dist.get_world_size()
    if rank == 0:
        begun = time.monotonic()
        try:
            dist.monitored_barrier(timeout=timedelta(seconds=1), wait_all_ranks=wait_all_ranks)
            raise AssertionError("monitored_barrier passed while the other ranks stayed away")
        except RuntimeError as e:
            message = str(e)
        took = time.monotonic() - begun
        missing = list(range(1, world)) if wait_all_ranks else [1]
        want = ("Ranks " if len(missing) > 1 else "Rank ") + ", ".join(map(str, missing))
        assert f"{want} failed to pass monitoredBarrier in 1000 ms" in message, message
        assert took < 5, f"raised after {took:.1f} s, with a 1 s timeout"
    dist.barrier(group=gloo)


def monitored_barrier_names_the_first_absent_rank(rank, gloo):
    _monitored_barrier_without_the_others(rank, gloo, wait_all_ranks=False)


def monitored_barrier_names_every_absent_rank(rank, gloo):
    _monitored_barrier_without_the_others(rank, gloo, wait_all_ranks=True)


def main():
    scenario = sys.argv[1]
    faulthandler.dump_traceback_later(HANG_DUMP_S, exit=True)
    timeout = timedelta(seconds=3 if scenario == "hung_wait_times_out" else 60)
    dist.init_process_group("myriad", timeout=timeout)
    rank = dist.get_rank()
    gloo = dist.new_group(backend="gloo", timeout=timedelta(seconds=60))
    try:
        globals()[scenario](rank, gloo)
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        print(f"rank {rank}: {scenario} FAILED: {type(e).__name__}: {e}", flush=True)
        os._exit(1)
    print(f"rank {rank}: {scenario} ok", flush=True)
    # A failed group cannot be torn down collectively: leave at once.
    os._exit(0)


if __name__ == "__main__":
    main()
