"""examples/torch/train_ddp.py runs unchanged under torchrun and under
`myriad run` (where init_process_group's env:// rendezvous goes through
the launcher's store), and trains the same model as a direct start."""

import os
import re
import subprocess
import sys

import pytest

from ranks import REPO, describe, run_ranks

ARGS = ["examples/torch/train_ddp.py", "--steps", "3"]


def checksum(output):
    found = re.search(r"checksum (\S+)$", output, re.M)
    assert found, output
    return float(found.group(1))


@pytest.fixture(scope="module")
def direct():
    results = run_ranks(2, ARGS)
    assert all(r.returncode == 0 for r in results), describe(results)
    return checksum(results[0].output)


def run(command):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "MYRIAD_STORE", "MYRIAD_TOKEN"):
        env.pop(var, None)
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_torchrun_runs_the_script_unchanged(direct):
    out = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *ARGS])
    assert checksum(out) == direct


def test_myriad_run_runs_the_script_unchanged(direct):
    launcher = os.environ.get("MYRIAD_BIN")
    if not launcher:
        pytest.skip("MYRIAD_BIN (the built `myriad` command) is not set; CTest sets it")
    out = run([launcher, "run", "-np", "2", *ARGS])
    assert checksum(out) == direct
