"""One rank of the collectives comparison: every torch.distributed
collective on the "myriad" backend against gloo, on the same inputs, in
one process (the default group is myriad, a second group over the same
ranks is gloo). Exits 0 when every case matches, 1 naming the first case
that does not. Sub-groups: new_group with each backend over the same ranks.

usage: python collective_worker.py [--subgroups]
"""

from __future__ import annotations

import sys
import traceback

import torch
import torch.distributed as dist

import myriad.torch  # noqa: F401

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int32, torch.int64, torch.int8, torch.uint8]
# (shape, non-contiguous?) cases; a non-contiguous tensor is every other column of a wider one.
SHAPES = [((0,), False), ((1,), False), ((5, 3), False), ((4, 6), True), ((1000,), False), ((33, 17), True)]


def make(shape, dtype, contiguous_not, seed):
    gen = torch.Generator().manual_seed(seed)
    wide = list(shape)
    if contiguous_not:
        wide[-1] *= 2
    if dtype.is_floating_point:
        base = torch.randn(wide, generator=gen).to(dtype)
    else:
        base = torch.randint(0, 5, wide, generator=gen).to(dtype)
    t = base[..., ::2] if contiguous_not else base
    assert t.shape == torch.Size(shape) and (t.is_contiguous() != contiguous_not or t.numel() <= 1)
    return t


def same(a, b, what):
    if a.dtype.is_floating_point and a.numel():
        # Float sums over 3+ ranks may be added in another order: a few ulps.
        tol = {torch.float16: 2e-2, torch.bfloat16: 5e-2}.get(a.dtype, 1e-5)
        ok = torch.allclose(a.double(), b.double(), rtol=tol, atol=tol)
    else:
        ok = torch.equal(a, b)
    if not ok or a.shape != b.shape or a.dtype != b.dtype:
        raise AssertionError(f"{what}: myriad {a} != gloo {b}")


def fresh(shape, dtype, nc, seed):
    """A pair of equal inputs: one for myriad (non-contiguous when asked),
    and a contiguous one for gloo, which reads non-contiguous tensors as if
    they were contiguous (each rank then holds a different result)."""
    a = make(shape, dtype, nc, seed)
    return a, a.contiguous().clone()


