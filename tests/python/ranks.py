"""Starts real rank processes for the tests, as a launcher would.

run_ranks(n, target, args) starts n processes of `python -m <target> args`
(or `python <script> args`) with torchrun's variables (RANK, WORLD_SIZE,
LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT on a free port),
waits for all of them, kills them all when one hangs past `timeout`, and
returns each rank's exit code and output.

myriad_bin() is the built `myriad` command (MYRIAD_BIN, which CTest sets);
launcher_env() is this environment without the variables of an enclosing
job, for a launcher the test starts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# A hang is a failure: every run is bounded (a healthy one takes seconds).
DEFAULT_TIMEOUT = 240


def myriad_bin() -> str:
    launcher = os.environ.get("MYRIAD_BIN")
    if not launcher:
        pytest.skip("MYRIAD_BIN (the built `myriad` command) is not set; CTest sets it")
    return launcher


def launcher_env(**extra: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "MYRIAD_STORE", "MYRIAD_TOKEN"):
        env.pop(var, None)
    env.update(extra)
    return env


@dataclass
class RankResult:
    rank: int
    returncode: int
    output: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def describe(results: list[RankResult]) -> str:
    return "\n".join(f"--- rank {r.rank} exit {r.returncode}\n{r.output}" for r in results)


def run_ranks(
    n: int,
    command: list[str],
    timeout: float = DEFAULT_TIMEOUT,
    env: dict[str, str] | None = None,
) -> list[RankResult]:
    port = free_port()
    procs = []
    for rank in range(n):
        e = dict(os.environ)
        for var in ("MYRIAD_STORE", "MYRIAD_TOKEN", "MYRIAD_RANK", "MYRIAD_WORLD_SIZE", "MYRIAD_RUN_ID"):
            e.pop(var, None)
        e.update(
            RANK=str(rank),
            WORLD_SIZE=str(n),
            LOCAL_RANK=str(rank),
            LOCAL_WORLD_SIZE=str(n),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            OMP_NUM_THREADS="1",
            PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), e.get("PYTHONPATH", "")])),
        )
        e.update(env or {})
        procs.append(
            subprocess.Popen(
                [sys.executable, *command],
                env=e,
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    results = []
    try:
        for rank, p in enumerate(procs):
            out, _ = p.communicate(timeout=timeout)
            results.append(RankResult(rank, p.returncode, out))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        for rank, p in enumerate(procs[len(results) :], start=len(results)):
            out, _ = p.communicate()
            results.append(RankResult(rank, p.returncode, out + "\n[killed: the run passed its timeout]"))
    return results


def all_ok(results: list[RankResult]) -> bool:
    return all(r.returncode == 0 for r in results)
