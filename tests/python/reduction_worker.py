"""One rank of the int16, bool and bitwise reduction checks: all_reduce (and
reduce and reduce_scatter_tensor) on the "myriad" backend against the
result computed here from every rank's inputs, which each rank can make
(the inputs are seeded by rank), and against gloo on the same inputs where
gloo supports the pair. Exits 0 printing "all reductions match", 1 naming
the first case that does not.

usage: python reduction_worker.py
"""

from __future__ import annotations

import functools
import sys
import traceback

import torch
import torch.distributed as dist

import myriad.torch  # noqa: F401

R = dist.ReduceOp
# (shape, non-contiguous?): empty, one, odd (beyond every vector width), and
# every other column of a wider tensor.
SHAPES = [((0,), False), ((1,), False), ((67,), False), ((5, 7), True)]
BITWISE = [R.BAND, R.BOR, R.BXOR]
BOOL_OPS = [R.SUM, R.MAX, R.MIN, R.PRODUCT, R.BAND, R.BOR, R.BXOR]
INT16_OPS = [R.SUM, R.MIN, R.MAX, R.PRODUCT]
BITWISE_DTYPES = [torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64]

gloo_lacks: set[str] = set()
gloo_compared = 0


def op_name(op) -> str:
    return str(op).split(".")[-1]


def make(rank: int, shape, nc: bool, dtype: torch.dtype, op, seed: int) -> torch.Tensor:
    """Rank `rank`'s input: the same on every rank that makes it."""
    gen = torch.Generator().manual_seed(seed * 1000 + rank)
    wide = list(shape)
    if nc:
        wide[-1] *= 2
    if dtype == torch.bool:
        base = torch.rand(wide, generator=gen) < (0.8 if op in (R.MIN, R.PRODUCT, R.BAND) else 0.3)
    elif dtype == torch.int16 and op == R.PRODUCT:
        base = torch.randint(-3, 4, wide, generator=gen).to(dtype)
    elif dtype == torch.int16 and op == R.SUM:
        base = torch.randint(-9000, 9000, wide, generator=gen).to(dtype)
    elif dtype == torch.int16:
        base = torch.randint(-32768, 32768, wide, generator=gen).to(dtype)
    else:
        info = torch.iinfo(dtype)
        # Full range (int64: 63 bits each side); a mix of ones and zeros per bit.
        lo, hi = max(info.min, -(2**62)), min(info.max, 2**62)
        base = torch.randint(lo, hi, wide, generator=gen, dtype=torch.int64).to(dtype)
    t = base[..., ::2] if nc else base
    assert t.shape == torch.Size(shape)
    return t


def expected(inputs: list[torch.Tensor], op) -> torch.Tensor:
    dtype = inputs[0].dtype
    if dtype == torch.bool:
        stack = torch.stack([t.contiguous() for t in inputs])
        if op in (R.SUM, R.MAX, R.BOR):
            return stack.any(dim=0)
        if op in (R.PRODUCT, R.MIN, R.BAND):
            return stack.all(dim=0)
        return (stack.to(torch.int64).sum(dim=0) % 2).to(torch.bool)
    wide = [t.to(torch.int64) for t in inputs]
    combine = {
        R.SUM: torch.add,
        R.PRODUCT: torch.mul,
        R.MIN: torch.minimum,
        R.MAX: torch.maximum,
        R.BAND: torch.bitwise_and,
        R.BOR: torch.bitwise_or,
        R.BXOR: torch.bitwise_xor,
    }[op]
    # Sums and products stay within int16 here; the bitwise ops stay in range.
    return functools.reduce(combine, wide).to(dtype)


