"""myriad.checkpoint: round trips of every kind of state, in-place loads,
pickling only on request, errors that name the directory, asynchronous
saves, DDP save and resume at 2 ranks (torchrun-style and `myriad run`,
with the myriad and gloo backends and without a process group), and
resuming examples/torch/train_ddp.py.

The single-process cases run in this process (a world of one: the
checkpoint service needs no launcher); the others start real ranks
(checkpoint_worker.py, the example).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch

import myriad.checkpoint as ckpt
from ranks import REPO, all_ok, describe, run_ranks

WORKER = "tests/python/checkpoint_worker.py"
SHARED_DTYPES = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int8,
    torch.uint8,
    torch.int32,
    torch.int64,
]
BYTE_DTYPES = [torch.bool, torch.int16, torch.complex64, torch.complex128]  # stored as bytes


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().reshape(-1).view(torch.uint8)


def same(a, b) -> bool:
    """Equal values of equal types, tensors bit for bit (NaN equals NaN).
    Dicts a load creates have their keys in the manifest's (sorted) order."""
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(bits(a), bits(b))
        )
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, float) and a != a:
        return isinstance(b, float) and b != b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def round_trip(state, tmp_path, into=None, **load_kwargs):
    ckpt.save(state, tmp_path, 1, allow_pickle=load_kwargs.get("allow_pickle", False)).wait()
    target = {} if into is None else into
    result = ckpt.load(target, tmp_path, **load_kwargs)
    assert result.step == 1 and result.source == "disk" and result.skipped == []
    return target


def test_nested_state_with_every_dtype_round_trips(tmp_path):
    gen = torch.Generator().manual_seed(3)
    tensors = {str(d).removeprefix("torch."): (torch.randn(5, 3, generator=gen) * 50).to(d) for d in SHARED_DTYPES}
    tensors.update({str(d).removeprefix("torch."): torch.randn(4, 2).to(d) for d in BYTE_DTYPES})
    state = {
        "tensors": tensors,
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 7),
        "strided": torch.arange(12.0).view(3, 4).t(),
        "nested": {"list": [1, 2.5, "three", None, True, [torch.ones(2)]], "deep": {"x": {"y": [{"z": -1}]}}},
        "numbers": {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "big": 2**70, "neg0": -0.0},
        "misc": {"bytes": b"\x00\xff", "size": torch.Size([2, 3]), "dtype": torch.bfloat16, "dev": torch.device("cpu")},
        "keys": {1: "int", 2.5: "float", None: "none", (1, "a"): "tuple", "$dollar": "escaped"},
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
    }
    loaded = round_trip(state, tmp_path)
    assert same(state, loaded)
    assert type(loaded["ordered"]) is dict  # a load makes plain dicts


def test_adam_state_with_int_keys_round_trips_into_a_fresh_optimizer(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 3)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    for _ in range(3):
        model(torch.randn(4, 6)).sum().backward()
        opt.step()
        sched.step()
    state = {"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict()}
    ckpt.save(state, tmp_path, 3).wait()

    fresh = torch.nn.Linear(6, 3)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.5)
    fresh_sched = torch.optim.lr_scheduler.StepLR(fresh_opt, step_size=2)
    into = {"model": fresh.state_dict(), "optim": fresh_opt.state_dict(), "sched": fresh_sched.state_dict()}
    ckpt.load(into, tmp_path)
    assert sorted(into["optim"]["state"]) == [0, 1]  # ints, not "0" and "1"
    fresh.load_state_dict(into["model"])
    fresh_opt.load_state_dict(into["optim"])
    fresh_sched.load_state_dict(into["sched"])
    assert same(opt.state_dict(), fresh_opt.state_dict())
    assert same(sched.state_dict(), fresh_sched.state_dict())
    assert same(model.state_dict(), fresh.state_dict())


def test_rng_states_and_tuples_round_trip(tmp_path):
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    state = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "tuple": (1, (2.0, "x"), [3, (None,)], torch.ones(2)),
        "np_scalar": np.float32(1.5),
    }
    loaded = round_trip(state, tmp_path)
    assert same(state, loaded)
    random.setstate(loaded["python"])
    np.random.set_state(loaded["numpy"])
    torch.set_rng_state(loaded["torch"])
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected


class Opaque:
    def __init__(self, value):
        self.value = value


def test_arbitrary_objects_need_allow_pickle(tmp_path):
    with pytest.raises(TypeError, match=r"state\['a'\]\['b'\]\[1\].*Opaque.*allow_pickle=True"):
        ckpt.save({"a": {"b": [1, Opaque(2)]}}, tmp_path, 1)
    assert ckpt.list_steps(tmp_path) == []  # nothing was started

    ckpt.save({"a": {"b": [1, Opaque(2)]}}, tmp_path, 1, allow_pickle=True).wait()
    with pytest.raises(ckpt.CheckpointError, match=r"state\['a'\]\['b'\]\[1\] was pickled.*allow_pickle=True"):
        ckpt.load({}, tmp_path)
    loaded = {}
    ckpt.load(loaded, tmp_path, allow_pickle=True)
    assert loaded["a"]["b"][0] == 1 and isinstance(loaded["a"]["b"][1], Opaque) and loaded["a"]["b"][1].value == 2


