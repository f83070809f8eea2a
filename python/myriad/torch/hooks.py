"""DDP communication hooks.

``bf16_compress`` halves the bytes DDP moves: each gradient bucket is cast
to bfloat16 (Myriad's cast kernels on CPU: round to nearest even, NaN and
infinity kept), averaged across ranks in bfloat16 by the backend (which
accumulates in float32 and rounds once), and cast back into the bucket::

    from myriad.torch.hooks import bf16_compress
    ddp_model.register_comm_hook(state=None, hook=bf16_compress)

``state`` is the process group to use (``None``: the default group).
Buckets that are not float32 are averaged as they are.
"""

# No `from __future__ import annotations`: DDP checks the hook's annotations
# as objects (dist.GradBucket, torch.futures.Future[torch.Tensor]).
from typing import List, Optional

import torch
import torch.distributed as dist

from myriad import _native

__all__ = ["bf16_compress"]


def _to_bf16(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.device.type != "cpu" or not tensor.is_contiguous():
        return tensor.to(torch.bfloat16)
    out = torch.empty(tensor.shape, dtype=torch.bfloat16)
    _native().cast_f32_to_bf16(tensor, out)
    return out


def _from_bf16(src: torch.Tensor, dst: torch.Tensor) -> None:
    if dst.device.type != "cpu" or not dst.is_contiguous():
        dst.copy_(src)
        return
    _native().cast_bf16_to_f32(src, dst)


def bf16_compress(
    state: Optional[dist.ProcessGroup], bucket: dist.GradBucket
) -> torch.futures.Future[torch.Tensor]:
    """Averages the bucket's gradients across ranks in bfloat16.

    Returns a future of the bucket's buffer, holding the average (cast
    back to float32) once the all-reduce has completed.
    """
    group = state if state is not None else dist.group.WORLD
    buffer = bucket.buffer()
    if buffer.dtype != torch.float32:
        work = dist.all_reduce(buffer, op=dist.ReduceOp.AVG, group=group, async_op=True)
        return work.get_future().then(lambda fut: fut.value()[0])
    compressed = _to_bf16(buffer)
    work = dist.all_reduce(compressed, op=dist.ReduceOp.AVG, group=group, async_op=True)

    def decompress(fut: torch.futures.Future[List[torch.Tensor]]) -> torch.Tensor:
        target = bucket.buffer()
        _from_bf16(fut.value()[0], target)
        return target

    return work.get_future().then(decompress)
