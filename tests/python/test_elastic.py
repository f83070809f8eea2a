"""Elastic runs of a torch script under `myriad run --max-restarts`: a rank
killed mid-run is restarted and restores from its node's memory snapshot
(asserted through the restore's reported source and the goodput ledger),
the result equals an uninterrupted run, and a script that raises on every
rank stops after one restart with its traceback named as the root cause."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ranks import HERE, REPO, launcher_env, myriad_bin

WORKER = str(HERE / "elastic_worker.py")


def run(args, timeout=300):
    return subprocess.run([myriad_bin(), *args], cwd=REPO, env=launcher_env(), capture_output=True, text=True, timeout=timeout)


def events(log_dir: Path):
    return [json.loads(line) for line in (log_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def final(out: str) -> float:
    found = re.search(r"final (\S+)$", out, re.M)
    assert found, out
    return float(found.group(1))


def test_a_killed_rank_restarts_and_restores_from_memory(tmp_path):
    clean = run(["run", "-np", "2", WORKER, "none", str(tmp_path / "clean")])
    assert clean.returncode == 0, clean.stdout + clean.stderr

    logs = tmp_path / "logs"
    done = run(["run", "-np", "2", "--max-restarts", "2", "--log-dir", str(logs), WORKER, "crash-once",
                str(tmp_path / "ckpt")])
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "was killed by signal 9 (SIGKILL)" in out
    # Both ranks restored step 3 after the restart, from the node's memory (the agent's snapshot dir).
    restored = re.findall(r"^\[rank \d\] restored step (\d+) from (\S+)$", out, re.M)
    assert len(restored) == 2, out
    assert all(step == "3" and source == "memory" for step, source in restored), restored
    assert final(out) == pytest.approx(final(clean.stdout), rel=0, abs=1e-12)

    ledger = events(logs)
    names = [e["event"] for e in ledger]
    assert names.count("round_formed") == 2
    failure = next(e for e in ledger if e["event"] == "failure_detected")
    assert failure["cause"] == "signal" and failure["rank"] == 1
    restores = [e for e in ledger if e["event"] == "restore_done"]
    assert len(restores) == 2 and {e["source"] for e in restores} == {"memory"}, restores
    assert any(e["event"] == "first_step" and e["generation"] == 1 for e in ledger), ledger
    assert "goodput:" in done.stderr and "1 restart" in done.stderr


def zygotes_of(marker: str) -> list[int]:
    """The live fork servers started by a job whose environment holds `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if b"myriad._zygote" in cmdline and marker.encode() in environ:
            found.append(int(pid))
    return found


def test_preload_forks_the_restarted_ranks_with_torch_imported(tmp_path):
    clean = run(["run", "-np", "2", WORKER, "none", str(tmp_path / "clean")])
    assert clean.returncode == 0, clean.stdout + clean.stderr
    marker = f"MYRIAD_TEST_ZYGOTE={tmp_path.name}"
    logs = tmp_path / "logs"
    done = run(["run", "-np", "2", "--max-restarts", "2", "--preload", "torch", "-x", marker, "--log-dir",
                str(logs), WORKER, "crash-once", str(tmp_path / "ckpt")])
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "fork server is unusable" not in out and "--preload ignored" not in out, out
    ranks = [json.loads(line.split("] ", 1)[1]) for line in done.stdout.splitlines() if '"restarts"' in line]
    # The first round's ranks are exec'd while the fork server imports; the restarted ones are forked from it.
    assert sorted((r["rank"], r["restarts"], r["preloaded"]) for r in ranks) == [(0, 1, True), (1, 1, True)], out
    restored = re.findall(r"^\[rank \d\] restored step (\d+) from (\S+)$", out, re.M)
    assert sorted(restored) == [("3", "memory"), ("3", "memory")], out
    assert final(out) == pytest.approx(final(clean.stdout), rel=0, abs=1e-12)
    ledger = events(logs)
    failure = next(e for e in ledger if e["event"] == "failure_detected")
    assert failure["cause"] == "signal" and failure["rank"] == 1
    assert zygotes_of(marker) == [], "the fork server outlived its job"


ORPHANS_SCRIPT = """
import os, subprocess, sys, time
subprocess.Popen(["sleep", "100"])  # left behind when this rank dies: re-parented to the agent
if os.environ["TORCHELASTIC_RESTART_COUNT"] == "0":
    time.sleep(1)
    if os.environ["RANK"] == "1":
        os._exit(3)
    time.sleep(100)
time.sleep(0.5)
zombies = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if fields[0] == "Z" and int(fields[1]) == os.getppid():
        zombies.append(int(pid))
print("zombie children of the agent:", zombies, flush=True)
# Stay until both ranks have looked: a rank that exits first leaves its `sleep` to the agent, which
# kills it, and the other rank would then see that one as a zombie.
here = os.path.dirname(os.path.abspath(__file__))
open(os.path.join(here, "scanned-" + os.environ["RANK"]), "w").close()
deadline = time.monotonic() + 60
while not all(os.path.exists(os.path.join(here, f"scanned-{r}")) for r in ("0", "1")):
    if time.monotonic() > deadline:
        sys.exit("the other rank never finished its scan")
    time.sleep(0.05)
"""


def test_preload_agent_reaps_what_failed_ranks_left_behind(tmp_path):
    script = tmp_path / "orphans.py"
    script.write_text(ORPHANS_SCRIPT)
    done = run(["run", "-np", "2", "--max-restarts", "1", "--preload", "os", str(script)])
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    # The first round's ranks and their `sleep`s were killed; the agent reaped the orphans before round 2.
    assert re.findall(r"zombie children of the agent: (.*)$", done.stdout, re.M) == ["[]", "[]"], out


def test_preload_of_a_module_that_fails_to_import_falls_back_to_exec(tmp_path):
    done = run(["run", "-np", "2", "--max-restarts", "1", "--preload", "myriad_no_such_module", WORKER,
                "crash-once", str(tmp_path / "ckpt")])
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "importing 'myriad_no_such_module' failed" in done.stderr, out
    assert "the --preload fork server is unusable" in done.stderr, out
    ranks = [json.loads(line.split("] ", 1)[1]) for line in done.stdout.splitlines() if '"restarts"' in line]
    assert [r["preloaded"] for r in ranks] == [False, False], out


def test_preload_flag_errors_and_non_python_programs(tmp_path):
    bad = run(["run", "-np", "1", "--preload", "torch,,numpy", "true"])
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "--preload 'torch,,numpy': '' is not a Python module name" in bad.stderr
    other = run(["run", "-np", "1", "--max-restarts", "1", "--preload", "torch", "true"])
    assert other.returncode == 0, other.stdout + other.stderr
    assert "--preload ignored: the ranks run 'true', not Python" in other.stderr


def test_a_script_that_raises_everywhere_stops_after_one_restart(tmp_path):
    logs = tmp_path / "logs"
    done = run(["run", "-np", "2", "--max-restarts", "5", "--log-dir", str(logs), WORKER, "raise",
                str(tmp_path / "ckpt")])
    out = done.stdout + done.stderr
    assert done.returncode == 1, out  # Python's exit code for an uncaught exception
    assert "the root cause" in done.stderr
    assert "the same failure repeated right after a restart" in done.stderr
    assert "ValueError: bad learning rate schedule at step 0" in done.stderr
    assert 'raise ValueError(f"bad learning rate schedule' in done.stderr  # the traceback, from the error file
    assert [e["event"] for e in events(logs)].count("round_formed") == 2


def test_the_same_script_recovers_under_torchrun_too(tmp_path):
    """The comparison run of the recovery benchmark: torchrun restarts the
    killed rank and the script restores from disk (torchrun has no memory
    tier), with the same result."""
    clean = run(["run", "-np", "2", WORKER, "none", str(tmp_path / "clean")])
    assert clean.returncode == 0, clean.stdout + clean.stderr
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "MYRIAD_STORE", "MYRIAD_TOKEN",
                "MYRIAD_SNAPSHOT_DIR"):
        env.pop(var, None)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "--max-restarts", "1", WORKER, "crash-once", str(tmp_path / "ckpt")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    restored = re.findall(r"restored step (\d+) from (\S+)$", done.stdout, re.M)
    assert len(restored) == 2 and all(step == "3" and source == "disk" for step, source in restored), out
    assert final(done.stdout) == pytest.approx(final(clean.stdout), rel=0, abs=1e-12)
