"""World-size-1 checks of CUDA tensors on the myriad backend: all_reduce
(contiguous and not, on a non-default stream), broadcast, all_gather, and
the bf16 hook's CUDA path in a DDP step. Prints "gpu ok"."""

import torch
import torch.distributed as dist
import torch.nn as nn

import myriad.torch  # noqa: F401
from myriad.torch.hooks import bf16_compress


def main():
    dist.init_process_group("myriad")
    dev = torch.device("cuda", 0)
    t = torch.arange(1000, dtype=torch.float32, device=dev)
    dist.all_reduce(t)
    assert torch.equal(t, torch.arange(1000, dtype=torch.float32, device=dev))
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        wide = torch.ones(64, 8, device=dev)
        nc = wide[:, ::2]
        nc.mul_(3)
        dist.all_reduce(nc, op=dist.ReduceOp.AVG)
    torch.cuda.synchronize()
    assert torch.equal(nc, torch.full((64, 4), 3.0, device=dev))
    b = torch.full((5,), 7, dtype=torch.int64, device=dev)
    dist.broadcast(b, 0)
    out = [torch.zeros(5, dtype=torch.int64, device=dev)]
    dist.all_gather(out, b)
    assert torch.equal(out[0], b)
    model = nn.parallel.DistributedDataParallel(nn.Linear(16, 4).to(dev))
    model.register_comm_hook(None, bf16_compress)
    model(torch.randn(8, 16, device=dev)).sum().backward()
    grad = model.module.weight.grad
    assert grad is not None and torch.isfinite(grad).all()
    dist.destroy_process_group()
    print("gpu ok", flush=True)


if __name__ == "__main__":
    main()
