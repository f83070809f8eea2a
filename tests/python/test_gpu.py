"""CUDA tensors through the myriad backend (its nccl communicator), at
world size 1, and the bf16 hook's CUDA path. Run on a machine with a GPU;
elsewhere they skip, saying why."""

import pytest
import torch

from ranks import all_ok, describe, run_ranks

requires_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")


@requires_gpu
def test_cuda_collectives_at_world_size_one():
    results = run_ranks(1, ["tests/python/gpu_worker.py"])
    assert all_ok(results), describe(results)
    assert "gpu ok" in results[0].output, describe(results)