def test_load_fills_the_state_in_place(tmp_path):
    saved = {"w": torch.arange(6.0).view(2, 3), "t": torch.arange(4.0).view(2, 2).t().contiguous(), "n": 3, "l": [1]}
    ckpt.save(saved, tmp_path, 1).wait()
    target = {"w": torch.zeros(2, 3), "t": torch.zeros(2, 2).t(), "n": 0, "l": [0], "extra": "kept"}
    tensors = dict(target)
    half = {"w": torch.zeros(2, 3, dtype=torch.float16)}
    ckpt.load(target, tmp_path)
    assert target["w"] is tensors["w"] and target["t"] is tensors["t"] and target["l"] is tensors["l"]
    assert torch.equal(target["w"], saved["w"]) and torch.equal(target["t"], saved["t"])
    assert target["n"] == 3 and target["l"] == [1] and target["extra"] == "kept"
    ckpt.load(half, tmp_path)  # another dtype: converted as copy_ converts
    assert half["w"].dtype == torch.float16 and torch.equal(half["w"].float(), saved["w"])
    with pytest.raises(ckpt.CheckpointError, match=r"state\['w'\].*shape \[3, 2\].*\[2, 3\]") as info:
        ckpt.load({"w": torch.zeros(3, 2)}, tmp_path)
    assert info.value.code == "invalid_argument"


def test_shards_load_their_rows(tmp_path):
    full = torch.arange(20.0).view(10, 2)
    # One process saving two shards of one tensor is not how ranks shard;
    # the shard API is exercised here with the whole tensor as one shard.
    ckpt.save({"s": ckpt.Shard(full, (10, 2), 0)}, tmp_path, 1).wait()
    part = torch.zeros(3, 2)
    ckpt.load({"s": ckpt.Shard(part, (10, 2), 4)}, tmp_path)
    assert torch.equal(part, full[4:7])
    whole = {}
    ckpt.load(whole, tmp_path)
    assert torch.equal(whole["s"], full)
    with pytest.raises(ValueError, match="outside"):
        ckpt.Shard(part, (10, 2), 8)


def test_steps_latest_retention_and_metadata(tmp_path):
    for step in (1, 2, 3):
        ckpt.save({"step": step}, tmp_path, step, keep_last=2, metadata={"note": "m"}).wait()
    assert ckpt.list_steps(tmp_path) == [2, 3] and ckpt.latest_step(tmp_path) == 3
    assert ckpt.verify(tmp_path) == []
    loaded = {}
    assert ckpt.load(loaded, tmp_path, 2).step == 2 and loaded["step"] == 2
    assert ckpt.latest_step(tmp_path / "missing") is None and ckpt.list_steps(tmp_path / "missing") == []
    with pytest.raises(ckpt.CheckpointError, match="no committed checkpoint"):
        ckpt.load({}, tmp_path / "missing")


def test_fallback_skips_a_corrupt_step(tmp_path):
    ckpt.save({"w": torch.full((64,), 1.0)}, tmp_path, 1).wait()
    ckpt.save({"w": torch.full((64,), 2.0)}, tmp_path, 2).wait()
    data = tmp_path / "step-000000002" / "rank-00000.bin"
    raw = bytearray(data.read_bytes())
    raw[100] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(ckpt.CheckpointError, match="checksum") as info:
        ckpt.load({"w": torch.zeros(64)}, tmp_path)
    assert info.value.code == "corruption"
    target = {"w": torch.zeros(64)}
    result = ckpt.load(target, tmp_path, fallback=True)
    assert result.step == 1 and len(result.skipped) == 1 and result.skipped[0].startswith("step 2:")
    assert torch.equal(target["w"], torch.full((64,), 1.0))


def test_an_unwritable_dir_fails_the_save_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    bad = blocker / "ckpt"
    handle = ckpt.save({"w": torch.ones(3)}, bad, 1)
    with pytest.raises(ckpt.CheckpointError, match=re.escape(str(bad))):
        handle.wait()
    assert handle.done()
    ckpt.save({"w": torch.ones(3)}, tmp_path / "good", 1).wait()  # reported once: the next save is fine

    # Not waited for: the next call raises it.
    ckpt.save({"w": torch.ones(3)}, bad, 2)
    with pytest.raises(ckpt.CheckpointError, match=re.escape(str(bad))):
        ckpt.wait()
    ckpt.save({"w": torch.ones(3)}, bad, 3)
    with pytest.raises(ckpt.CheckpointError, match=re.escape(str(bad))):
        ckpt.save({"w": torch.ones(3)}, tmp_path / "good", 2)
    ckpt.wait()  # nothing left to report
    assert ckpt.list_steps(tmp_path / "good") == [1]


