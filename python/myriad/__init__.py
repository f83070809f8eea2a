"""Myriad: a distributed training runtime.

This package gives Python programs their place in a Myriad (or torchrun,
Open MPI, Slurm) job, read by Myriad's bootstrap, and, through
:mod:`myriad.torch`, the ``"myriad"`` backend of ``torch.distributed``::

    import myriad.torch  # registers the backend
    import torch.distributed as dist

    dist.init_process_group("myriad")
    print(myriad.rank(), myriad.world_size())

The functions below read the environment of this process (as
``myriad run`` or ``torchrun`` set it); they do not need a process group.
An inconsistent environment (a rank without a world size, a rank outside
the world) raises ``RuntimeError`` naming the variables.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "__version__",
    "rank",
    "world_size",
    "local_rank",
    "local_world_size",
    "node",
    "store_address",
    "run_id",
    "restart_count",
    "bootstrap",
]


def _native() -> Any:
    # The extension links libtorch: torch is imported (and its libraries
    # loaded) first.
    import torch  # noqa: F401

    from myriad import _C

    return _C


def bootstrap() -> dict[str, Any]:
    """Everything Myriad's bootstrap reads from the environment, as a dict.

    Keys: ``rank``, ``world_size``, ``local_rank``, ``local_world_size``,
    ``node``, ``source`` (``"myriad"``, ``"torchrun"``, ``"openmpi"``,
    ``"slurm"`` or ``"default"``), ``store`` (``"host:port"`` or ``None``),
    ``run_id`` and ``restart_count``.
    """
    return dict(_native().bootstrap())


def rank() -> int:
    """This process's rank in the job (0 in a world of one)."""
    return int(bootstrap()["rank"])


def world_size() -> int:
    """The number of ranks in the job (1 when no launcher set one)."""
    return int(bootstrap()["world_size"])


def local_rank() -> int:
    """This process's rank among the ranks on its node."""
    return int(bootstrap()["local_rank"])


def local_world_size() -> int:
    """The number of ranks on this process's node."""
    return int(bootstrap()["local_world_size"])


def node() -> str:
    """This process's node id: ``MYRIAD_NODE_ID``, else the host name."""
    return str(bootstrap()["node"])


def store_address() -> Optional[str]:
    """The job's store as ``"host:port"`` (``MYRIAD_STORE``, else
    ``MASTER_ADDR:MASTER_PORT``), or ``None`` when none is set."""
    store = bootstrap()["store"]
    return None if store is None else str(store)


def run_id() -> str:
    """The job's run id (``MYRIAD_RUN_ID``, else ``TORCHELASTIC_RUN_ID``, else ``""``)."""
    return str(bootstrap()["run_id"])


def restart_count() -> int:
    """How many times the job has been restarted (0 on the first run)."""
    return int(bootstrap()["restart_count"])


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return str(_native().__version__)
    raise AttributeError(f"module 'myriad' has no attribute {name!r}")


# Under an agent, an uncaught exception is also written to the rank's error
# file, so that `myriad run` shows the root-cause rank's traceback.
from myriad import _errors  # noqa: E402

_errors.install()
