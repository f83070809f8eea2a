"""`myriad run --rdzv-backend etcd` against a real 3-member etcd cluster on
loopback (etcd_cluster.py): two nodes (two `myriad run` processes, one agent
each) form their rounds in etcd while their ranks train on a store of the
round's own. Killing the etcd leader during a rendezvous round or during
training does not stop the job; a rank killed mid-training restarts through
etcd. And the reason to choose etcd: without it, losing the node that hosts
the embedded store fails the job, with an error naming the lost store,
within MYRIAD_STORE_LOST_AFTER.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from etcd_cluster import EtcdCluster, available
from ranks import HERE, REPO, launcher_env, myriad_bin
from slurm_cluster import free_ports

WORKER = str(HERE / "elastic_worker.py")
NODE_TIMEOUT = 180


def start_node(node: int, args: list[str], log_dir: Path, **env) -> subprocess.Popen:
    return subprocess.Popen([myriad_bin(), "run", "--log-dir", str(log_dir / f"n{node}"), *args], cwd=REPO,
                            env=launcher_env(MYRIAD_NODE_ID=f"n{node}", **env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(procs: list[subprocess.Popen]) -> list[str]:
    outs = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=NODE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            out += "\n(timed out)"
        outs.append(out)
    return outs


def events(log_dir: Path, node: int) -> list[dict]:
    path = log_dir / f"n{node}" / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def first_step_seen(log_dir: Path, node: int) -> bool:
    try:
        return any(e["event"] == "first_step" for e in events(log_dir, node))
    except (OSError, json.JSONDecodeError):
        return False


def final(out: str) -> float:
    found = re.search(r"final (\S+)$", out, re.M)
    assert found, out
    return float(found.group(1))


@pytest.fixture
def cluster():
    why = available()
    if why:
        pytest.skip(why)
    with EtcdCluster(members=3) as etcd:
        yield etcd


def etcd_args(cluster: EtcdCluster, rdzv_id: str, *extra: str) -> list[str]:
    return ["--rdzv-backend", "etcd", "--rdzv-endpoint", cluster.endpoints(), "--rdzv-id", rdzv_id,
            "--nnodes", "2", "--nproc-per-node", "1", *extra]


def test_two_nodes_train_through_etcd_and_a_leader_lost_during_the_rendezvous(cluster, tmp_path):
    reference = subprocess.run([myriad_bin(), "run", "-np", "2", WORKER, "none", str(tmp_path / "ref")], cwd=REPO,
                               env=launcher_env(), capture_output=True, text=True, timeout=NODE_TIMEOUT)
    assert reference.returncode == 0, reference.stdout + reference.stderr

    logs = tmp_path / "logs"
    args = etcd_args(cluster, "rdzv-leader", WORKER, "none", str(tmp_path / "ckpt"))
    first = start_node(0, args, logs)
    # Node 0 waits in the round for a second node; the leader goes meanwhile.
    assert wait_for(lambda: (logs / "n0" / "events.jsonl").exists(), 30)
    time.sleep(0.3)
    leader = cluster.leader()
    assert leader >= 0
    cluster.kill(leader)
    second = start_node(1, args, logs)
    outs = finish([first, second])
    assert first.returncode == 0 and second.returncode == 0, "\n".join(outs) + cluster.logs()
    # The same training as two ranks under the embedded store: same parameters.
    assert final(outs[0] + outs[1]) == pytest.approx(final(reference.stdout), rel=0, abs=1e-12)
    for node in (0, 1):
        names = [e["event"] for e in events(logs, node)]
        assert names.count("round_formed") == 1 and "failure_detected" not in names, names


def test_training_goes_on_when_the_etcd_leader_is_lost(cluster, tmp_path):
    logs = tmp_path / "logs"
    args = etcd_args(cluster, "train-leader", WORKER, "slow", str(tmp_path / "ckpt"))
    procs = [start_node(node, args, logs) for node in (0, 1)]
    assert wait_for(lambda: first_step_seen(logs, 0) and first_step_seen(logs, 1), 60), finish(procs)
    leader = cluster.leader()
    assert leader >= 0
    cluster.kill(leader)
    outs = finish(procs)
    assert all(p.returncode == 0 for p in procs), "\n".join(outs) + cluster.logs()
    for node in (0, 1):
        names = [e["event"] for e in events(logs, node)]
        assert names.count("round_formed") == 1 and "failure_detected" not in names, names
    assert len(re.findall(r'"restarts": 0', "".join(outs))) == 2, outs


def test_a_killed_rank_restarts_through_etcd(cluster, tmp_path):
    logs = tmp_path / "logs"
    args = etcd_args(cluster, "crash", "--max-restarts", "2", WORKER, "crash-once", str(tmp_path / "ckpt"))
    procs = [start_node(node, args, logs) for node in (0, 1)]
    outs = finish(procs)
    out = "\n".join(outs)
    assert all(p.returncode == 0 for p in procs), out
    assert "was killed by signal 9 (SIGKILL)" in out
    restored = re.findall(r"^\[rank \d\] restored step (\d+) from (\S+)$", out, re.M)
    assert sorted(step for step, _ in restored) == ["3", "3"], out
    for node in (0, 1):
        assert [e["event"] for e in events(logs, node)].count("round_formed") == 2


def test_losing_the_embedded_store_s_host_fails_the_job_naming_the_store(tmp_path):
    # No etcd: node 0's `myriad run` hosts the store at the endpoint, node 1 joins it.
    logs = tmp_path / "logs"
    port = free_ports(1)[0]
    bound = 3.0
    env = {"MYRIAD_TOKEN": "e" * 32, "MYRIAD_STORE_LOST_AFTER": f"{bound}s"}
    args = ["--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "embedded", "--nnodes", "2", "--nproc-per-node",
            "1", "--max-restarts", "3", WORKER, "slow", str(tmp_path / "ckpt")]
    host = start_node(0, args, logs, **env)
    assert wait_for(lambda: (logs / "n0" / "events.jsonl").exists(), 30), finish([host])
    other = start_node(1, args, logs, **env)
    assert wait_for(lambda: first_step_seen(logs, 1), 60), finish([host, other])
    os.killpg(host.pid, signal.SIGKILL)  # the whole node: launcher, store, agent, ranks
    lost_at = time.monotonic()
    out = finish([other])[0]
    took = time.monotonic() - lost_at
    finish([host])
    assert other.returncode != 0, out
    assert f"127.0.0.1:{port}" in out and "unreachable" in out, out
    # Within the bound, plus the ranks' stop and a monitor interval.
    assert took < bound + 15, (took, out)
    print(f"store lost: node 1 ended {took:.1f} s after its host: {out[-600:]}")