def test_bad_arguments_raise_at_once(tmp_path):
    with pytest.raises(ValueError, match="step"):
        ckpt.save({}, tmp_path, -1)
    with pytest.raises(ValueError, match="keep_last"):
        ckpt.save({}, tmp_path, 1, keep_last=0)
    with pytest.raises(TypeError, match="metadata"):
        ckpt.save({}, tmp_path, 1, metadata={"x": Opaque(1)})
    with pytest.raises(TypeError, match="key of type"):
        ckpt.save({"d": {Opaque(1): 1}}, tmp_path, 1)


def test_a_save_waits_for_the_previous_one(tmp_path):
    ckpt.save({"w": torch.ones(3)}, tmp_path, 0).wait()
    big = {"w": torch.ones(8 << 20)}  # 32 MiB: persisting it takes a while after the snapshot
    first = ckpt.save(big, tmp_path, 1)
    second = ckpt.save(big, tmp_path, 2)
    assert first.done(), "save() returned while the previous save was persisting"
    assert second.blocking_seconds > 0 and second.step == 2 and not second.skipped
    second.wait(timeout=120)
    assert ckpt.list_steps(tmp_path) == [0, 1, 2]


MEMORY_TIER = """
import sys, torch, myriad.checkpoint as ckpt
ckpt.save({"w": torch.arange(10.0)}, sys.argv[1], 1).wait()
state = {"w": torch.zeros(10)}
result = ckpt.load(state, sys.argv[1])
assert torch.equal(state["w"], torch.arange(10.0)), state
print(result.source, result.memory_bytes, result.disk_bytes)
"""


def test_a_load_reports_the_memory_tier_as_its_source(tmp_path):
    # A fresh process: the snapshot directory is read when the process's
    # checkpointer is made.
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    env = dict(os.environ, MYRIAD_SNAPSHOT_DIR=str(snapshots))
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_TIER, str(tmp_path / "ckpt")], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["memory", "40", "0"], done.stdout


# --- several ranks --------------------------------------------------------


def launcher():
    path = os.environ.get("MYRIAD_BIN")
    if not path:
        pytest.skip("MYRIAD_BIN (the built `myriad` command) is not set; CTest sets it")
    return path


def myriad_run(args, timeout=240):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "MYRIAD_STORE", "MYRIAD_TOKEN"):
        env.pop(var, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests" / "python"), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [launcher(), "run", "-np", "2", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# The myriad backend reuses the process group's communicator; gloo and no
# process group build one (over the group's store, over the job's).
@pytest.mark.parametrize("backend", ["gloo", "none"])
def test_ddp_state_saved_by_two_ranks_resumes_exactly(tmp_path, backend):
    dir = str(tmp_path / "ckpt")
    for mode in ("train", "resume"):
        results = run_ranks(2, [WORKER, mode, dir, backend])
        assert all_ok(results), describe(results)
    for r in results:
        assert f"rank {r.rank}: resumed step 3 from disk (3)" in r.output, r.output


def test_ddp_state_resumes_under_myriad_run(tmp_path):
    dir = str(tmp_path / "ckpt")
    myriad_run([WORKER, "train", dir, "myriad"])
    out = myriad_run([WORKER, "resume", dir, "myriad"])
    assert "rank 0: resumed step 3 from disk (3)" in out and "rank 1: resumed step 3" in out, out


def test_async_saves_at_two_ranks(tmp_path):
    results = run_ranks(2, [WORKER, "async", str(tmp_path / "ckpt")])
    assert all_ok(results), describe(results)


def example(*args):
    results = run_ranks(2, ["examples/torch/train_ddp.py", *args])
    assert all_ok(results), describe(results)
    out = results[0].output
    losses = dict(re.findall(r"^step (\d+) loss (\S+)$", out, re.M))
    checksum = re.search(r"^checksum (\S+)$", out, re.M).group(1)
    return out, losses, checksum


def test_the_ddp_example_resumes_where_it_stopped(tmp_path):
    dir = str(tmp_path / "ckpt")
    _, first, _ = example("--steps", "6", "--ckpt-dir", dir, "--ckpt-every", "3")
    assert ckpt.list_steps(dir) == [3, 6]
    out, resumed, checksum = example("--steps", "10", "--ckpt-dir", dir, "--ckpt-every", "3")
    assert "resumed from step 6 (disk)" in out, out
    assert sorted(resumed, key=int) == ["6", "7", "8", "9"], out
    _, straight, straight_checksum = example("--steps", "10")
    # The example is deterministic (seeded data per rank, two-rank sums): a
    # resumed run computes exactly what an uninterrupted one does.
    assert {**first, **resumed} == straight
    assert checksum == straight_checksum
    assert ckpt.list_steps(dir) == [3, 6, 9]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
