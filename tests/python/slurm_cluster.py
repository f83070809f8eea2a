"""A real Slurm cluster on this machine for the tests: munged, slurmctld and
one slurmd per emulated node (NodeName n1..nN, all on 127.0.0.1 with their
own ports), in a temporary directory, stopped by pid afterwards.

    with SlurmCluster(nodes=2) as cluster:
        cluster.run(["salloc", "-N2", "myriad", "run", ...])

Requires root and Debian's slurm-wlm and munge; `available()` says why not.
Every server listens on loopback only (NoInAddrAny, NoCtldInAddrAny).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 30.0


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def available() -> str:
    """Empty when a cluster can be started here, else why not."""
    if os.geteuid() != 0:
        return "the Slurm fixture runs slurmd as root"
    for tool in ("munged", "slurmctld", "slurmd", "srun", "salloc", "sbatch", "sinfo"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian's slurm-wlm and munge; scripts/setup.sh installs them)"
    return ""


class SlurmCluster:
    def __init__(self, nodes: int = 2, cpus: int = 4):
        self.nodes = nodes
        self.cpus = cpus
        self.dir = Path(tempfile.mkdtemp(prefix="myriad-slurm-"))
        self.procs: list[subprocess.Popen] = []
        self.env = dict(os.environ)

    # --- set-up -------------------------------------------------------------
    def _write_config(self) -> None:
        d = self.dir
        for sub in ("state", "spool", "log", "munge"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d / "munge", 0o711)  # munged wants its socket's directory searchable
        key = d / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        ctld_port, *node_ports = free_ports(1 + self.nodes)
        # Consecutive ports are not guaranteed free; each node gets its own line instead of a range.
        node_lines = "\n".join(
            f"NodeName=n{i + 1} NodeHostname=localhost NodeAddr=127.0.0.1 Port={port} CPUs={self.cpus} "
            f"RealMemory=1000 State=UNKNOWN"
            for i, port in enumerate(node_ports)
        )
        (d / "slurm.conf").write_text(
            f"""ClusterName=myriadtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={d}/munge/munge.sock
CredType=cred/munge
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
# Emulated nodes may claim more CPUs than the machine has.
SlurmdParameters=config_overrides
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd-%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd-%n.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=2
MinJobAge=2
{node_lines}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
        )
        for i in range(self.nodes):
            (d / "spool" / f"n{i + 1}").mkdir(exist_ok=True)
        self.env["SLURM_CONF"] = str(d / "slurm.conf")

    def _start(self, argv: list[str]) -> subprocess.Popen:
        log = open(self.dir / "log" / (Path(argv[0]).name + f"-{len(self.procs)}.out"), "w")
        proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def __enter__(self) -> "SlurmCluster":
        try:
            self._write_config()
            m = self.dir / "munge"
            self._start(["munged", "--foreground", "--force", f"--socket={m}/munge.sock",
                         f"--key-file={m}/munge.key", f"--log-file={m}/munged.log",
                         f"--pid-file={m}/munged.pid", f"--seed-file={m}/munge.seed"])
            self._wait_for(lambda: (m / "munge.sock").exists(), "munged's socket")
            conf = self.env["SLURM_CONF"]
            self._start(["slurmctld", "-D", "-i", "-f", conf])
            for i in range(self.nodes):
                self._start(["slurmd", "-D", "-f", conf, "-N", f"n{i + 1}"])
            self._wait_for(self._all_idle, f"{self.nodes} idle Slurm node(s)")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_for(self, condition, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if condition():
                return
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} while waiting for {what}:\n"
                                       + self.logs())
            time.sleep(0.1)
        raise RuntimeError(f"no {what} after {START_TIMEOUT} s:\n" + self.logs())

    def _all_idle(self) -> bool:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], env=self.env, capture_output=True, text=True)
        states = [line.split()[1] for line in out.stdout.splitlines() if line.strip()]
        return len(states) == self.nodes and all(s == "idle" for s in states)

    def logs(self) -> str:
        text = []
        for path in sorted((self.dir / "log").glob("*")):
            text.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(text)

    # --- use ----------------------------------------------------------------
    def run(self, argv: list[str], timeout: float = 240, env: dict[str, str] | None = None,
            cwd: str | None = None) -> subprocess.CompletedProcess:
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run(argv, env=e, capture_output=True, text=True, timeout=timeout, cwd=cwd)

    # --- tear-down ----------------------------------------------------------
    def __exit__(self, *exc) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