def check(got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(got, want):
        raise AssertionError(f"{what}: got {got}, expected {want}")
    if got.dtype == torch.bool and got.numel():
        # Every byte must be 0 or 1, as torch's bool requires.
        raw = got.contiguous().view(torch.uint8)
        if not bool(((raw == 0) | (raw == 1)).all()):
            raise AssertionError(f"{what}: bytes other than 0 and 1 in a bool result: {raw}")


def against_gloo(gl, inputs_of_mine: torch.Tensor, op, got: torch.Tensor, what: str) -> None:
    """Runs the same all_reduce on gloo; compares where gloo has the pair."""
    global gloo_compared
    key = f"{inputs_of_mine.dtype} {op_name(op)}"
    if key in gloo_lacks:
        return
    b = inputs_of_mine.contiguous().clone()
    try:
        dist.all_reduce(b, op=op, group=gl)
    except (RuntimeError, ValueError) as e:
        gloo_lacks.add(key)
        print(f"gloo lacks {key}: {str(e).splitlines()[0]}", flush=True)
        return
    gloo_compared += 1
    if not torch.equal(got, b):
        raise AssertionError(f"{what}: myriad {got} != gloo {b}")


def cases():
    for op in INT16_OPS:
        yield torch.int16, op
    for dtype in BITWISE_DTYPES:
        for op in BITWISE:
            yield dtype, op
    for op in BOOL_OPS:
        yield torch.bool, op


def run(rank: int, size: int) -> None:
    gl = dist.new_group(backend="gloo")
    seed = 0
    for dtype, op in cases():
        for shape, nc in SHAPES:
            seed += 1
            what = f"world of {size}: {dtype} {op_name(op)} {shape}{' non-contiguous' if nc else ''}"
            inputs = [make(r, shape, nc, dtype, op, seed) for r in range(size)]
            want = expected(inputs, op)

            a = inputs[rank].clone() if not nc else make(rank, shape, nc, dtype, op, seed)
            dist.all_reduce(a, op=op)
            check(a, want, f"{what} all_reduce")
            against_gloo(gl, inputs[rank], op, a, f"{what} all_reduce")

            b = inputs[rank].clone()
            dist.reduce(b, dst=size - 1, op=op)
            if rank == size - 1:
                check(b, want, f"{what} reduce")

            # reduce_scatter_tensor of `size` blocks of this shape, flattened.
            flat = [torch.cat([make(r, shape, False, dtype, op, seed + 10_000 * j).reshape(-1)
                               for j in range(size)]) for r in range(size)]
            n = flat[0].numel() // size
            out = torch.zeros(n, dtype=dtype)
            dist.reduce_scatter_tensor(out, flat[rank], op=op)
            check(out, expected([f[rank * n:(rank + 1) * n] for f in flat], op), f"{what} reduce_scatter_tensor")

    # int16 sums wrap modulo 2^16, as integer sums do.
    t = torch.full((33,), 30000, dtype=torch.int16)
    dist.all_reduce(t)
    check(t, torch.full((33,), 30000 * size, dtype=torch.int64).to(torch.int16), "int16 SUM wrapping")

    # A bitwise op of a floating tensor is an error naming it; the group
    # stays usable (nothing was issued).
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        for op in BITWISE:
            try:
                dist.all_reduce(torch.ones(4, dtype=dtype), op=op)
            except RuntimeError as e:
                message = str(e)
                if op_name(op).lower() not in message.lower():
                    raise AssertionError(f"{dtype} {op_name(op)}: the error does not name the op: {message}")
            else:
                raise AssertionError(f"{dtype} {op_name(op)} all_reduce was accepted")
    ones = torch.ones(3, dtype=torch.int16)
    dist.all_reduce(ones)
    check(ones, torch.full((3,), size, dtype=torch.int16), "int16 all_reduce after the rejected calls")
    print(f"rank {rank}: compared {gloo_compared} results with gloo; gloo lacks {sorted(gloo_lacks)}", flush=True)


def main() -> int:
    dist.init_process_group("myriad")
    rank, size = dist.get_rank(), dist.get_world_size()
    try:
        run(rank, size)
    except Exception:
        traceback.print_exc()
        print(f"rank {rank}: FAILED", flush=True)
        return 1
    print(f"rank {rank}: all reductions match", flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
