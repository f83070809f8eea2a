"""The document a checkpoint's `values` hold for myriad.checkpoint: a
Python state flattened into named tensors plus a JSON tree, and the way
back, filling a given state in place.

The tree is JSON with tagged objects for what JSON lacks, each an object
whose first key starts with ``$``: ``{"$tensor": name, "dtype", "shape",
"device"[, "sharded"]}``, ``{"$tuple": [...]}``, ``{"$dict": [[key,
value], ...]}`` (a dict whose keys are not all strings, or one with a key
starting with ``$``), ``{"$float": "nan"|"inf"|"-inf"}``, ``{"$int":
"digits"}`` (beyond 64 bits), ``{"$bytes": b64}``, ``{"$ndarray": b64,
"dtype", "shape", "scalar"}``, ``{"$size": [...]}``, ``{"$dtype": name}``,
``{"$device": name}`` and ``{"$pickle": b64}``. The document is
``{"format": "myriad.checkpoint/1", "tree": ...}``.
"""

from __future__ import annotations

import base64
import json
import math
import pickle
from collections.abc import MutableMapping, MutableSequence
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from myriad import _native

#: A failure of the checkpoint service; ``code`` names the runtime's error code.
CheckpointError: type[RuntimeError] = _native().CheckpointError

# The version of the document written into a step's `values`.
FORMAT = "myriad.checkpoint/1"
# Key prefix of the tagged encodings; a dict with a key that starts with it
# is written as a list of pairs instead.
_TAG = "$"

Entry = tuple[str, torch.Tensor, list[int], bool, int]


def error(message: str, code: str) -> RuntimeError:
    """A CheckpointError raised from Python, with the runtime's `code`."""
    e = CheckpointError(message)
    e.code = code  # type: ignore[attr-defined]
    return e


@dataclass(frozen=True)
class Shard:
    """This rank's rows ``[row_offset, row_offset + tensor.shape[0])`` of a
    tensor of ``global_shape``, split along dimension 0 between ranks (in
    contiguous, possibly uneven or empty pieces)."""

    tensor: torch.Tensor
    global_shape: tuple[int, ...]
    row_offset: int

    def __post_init__(self) -> None:
        shape = tuple(int(d) for d in self.global_shape)
        object.__setattr__(self, "global_shape", shape)
        local = tuple(self.tensor.shape)
        if not shape or len(local) != len(shape) or local[1:] != shape[1:]:
            raise ValueError(
                f"Shard: a tensor of shape {list(local)} is not a dim-0 piece of global shape {list(shape)}"
            )
        if self.row_offset < 0 or self.row_offset + local[0] > shape[0]:
            raise ValueError(
                f"Shard: rows [{self.row_offset}, {self.row_offset + local[0]}) are outside the "
                f"{shape[0]} rows of the global tensor"
            )


# ---------------------------------------------------------------------------
# Flattening: state -> tensors + JSON document


@dataclass
class Flat:
    """The tensors of a save, as myriad._C.Checkpointer.save takes them."""

    allow_pickle: bool
    entries: list[Entry] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def name(self, path: tuple[Any, ...]) -> str:
        base = ".".join(str(k) for k in path) or "tensor"
        name, n = base, 1
        while name in self.names:  # two paths that print the same ("a.b" and a -> b)
            name = f"{base}~{n}"
            n += 1
        self.names.add(name)
        return name


def _where(path: tuple[Any, ...]) -> str:
    return "the state" if not path else "state" + "".join(f"[{k!r}]" for k in path)


def _not_representable(obj: Any, path: tuple[Any, ...], flat: Flat) -> Any:
    if not flat.allow_pickle:
        raise TypeError(
            f"myriad.checkpoint.save: {_where(path)} is a {type(obj).__module__}.{type(obj).__qualname__}, "
            "which is not a tensor nor representable as JSON; pass allow_pickle=True to pickle it"
        )
    try:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:
        raise TypeError(f"myriad.checkpoint.save: {_where(path)} cannot be pickled: {e}") from e
    return {_TAG + "pickle": base64.b64encode(data).decode("ascii")}


