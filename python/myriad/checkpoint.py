"""Myriad's checkpoint service for Python: asynchronous, atomic, verifiable
saves of training state, and loads that fill the state in place.

::

    import myriad.checkpoint as ckpt

    state = {"model": model.state_dict(), "optim": optimizer.state_dict(), "step": step}
    handle = ckpt.save(state, "ckpt", step)   # returns once the snapshot is taken
    ...                                       # training goes on while it persists
    handle.wait()                             # the step is committed (or raises)

    result = ckpt.load(state, "ckpt")         # the latest step, into `state`
    model.load_state_dict(state["model"]); optimizer.load_state_dict(state["optim"])

**State.** A dict (or list) of any nesting of dicts, lists and tuples whose
leaves are tensors and plain values: ``int``, ``float`` (NaN and infinities
included), ``str``, ``bool``, ``None``, ``bytes``, numpy arrays and scalars,
``torch.Size``, ``torch.dtype`` and ``torch.device``. Dict keys may be
strings, ints (an optimizer's ``state_dict`` has int keys), floats, bools,
``None`` or tuples of those; they come back with their types, and so do
tuples (``random.getstate()`` is one). ``model.state_dict()``,
``optimizer.state_dict()``, an LR scheduler's ``state_dict()``,
``torch.get_rng_state()``, ``torch.cuda.get_rng_state_all()``,
``numpy.random.get_state()`` and ``random.getstate()`` all fit. Tensors are
saved under their dotted key path (``model.fc.weight``,
``optim.state.0.exp_avg``); the rest becomes a JSON document in the step's
manifest (docs/checkpoint-format.md, ``values``). Any other object raises
``TypeError`` naming its key path, unless ``allow_pickle=True``: it is then
pickled into the document, and only a load with ``allow_pickle=True``
unpickles it (unpickling runs code of the checkpoint's author).

**Placement.** A tensor is replicated by default: every rank holds the same
one (plain data parallelism) and rank 0 writes it. ``Shard(tensor,
global_shape, row_offset)`` marks this rank's rows of a tensor split along
dimension 0; a load at another world size reads whichever rows each rank's
``Shard`` asks for.

**Ranks.** ``save`` and ``load`` are collective: every rank of the job
calls them in the same order with the same directory, step and options.
They run over a communicator of Myriad's: the default process group's when
it uses the ``"myriad"`` backend, else one built for checkpoints over the
default group's store (gloo, nccl) or, without a process group, over the
job's store (``myriad run``, torchrun); a process alone needs no launcher. One
checkpointer per process and communicator is kept here, so saves never
interleave: a save while the previous one persists waits for it (or, with
``skip_if_busy=True``, is skipped on every rank).

**Errors.** Failures of the service raise :class:`CheckpointError` (a
``RuntimeError``) with a ``code`` (``"io"``, ``"corruption"``,
``"invalid_argument"``, ...) and a message naming the directory, step, file
or tensor. A failure while persisting fails the save on every rank and
commits nothing; if :meth:`SaveHandle.wait` did not report it, the next
``save``, ``load`` or ``wait`` raises it.

**Devices.** CPU tensors are read in place by the snapshot; CUDA tensors
are copied to pinned host memory on a side stream, after the work queued
on the current stream. Tensors a load creates (entries the given state
lacks, such as a fresh optimizer's moments) are CPU tensors:
``optimizer.load_state_dict`` moves them to the parameters' device.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Optional, Union

import torch
import torch.distributed as dist

import myriad
import myriad.torch  # noqa: F401  the "myriad" backend and the env:// rendezvous through the job's store
from myriad import _native
from myriad._checkpoint_state import CheckpointError, Shard, error, flatten, plan

__all__ = [
    "CheckpointError",
    "LoadResult",
    "SaveHandle",
    "Shard",
    "latest_step",
    "list_steps",
    "load",
    "save",
    "verify",
    "wait",
]

PathLike = Union[str, "os.PathLike[str]"]

# Timeout of the rendezvous and collectives of a communicator built here
# (torch's own default for a process group).
_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class LoadResult:
    """What a load restored: the ``step``; where its bytes came from
    (``source``: ``"memory"`` (this node's snapshots, with a memory tier),
    ``"buddy"`` (a replica kept here for another node), ``"disk"``, or a
    ``+``-joined mix such as ``"memory+disk"``); the newer steps
    ``skipped`` by ``fallback`` (``"step N: reason"``, newest first); the
    bytes this rank read, in all and per source; the copies found unusable
    and read from the next source instead (``fallbacks``); and the
    ``seconds`` the read took."""

    step: int
    source: str
    skipped: list[str] = field(default_factory=list)
    bytes_read: int = 0
    memory_bytes: int = 0
    buddy_bytes: int = 0
    disk_bytes: int = 0
    fallbacks: list[str] = field(default_factory=list)
    seconds: float = 0.0


class SaveHandle:
    """One asynchronous save, returned by :func:`save` once the snapshot is
    taken. Safe to use from any thread."""

    def __init__(self, native: Any, step: int, blocking_seconds: float) -> None:
        self._native = native  # None: skipped
        self._step = step
        self._blocking_seconds = blocking_seconds

    @property
    def step(self) -> int:
        """The step this handle saves."""
        return self._step

    @property
    def skipped(self) -> bool:
        """True when ``skip_if_busy`` skipped this save (nothing was written)."""
        return self._native is None

    @property
    def blocking_seconds(self) -> float:
        """Seconds the caller spent in :func:`save`: flattening the state,
        device copies and the snapshot."""
        return self._blocking_seconds

    @property
    def replication_error(self) -> str:
        """After :meth:`wait`: why this rank's copy to its buddy node failed
        (the step is committed on disk regardless); ``""`` when it
        succeeded or no replica was asked for (``MYRIAD_CKPT_REPLICAS``)."""
        return "" if self._native is None else str(self._native.replication_error)

    def done(self) -> bool:
        """True once the save has committed, failed, or was skipped."""
        return self._native is None or bool(self._native.done())

    def wait(self, timeout: Optional[float] = None) -> None:
        """Blocks until the step is committed (at once when skipped) and
        raises the save's :class:`CheckpointError` if it failed, every time
        it is called. With ``timeout`` (seconds), raises ``TimeoutError``
        when the save is still persisting then; it goes on regardless."""
        if self._native is None:
            return
        if timeout is not None:
            deadline = time.monotonic() + timeout
            pause = 0.001
            while not self._native.done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"myriad.checkpoint: step {self._step} still persisting after {timeout} s")
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.05)
        self._native.wait()

    def __repr__(self) -> str:
        state = "skipped" if self.skipped else ("done" if self.done() else "persisting")
        return f"SaveHandle(step={self._step}, {state})"


# ---------------------------------------------------------------------------
# The communicator and the process's checkpointer


class _Service:
    """The checkpointer of this process over the current communicator."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.native: Any = None
        self.key: Any = None  # what the checkpointer was built for
        self.groups = 0  # communicators built here so far: names their store keys

    def get(self) -> Any:
        key = self._key()
        if self.native is not None and self.key is key:
            return self.native
        if self.native is not None:
            # The process group changed (destroyed and made again): the old
            # checkpointer finishes its persist first.
            old, self.native = self.native, None
            old.wait_all()
        self.native = _native().Checkpointer(self._backend(key))
        self.key = key
        return self.native

    @staticmethod
    def _key() -> Any:
        if dist.is_available() and dist.is_initialized():
            return dist.group.WORLD
        return _Service

    def _backend(self, key: Any) -> Any:
        if key is not _Service:
            pg = key
            if dist.get_backend(pg) == myriad.torch.BACKEND_NAME:
                return pg._get_backend(torch.device("cpu"))
            store = dist.distributed_c10d._get_default_store()
            rank, size = dist.get_rank(pg), dist.get_world_size(pg)
        else:
            job = myriad.bootstrap()
            rank, size = int(job["rank"]), int(job["world_size"])
            if size == 1:
                store = dist.HashStore()
            else:
                # Torch's env:// rendezvous (myriad.torch routes it to the
                # launcher's store under `myriad run`).
                store, _, _ = next(dist.rendezvous("env://", rank=rank, world_size=size, timeout=_TIMEOUT))
        self.groups += 1
        prefixed = dist.PrefixStore(f"myriad/checkpoint/{self.groups}/", store)
        return _native().create_backend(prefixed, rank, size, _TIMEOUT)

    def wait(self) -> None:
        if self.native is not None:
            self.native.wait_all()


_service = _Service()


@atexit.register
def _wait_at_exit() -> None:
    # A persist still running at exit is awaited (the peers wait for this
    # rank's agreement) before the interpreter tears modules down.
    with _service.lock:
        if _service.native is not None:
            try:
                _service.native.wait_all()
            finally:
                _service.native = None


# ---------------------------------------------------------------------------
# The API


def save(
    state: Any,
    dir: PathLike,
    step: int,
    *,
    keep_last: Optional[int] = None,
    metadata: Optional[Mapping[str, Any]] = None,
    allow_pickle: bool = False,
    skip_if_busy: bool = False,
) -> SaveHandle:
    """Saves ``state`` as ``step`` of ``dir`` (created if missing); returns
    once the snapshot is taken, with a :class:`SaveHandle` of the persist
    that runs in the background.

    Collective: every rank calls it with the same ``dir``, ``step`` and
    options. ``keep_last`` keeps that many newest committed steps (``None``:
    all). ``metadata``, a JSON object, goes into the manifest as is.
    ``allow_pickle`` pickles values JSON cannot hold (else ``TypeError``
    naming the key path). ``skip_if_busy``: when any rank's previous save
    is still persisting, skip this one on every rank (the handle says
    ``skipped``) rather than wait. Changing ``keep_last`` from one save to
    the next waits for the running persist. Raises the previous save's
    unreported error, if any.
    """
    start = time.perf_counter()
    if type(step) is not int or step < 0:
        raise ValueError(f"myriad.checkpoint.save: step must be an int >= 0, not {step!r}")
    if keep_last is not None and (type(keep_last) is not int or keep_last < 1):
        raise ValueError(f"myriad.checkpoint.save: keep_last must be an int >= 1 or None, not {keep_last!r}")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise TypeError(
            f"myriad.checkpoint.save: metadata must be a JSON object (a dict), not {type(metadata).__qualname__}"
        )
    try:
        metadata_text = json.dumps(dict(metadata), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"myriad.checkpoint.save: metadata is not representable as JSON: {e}") from e
    flat, values = flatten(state, allow_pickle)
    with _service.lock:
        native = _service.get().save(
            flat.entries, values, os.fspath(dir), step, metadata_text, keep_last or 0, skip_if_busy
        )
    return SaveHandle(native, step, time.perf_counter() - start)


def load(
    state: Any,
    dir: PathLike,
    step: Optional[int] = None,
    *,
    fallback: bool = False,
    allow_pickle: bool = False,
) -> LoadResult:
    """Loads ``step`` of ``dir`` (default: the latest) into ``state``, in
    place: saved tensors are copied into the state's tensors (``copy_``,
    converting the dtype where it differs; shapes must match), a
    :class:`Shard` receives its rows, and other values replace the state's
    in its dicts and lists. Entries the state lacks are added (tensors as
    new cpu tensors); entries the checkpoint lacks are left as they are.

    With ``fallback``, a step that fails to verify (corrupt, truncated,
    missing files) is skipped for the next older one that loads; the
    result lists what was skipped. Values pickled by ``save`` are unpickled
    only with ``allow_pickle=True``. Waits for this process's running
    persist first and raises its unreported error. Collective, as
    :func:`save` is. Raises :class:`CheckpointError` when no step loads;
    the state's tensors may then be partly overwritten, its other values
    are unchanged.
    """
    dir = os.fspath(dir)
    if step is not None and (type(step) is not int or step < 0):
        raise ValueError(f"myriad.checkpoint.load: step must be an int >= 0 or None, not {step!r}")
    with _service.lock:
        native = _service.get()
        native.wait_all()
        skipped: list[str] = []
        candidates = _candidates(dir, step, fallback, skipped)
        for candidate in candidates:
            try:
                values = _native().read_values(dir, candidate)
                todo = plan(values, state, allow_pickle, f"{dir}: step {candidate}")
                result, _ = native.load(todo.entries, dir, candidate, False)
            except CheckpointError as e:
                if not fallback or getattr(e, "code", "") not in ("corruption", "not_supported"):
                    raise
                skipped.append(f"step {candidate}: {e}")
                continue
            with torch.no_grad():
                for target, staged in todo.copies:
                    target.copy_(staged)
            for container, key, value in todo.assignments:
                container[key] = value
            return LoadResult(
                step=int(result["step"]),
                source=str(result["source"]),
                skipped=skipped + list(result["skipped"]),
                bytes_read=int(result["bytes_read"]),
                memory_bytes=int(result["memory_bytes"]),
                buddy_bytes=int(result["buddy_bytes"]),
                disk_bytes=int(result["disk_bytes"]),
                fallbacks=[str(f) for f in result["fallbacks"]],
                seconds=float(result["seconds"]),
            )
    reasons = "".join(f"\n  {s}" for s in skipped)
    raise error(f"{dir}: no step verifies:{reasons}", "corruption")


def _candidates(dir: str, step: Optional[int], fallback: bool, skipped: list[str]) -> list[int]:
    target = step
    if target is None:
        try:
            target = _native().latest_step(dir)
        except CheckpointError as e:
            if not fallback or getattr(e, "code", "") != "corruption":
                raise
            skipped.append(str(e))
            steps = _native().list_steps(dir)
            target = steps[-1] if steps else None
    if target is None:
        raise error(f"{dir}: no committed checkpoint", "io")
    if not fallback:
        return [target]
    return [target] + [s for s in reversed(_native().list_steps(dir)) if s < target]


def wait() -> None:
    """Waits for this process's running persist, if any, and raises its
    error if no handle reported it."""
    with _service.lock:
        _service.wait()


def latest_step(dir: PathLike) -> Optional[int]:
    """The step a load without a step restores: the one ``latest`` names,
    else the newest committed step; ``None`` when there is none."""
    step = _native().latest_step(os.fspath(dir))
    return None if step is None else int(step)


def list_steps(dir: PathLike) -> list[int]:
    """The committed steps of ``dir``, ascending (none for a missing dir)."""
    return [int(s) for s in _native().list_steps(os.fspath(dir))]


def verify(dir: PathLike, step: Optional[int] = None) -> list[str]:
    """Re-checks every checksum, size and header of ``step`` (default: the
    latest); returns the problems found, one line each (empty: intact)."""
    dir = os.fspath(dir)
    target = latest_step(dir) if step is None else step
    if target is None:
        raise error(f"{dir}: no committed checkpoint", "io")
    problems, _ = _native().verify_step(dir, target)
    return [str(p) for p in problems]
