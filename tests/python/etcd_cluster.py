"""A real etcd cluster on this machine for the tests: N members, each its
own `etcd` process on loopback with its own client and peer ports and a
data directory under /dev/shm, stopped by pid afterwards.

    with EtcdCluster(members=3) as cluster:
        run(["myriad", "run", "--rdzv-backend", "etcd",
             "--rdzv-endpoint", cluster.endpoints(), ...])
        cluster.kill(cluster.leader())

Requires Debian's etcd-server; `available()` says why not.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from slurm_cluster import free_ports

START_TIMEOUT = 30.0


def available() -> str:
    """Empty when a cluster can be started here, else why not."""
    if shutil.which("etcd") is None:
        return "etcd is not installed (Debian's etcd-server; scripts/setup.sh installs it)"
    return ""


class EtcdCluster:
    def __init__(self, members: int = 3):
        self.dir = Path(tempfile.mkdtemp(prefix="myriad-etcd-", dir="/dev/shm"))
        ports = free_ports(2 * members)
        self.names = [f"m{i}" for i in range(members)]
        self.client_ports = ports[:members]
        self.peer_ports = ports[members:]
        self.procs: list[subprocess.Popen | None] = [None] * members

    def __enter__(self) -> "EtcdCluster":
        initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(self.names, self.peer_ports))
        for i, name in enumerate(self.names):
            client = f"http://127.0.0.1:{self.client_ports[i]}"
            peer = f"http://127.0.0.1:{self.peer_ports[i]}"
            log = open(self.dir / f"{name}.log", "wb")
            self.procs[i] = subprocess.Popen(
                ["etcd", "--name", name, "--data-dir", str(self.dir / name),
                 "--listen-client-urls", client, "--advertise-client-urls", client,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", initial, "--initial-cluster-state", "new",
                 "--initial-cluster-token", "myriad-test",
                 "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
        if not self.wait_for_leader(START_TIMEOUT):
            logs = self.logs()
            self.stop()
            raise RuntimeError(f"the etcd cluster elected no leader in {START_TIMEOUT} s:\n{logs}")
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def endpoints(self) -> str:
        """HOST:PORT,... of every member's client URL (torchrun's --rdzv-endpoint for etcd)."""
        return ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    def alive(self, member: int) -> bool:
        proc = self.procs[member]
        return proc is not None and proc.poll() is None

    def _status(self, member: int) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.client_ports[member]}/v3/maintenance/status", data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=1) as reply:
            return json.load(reply)

    def leader(self) -> int:
        """The index of the member that leads now, or -1."""
        ids, leader = {}, None
        for i in range(len(self.names)):
            if not self.alive(i):
                continue
            try:
                status = self._status(i)
            except OSError:
                continue
            ids[status["header"]["member_id"]] = i
            if status.get("leader", "0") != "0":
                leader = status["leader"]
        return ids.get(leader, -1)

    def wait_for_leader(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.leader() >= 0:
                return True
            time.sleep(0.05)
        return False

    def kill(self, member: int) -> None:
        proc = self.procs[member]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def logs(self) -> str:
        return "".join(f"--- {p.name}:\n{p.read_text(errors='replace')}" for p in sorted(self.dir.glob("*.log")))

    def stop(self) -> None:
        for i in range(len(self.names)):
            self.kill(i)
        shutil.rmtree(self.dir, ignore_errors=True)