def _encode_float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {_TAG + "float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _encode_int(x: int) -> Any:
    # nlohmann::json holds 64-bit integers; others travel as text.
    return x if -(2**63) <= x < 2**64 else {_TAG + "int": str(x)}


def _tensor_node(name: str, tensor: torch.Tensor, shape: list[int], sharded: bool) -> dict[str, Any]:
    node: dict[str, Any] = {
        _TAG + "tensor": name,
        "dtype": str(tensor.dtype).removeprefix("torch."),
        "shape": shape,
        "device": str(tensor.device),
    }
    if sharded:
        node["sharded"] = True
    return node


def _numpy_node(obj: Any) -> Optional[dict[str, Any]]:
    np = _numpy()
    if np is None or not isinstance(obj, (np.ndarray, np.generic)) or obj.dtype.hasobject:
        return None
    arr = np.asarray(obj)  # tobytes() is in C order whatever the strides
    return {
        _TAG + "ndarray": base64.b64encode(arr.tobytes()).decode("ascii"),
        "dtype": arr.dtype.str,
        "shape": list(arr.shape),
        "scalar": isinstance(obj, np.generic),
    }


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def _encode_key(key: Any, path: tuple[Any, ...], flat: Flat) -> Any:
    if key is None or type(key) in (str, bool):
        return key
    if type(key) is int:
        return _encode_int(key)
    if type(key) is float:
        return _encode_float(key)
    if type(key) is tuple:
        return {_TAG + "tuple": [_encode_key(k, path, flat) for k in key]}
    raise TypeError(
        f"myriad.checkpoint.save: {_where(path)} has a key of type {type(key).__qualname__} ({key!r}); "
        "keys may be str, int, float, bool, None or tuples of those"
    )


def _encode(obj: Any, path: tuple[Any, ...], flat: Flat) -> Any:
    if obj is None or type(obj) in (str, bool):
        return obj
    if type(obj) is int:
        return _encode_int(obj)
    if type(obj) is float:
        return _encode_float(obj)
    if isinstance(obj, torch.Tensor):
        name = flat.name(path)
        shape = list(obj.shape)
        flat.entries.append((name, obj, shape, False, 0))
        return _tensor_node(name, obj, shape, False)
    if isinstance(obj, Shard):
        name = flat.name(path)
        shape = list(obj.global_shape)
        flat.entries.append((name, obj.tensor, shape, True, obj.row_offset))
        return _tensor_node(name, obj.tensor, shape, True)
    if type(obj) is list:
        return [_encode(v, path + (i,), flat) for i, v in enumerate(obj)]
    if type(obj) is tuple:
        return {_TAG + "tuple": [_encode(v, path + (i,), flat) for i, v in enumerate(obj)]}
    if isinstance(obj, dict) and type(obj).__module__ in ("builtins", "collections"):
        # dict, OrderedDict, defaultdict: come back as a dict (or, filled in
        # place, as the caller's own mapping).
        if all(type(k) is str and not k.startswith(_TAG) for k in obj):
            return {k: _encode(v, path + (k,), flat) for k, v in obj.items()}
        pairs = [[_encode_key(k, path, flat), _encode(v, path + (k,), flat)] for k, v in obj.items()]
        return {_TAG + "dict": pairs}
    if isinstance(obj, torch.Size):
        return {_TAG + "size": list(obj)}
    if isinstance(obj, torch.dtype):
        return {_TAG + "dtype": str(obj).removeprefix("torch.")}
    if isinstance(obj, torch.device):
        return {_TAG + "device": str(obj)}
    if type(obj) is bytes:
        return {_TAG + "bytes": base64.b64encode(obj).decode("ascii")}
    node = _numpy_node(obj)
    if node is not None:
        return node
    return _not_representable(obj, path, flat)


def flatten(state: Any, allow_pickle: bool) -> tuple[Flat, str]:
    """The tensors of `state` and the document (JSON text) of the rest."""
    flat = Flat(allow_pickle)
    tree = _encode(state, (), flat)
    values = json.dumps({"format": FORMAT, "tree": tree}, allow_nan=False)
    return flat, values


# ---------------------------------------------------------------------------
# Restoring: JSON document -> state, filled in place


class Plan:
    """What a load will do: the tensors it reads (entries), the copies into
    the caller's tensors of another dtype, and the assignments of new values
    into the caller's containers, made only once every tensor was read."""

    def __init__(self, allow_pickle: bool) -> None:
        self.allow_pickle = allow_pickle
        self.entries: list[Entry] = []
        self.copies: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.assignments: list[tuple[Any, Any, Any]] = []  # (container, key, value)

    def read(
        self, name: str, target: torch.Tensor, shape: list[int], sharded: bool, offset: int, dtype: torch.dtype
    ) -> None:
        if target.dtype == dtype:
            self.entries.append((name, target, shape, sharded, offset))
            return
        # Another dtype: read the saved one, then convert as copy_ does.
        staged = torch.empty(tuple(target.shape), dtype=dtype)
        self.entries.append((name, staged, shape, sharded, offset))
        self.copies.append((target, staged))


_MISSING = object()


def _dtype(name: str, path: tuple[Any, ...]) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise error(f"{_where(path)}: this torch has no dtype {name!r}", "not_supported")
    return dtype


def _decode_leaf(node: dict[str, Any], path: tuple[Any, ...], plan: Plan) -> Any:
    """A value of a tagged node other than a tensor or a container."""
    tag = next((k for k in node if k.startswith(_TAG)), "")
    value: Any = node.get(tag)
    if tag == _TAG + "float":
        return float(value)
    if tag == _TAG + "int":
        return int(value)
    if tag == _TAG + "size":
        return torch.Size(value)
    if tag == _TAG + "dtype":
        return _dtype(value, path)
    if tag == _TAG + "device":
        return torch.device(value)
    if tag == _TAG + "bytes":
        return base64.b64decode(value)
    if tag == _TAG + "ndarray":
        np = _numpy()
        if np is None:
            raise error(f"{_where(path)} is a numpy array and numpy is not installed", "not_supported")
        raw = base64.b64decode(value)
        arr = np.frombuffer(raw, dtype=np.dtype(node["dtype"])).reshape(node["shape"]).copy()
        return arr[()] if node.get("scalar") else arr
    if tag == _TAG + "pickle":
        if not plan.allow_pickle:
            raise error(
                f"{_where(path)} was pickled by save(allow_pickle=True); unpickling runs code of the "
                "checkpoint's author: pass allow_pickle=True to load it",
                "invalid_argument",
            )
        return pickle.loads(base64.b64decode(value))
    raise error(f"{_where(path)}: unknown entry {json.dumps(node)[:120]}", "corruption")


def _decode_key(node: Any, path: tuple[Any, ...], plan: Plan) -> Any:
    if isinstance(node, dict):
        if _TAG + "tuple" in node:
            return tuple(_decode_key(k, path, plan) for k in node[_TAG + "tuple"])
        return _decode_leaf(node, path, plan)
    return node


def _restore(node: Any, current: Any, path: tuple[Any, ...], plan: Plan) -> Any:
    """The value for `path`: `current` itself, filled in place, where it has
    the saved kind; a new value otherwise (assigned later by the caller)."""
    if isinstance(node, list):
        if isinstance(current, MutableSequence) and len(current) == len(node):
            _fill_sequence(current, node, path, plan)
            return current
        return [_restore(n, _MISSING, path + (i,), plan) for i, n in enumerate(node)]
    if not isinstance(node, dict):
        return node
    if _TAG + "tensor" in node:
        return _restore_tensor(node, current, path, plan)
    if _TAG + "tuple" in node:
        items = node[_TAG + "tuple"]
        old = current if isinstance(current, tuple) and len(current) == len(items) else (_MISSING,) * len(items)
        new = tuple(_restore(n, o, path + (i,), plan) for i, (n, o) in enumerate(zip(items, old)))
        return current if all(a is b for a, b in zip(new, old)) else new
    if _TAG + "dict" in node:
        pairs = [(_decode_key(k, path, plan), v) for k, v in node[_TAG + "dict"]]
    elif any(k.startswith(_TAG) for k in node):
        return _decode_leaf(node, path, plan)
    else:
        pairs = list(node.items())
    if isinstance(current, MutableMapping):
        for key, value in pairs:
            old = current.get(key, _MISSING)
            new = _restore(value, old, path + (key,), plan)
            if new is not old:
                plan.assignments.append((current, key, new))
        return current
    return {key: _restore(value, _MISSING, path + (key,), plan) for key, value in pairs}


def _fill_sequence(
    current: MutableSequence[Any], node: list[Any], path: tuple[Any, ...], plan: Plan
) -> None:
    for i, n in enumerate(node):
        new = _restore(n, current[i], path + (i,), plan)
        if new is not current[i]:
            plan.assignments.append((current, i, new))


def _restore_tensor(node: dict[str, Any], current: Any, path: tuple[Any, ...], plan: Plan) -> Any:
    name, shape = node[_TAG + "tensor"], [int(d) for d in node["shape"]]
    dtype = _dtype(node["dtype"], path)
    if isinstance(current, Shard):
        if list(current.global_shape) != shape:
            raise error(
                f"{_where(path)}: the Shard's global shape is {list(current.global_shape)}, "
                f"the checkpoint's {shape}",
                "invalid_argument",
            )
        plan.read(name, current.tensor, shape, True, current.row_offset, dtype)
        return current
    if isinstance(current, torch.Tensor):
        if list(current.shape) != shape:
            raise error(
                f"{_where(path)}: the tensor has shape {list(current.shape)}, the checkpoint's is {shape}",
                "invalid_argument",
            )
        plan.read(name, current, shape, False, 0, dtype)
        return current
    # Not in the given state (a fresh optimizer's moments): a new cpu tensor,
    # the whole of it even where the save was sharded.
    tensor = torch.empty(shape, dtype=dtype)
    plan.read(name, tensor, shape, False, 0, dtype)
    return tensor


def plan(values: str, state: Any, allow_pickle: bool, where: str) -> Plan:
    """What loading the document `values` (JSON text) into `state` takes;
    changes nothing yet. `where` names the step in errors."""
    document = json.loads(values)
    found = document.get("format") if isinstance(document, dict) else None
    if found != FORMAT:
        raise error(
            f"{where} was not written by myriad.checkpoint.save (format {found!r}, expected {FORMAT!r})",
            "not_supported",
        )
    todo = Plan(allow_pickle)
    tree = document["tree"]
    if isinstance(tree, list) and isinstance(state, MutableSequence) and len(tree) != len(state):
        raise error(
            f"{where}: the state is a list of {len(state)}, the checkpoint's of {len(tree)}", "invalid_argument"
        )
    result = _restore(tree, state, (), todo)
    if result is not state:
        raise TypeError(
            f"myriad.checkpoint.load: the state ({type(state).__qualname__}) must be a mutable container of the "
            "saved kind (a dict, or a list of the same length) to be filled in place"
        )
    return todo
