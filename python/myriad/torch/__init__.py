"""The ``"myriad"`` backend of ``torch.distributed``.

Importing this module registers the backend for cpu and cuda tensors::

    import myriad.torch
    import torch.distributed as dist

    dist.init_process_group("myriad")          # under `myriad run` or torchrun
    model = torch.nn.parallel.DistributedDataParallel(model)

CPU tensors run on Myriad's native engine (shared memory within a node,
TCP between nodes); CUDA tensors on its NCCL backend, after the work queued
on the caller's current stream. Every collective of ``torch.distributed``
is asynchronous and its ``Work.get_future()`` works, so DDP overlaps its
gradient all-reduces with backward compute and accepts comm hooks (see
:mod:`myriad.torch.hooks`). Failures (ranks disagreeing on an operation, a
timeout, a dead peer) raise ``torch.distributed.DistBackendError`` with
the runtime's message; bad arguments raise ``RuntimeError``.

Under ``myriad run`` (``MYRIAD_STORE`` set), the default ``env://``
rendezvous of ``init_process_group`` connects to the launcher's store
instead of starting torch's own TCPStore on ``MASTER_PORT`` (where the
launcher's store already listens), for every backend, gloo included.
Elsewhere (torchrun, a plain environment) ``env://`` is torch's.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import torch
import torch.distributed as dist

from myriad import _native

__all__ = ["BACKEND_NAME", "is_available"]

#: The name to pass to ``init_process_group`` and ``new_group``.
BACKEND_NAME = "myriad"


def is_available() -> bool:
    """Whether the backend is registered (torch.distributed is available)."""
    return bool(dist.is_available()) and BACKEND_NAME.upper() in dist.Backend._plugins


def _register() -> None:
    if not dist.is_available():
        return
    if BACKEND_NAME.upper() in dist.Backend._plugins:
        return
    dist.Backend.register_backend(BACKEND_NAME, _native().create_backend, devices=["cpu", "cuda"])


def _job_store_rendezvous(url: str, timeout: timedelta = timedelta(minutes=30), **kwargs: Any) -> Iterator[Any]:
    if not os.environ.get("MYRIAD_STORE"):
        yield from _torch_env_rendezvous(url, timeout=timeout, **kwargs)
        return
    import myriad

    query = {k: v[-1] for k, v in parse_qs(urlparse(url).query).items()}
    rank = int(query["rank"]) if "rank" in query else myriad.rank()
    world_size = int(query["world_size"]) if "world_size" in query else myriad.world_size()
    yield (_native().JobStore(timeout), rank, world_size)
    raise RuntimeError("myriad: env:// cannot rendezvous again; restart the job")


def _register_rendezvous() -> None:
    global _torch_env_rendezvous
    import importlib

    handlers = importlib.import_module("torch.distributed.rendezvous")._rendezvous_handlers
    if handlers.get("env") is not _job_store_rendezvous:
        _torch_env_rendezvous = handlers["env"]
        handlers["env"] = _job_store_rendezvous


_torch_env_rendezvous: Any = None
_register()
if dist.is_available():
    _register_rendezvous()
del torch
