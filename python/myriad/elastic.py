"""Myriad's elastic service, seen from a training script.

Under ``myriad run`` (or ``myriad agent``) each node's agent watches its
ranks. A rank that exits with an error, stops sending heartbeats for
``--heartbeat-timeout``, or whose node is lost, makes every agent stop its
ranks and start them again in a new round (up to ``--max-restarts``
failures); the script then restores its state with
:mod:`myriad.checkpoint` and goes on::

    import myriad.checkpoint, myriad.elastic

    start = 0
    if myriad.checkpoint.latest_step(ckpt_dir) is not None:
        start = myriad.checkpoint.load(state, ckpt_dir).step + 1
    for step in range(start, steps):
        train_one_step()
        myriad.elastic.step(step)          # progress, for the goodput ledger
        if step % 100 == 0:
            myriad.checkpoint.save(state, ckpt_dir, step)

Every collective of the ``"myriad"`` backend and every checkpoint is a
heartbeat already; a script that computes for a long time without either
calls :func:`heartbeat`. Outside an agent's job these functions do nothing.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["step", "heartbeat", "restart_count", "failure_count", "event"]


def _native() -> Any:
    import torch  # noqa: F401  (the extension links libtorch)

    from myriad import _C

    return _C


def step(n: int) -> None:
    """Reports that training step ``n`` is done (also a heartbeat).

    The agent measures lost work in steps: after a restart, the steps
    between the restored checkpoint and the last one reported before the
    failure are counted as recomputed.
    """
    if n < 0:
        raise ValueError(f"myriad.elastic.step: the step must not be negative, got {n}")
    _native().step(int(n))


def heartbeat() -> None:
    """Tells the node's agent that this rank is alive."""
    _native().heartbeat()


def restart_count() -> int:
    """How many times this job's ranks have been started again (0 on the
    first run): every new round counts, a failure or a node joining."""
    return int(os.environ.get("MYRIAD_RESTART_COUNT", os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")))


def failure_count() -> int:
    """How many failures the job has had so far (torchrun's
    ``TORCHELASTIC_RESTART_COUNT``; a membership change does not count)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def event(name: str, **fields: Any) -> None:
    """Appends an event to the job's goodput ledger (``LOG_DIR/events.jsonl``)."""
    record = dict(fields)
    record["event"] = name
    record.setdefault("rank", int(os.environ.get("RANK", "0")))
    _native().append_event(json.dumps(record))