def check_group(my, gl, grank, gsize, label):
    reducible = DTYPES  # the engine reduces every dtype above
    ops = [dist.ReduceOp.SUM, dist.ReduceOp.MAX, dist.ReduceOp.MIN, dist.ReduceOp.PRODUCT]
    for dtype in DTYPES:
        for shape, nc in SHAPES:
            case = f"{label} {dtype} {shape}{' non-contiguous' if nc else ''}"
            seed = 1000 * grank + hash((str(dtype), shape, nc)) % 997

            # all_reduce, several reductions (PRODUCT on small ints/floats only)
            if dtype in reducible:
                for op in ops:
                    if op == dist.ReduceOp.PRODUCT and shape == (1000,):
                        continue
                    a, b = fresh(shape, dtype, nc, seed)
                    dist.all_reduce(a, op=op, group=my)
                    dist.all_reduce(b, op=op, group=gl)
                    same(a, b, f"{case} all_reduce {op}")
                if dtype.is_floating_point:
                    # AVG: gloo has none; compare with its SUM / size.
                    a, b = fresh(shape, dtype, nc, seed)
                    dist.all_reduce(a, op=dist.ReduceOp.AVG, group=my)
                    dist.all_reduce(b, group=gl)
                    same(a, (b.double() / gsize).to(dtype), f"{case} all_reduce AVG")

            # broadcast from the last rank
            a, b = fresh(shape, dtype, nc, seed)
            dist.broadcast(a, group_src=gsize - 1, group=my)
            dist.broadcast(b, group_src=gsize - 1, group=gl)
            same(a, b, f"{case} broadcast")

            # all_gather into a list (some outputs non-contiguous)
            a, b = fresh(shape, dtype, nc, seed)
            outs_a = [make(shape, dtype, nc, 7) for _ in range(gsize)]
            outs_b = [make(shape, dtype, False, 7) for _ in range(gsize)]
            dist.all_gather(outs_a, a, group=my)
            dist.all_gather(outs_b, b, group=gl)
            for r in range(gsize):
                same(outs_a[r], outs_b[r], f"{case} all_gather block {r}")

            # all_gather_into_tensor
            a, b = fresh(shape, dtype, False, seed)
            out_a = torch.zeros((gsize * a.shape[0], *a.shape[1:]), dtype=dtype)
            out_b = torch.zeros((gsize * a.shape[0], *a.shape[1:]), dtype=dtype)
            dist.all_gather_into_tensor(out_a, a, group=my)
            dist.all_gather_into_tensor(out_b, b, group=gl)
            same(out_a, out_b, f"{case} all_gather_into_tensor")

            # reduce to group rank 0
            if dtype in reducible:
                a, b = fresh(shape, dtype, nc, seed)
                dist.reduce(a, group_dst=0, group=my)
                dist.reduce(b, group_dst=0, group=gl)
                if grank == 0:
                    same(a, b, f"{case} reduce")

            # gather and scatter, root the last rank
            root = gsize - 1
            a, b = fresh(shape, dtype, nc, seed)
            ga = [torch.zeros(shape, dtype=dtype) for _ in range(gsize)] if grank == root else None
            gb = [torch.zeros(shape, dtype=dtype) for _ in range(gsize)] if grank == root else None
            dist.gather(a, ga, group_dst=root, group=my)
            dist.gather(b, gb, group_dst=root, group=gl)
            if grank == root:
                for r in range(gsize):
                    same(ga[r], gb[r], f"{case} gather block {r}")
            sa = [make(shape, dtype, nc, 50 + r) for r in range(gsize)] if grank == root else None
            a = make(shape, dtype, nc, 3)
            b = make(shape, dtype, nc, 3)
            dist.scatter(a, sa, group_src=root, group=my)
            sb = [t.contiguous() for t in sa] if sa is not None else None
            b = b.contiguous()
            dist.scatter(b, sb, group_src=root, group=gl)
            same(a, b, f"{case} scatter")

            # reduce_scatter (list) and reduce_scatter_tensor; gloo implements
            # the tensor form only: its result is the reference for both.
            if dtype in reducible and dtype not in (torch.int8, torch.uint8):
                flat_a, flat_b = fresh((gsize * max(1, len(shape)) * 3,), dtype, False, seed)
                n = flat_a.numel() // gsize
                out_a = torch.zeros((n,), dtype=dtype)
                out_b = torch.zeros((n,), dtype=dtype)
                dist.reduce_scatter_tensor(out_a, flat_a, group=my)
                dist.reduce_scatter_tensor(out_b, flat_b, group=gl)
                same(out_a, out_b, f"{case} reduce_scatter_tensor")
                out_l = torch.zeros((n,), dtype=dtype)
                dist.reduce_scatter(out_l, list(flat_a.chunk(gsize)), group=my)
                same(out_l, out_b, f"{case} reduce_scatter (list)")

            # all_to_all_single, equal and uneven splits; all_to_all (lists)
            a, b = fresh((gsize * 3, 2), dtype, False, seed)
            oa, ob = torch.zeros_like(a), torch.zeros_like(b)
            dist.all_to_all_single(oa, a, group=my)
            dist.all_to_all_single(ob, b, group=gl)
            same(oa, ob, f"{case} all_to_all_single")
            in_splits = [(grank + j) % 3 for j in range(gsize)]
            out_splits = [(j + grank) % 3 for j in range(gsize)]
            a, b = fresh((sum(in_splits), 2), dtype, False, seed)
            oa = torch.zeros((sum(out_splits), 2), dtype=dtype)
            ob = torch.zeros((sum(out_splits), 2), dtype=dtype)
            dist.all_to_all_single(oa, a, out_splits, in_splits, group=my)
            dist.all_to_all_single(ob, b, out_splits, in_splits, group=gl)
            same(oa, ob, f"{case} all_to_all_single uneven")
            ins = [make(shape, dtype, nc, seed + j) for j in range(gsize)]
            la = [torch.zeros(shape, dtype=dtype) for _ in range(gsize)]
            lb = [torch.zeros(shape, dtype=dtype) for _ in range(gsize)]
            dist.all_to_all(la, ins, group=my)
            dist.all_to_all(lb, [t.contiguous() for t in ins], group=gl)
            for r in range(gsize):
                same(la[r], lb[r], f"{case} all_to_all block {r}")

        # coalesced all_reduce and all_gather_into_tensor through the coalescing manager
        ts_a = [make((3,), dtype, False, grank + i) for i in range(3)]
        ts_b = [t.clone() for t in ts_a]
        with dist._coalescing_manager(group=my):
            for t in ts_a:
                dist.all_reduce(t, group=my)
        for t in ts_b:
            dist.all_reduce(t, group=gl)
        for i in range(3):
            same(ts_a[i], ts_b[i], f"{label} {dtype} coalesced all_reduce {i}")

    # send/recv around a ring (groups of two or more), any dtype as bytes; barrier
    for dtype in (torch.float32, torch.bool, torch.complex64, torch.int16) if gsize > 1 else ():
        t = (torch.arange(10) % 2).to(dtype) if dtype == torch.bool else torch.arange(10).to(dtype) + grank
        r = torch.zeros(10, dtype=dtype)
        nxt, prv = (grank + 1) % gsize, (grank - 1) % gsize
        if grank % 2 == 0:
            dist.send(t, group_dst=nxt, group=my)
            dist.recv(r, group_src=prv, group=my)
        else:
            dist.recv(r, group_src=prv, group=my)
            dist.send(t, group_dst=nxt, group=my)
        expect = (torch.arange(10) % 2).to(dtype) if dtype == torch.bool else torch.arange(10).to(dtype) + prv
        same(r, expect, f"{label} send/recv {dtype}")
        # data-moving collectives take any dtype (gloo does not: the
        # reference is group rank 0's tensor)
        b = t.clone()
        dist.broadcast(b, group_src=0, group=my)
        rank0 = (torch.arange(10) % 2).to(dtype) if dtype == torch.bool else torch.arange(10).to(dtype)
        same(b, rank0, f"{label} broadcast {dtype}")
    dist.barrier(group=my)


def main() -> int:
    dist.init_process_group("myriad")
    rank, size = dist.get_rank(), dist.get_world_size()
    try:
        gl = dist.new_group(backend="gloo")
        check_group(dist.group.WORLD, gl, rank, size, f"world of {size}")
        if "--subgroups" in sys.argv:
            # Two sub-groups over disjoint ranks and one over every other rank.
            halves = [list(range(0, size // 2)), list(range(size // 2, size))]
            pairs = [dist.new_group(h, backend="myriad") for h in halves]
            gpairs = [dist.new_group(h, backend="gloo") for h in halves]
            odd = [r for r in range(size) if r % 2 == 1]
            my_odd = dist.new_group(odd, backend="myriad")
            gl_odd = dist.new_group(odd, backend="gloo")
            h = 0 if rank < size // 2 else 1
            check_group(pairs[h], gpairs[h], halves[h].index(rank), len(halves[h]), f"sub-group {halves[h]}")
            if rank in odd:
                check_group(my_odd, gl_odd, odd.index(rank), len(odd), f"sub-group {odd}")
            dist.barrier()
    except Exception:
        traceback.print_exc()
        print(f"rank {rank}: FAILED", flush=True)
        return 1
    print(f"rank {rank}: all collectives match gloo", flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
