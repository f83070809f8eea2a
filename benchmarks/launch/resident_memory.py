#!/usr/bin/env python3
"""Resident memory of Myriad's long-lived processes against torch's, side by side.

Measures VmRSS and VmHWM (from /proc/<pid>/status) of:

  store  A: `myriad store` serving, idle
         B: a torch TCPStore server (`python -c ...`, torch.distributed.TCPStore)
  agent  A: an idle `myriad agent` of a 2-node job with 1 node (waiting in
            its rendezvous), on A's store
         B: an idle torchrun agent of a 2-node job with 1 node (c10d
            rendezvous, waiting), on B's store
  rank   A: a rank of `myriad run -np 2 myriad bench coll` (native backend,
            4 KiB all-reduces): its peak (ru_maxrss through /usr/bin/time)

Each measurement is repeated --repeats times, interleaved A,B; the median of
each is printed with the spread (min..max). Pass --myriad twice as
--myriad-before to print an earlier build's figures in the same run.

    python3 benchmarks/launch/resident_memory.py --myriad build/hB/launcher/myriad
    python3 benchmarks/launch/resident_memory.py --myriad build/hB/launcher/myriad \\
        --myriad-before build/release/launcher/myriad --repeats 5

Standard library only (torch is used by the peer's own interpreter). Exits
non-zero if any process fails to start.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_REPEATS = 3
DEFAULT_PYTHON = "/opt/myriad/venv/bin/python"
START_TIMEOUT_S = 60
# After a process is ready it is left this long before it is read: an idle
# agent polls its store, and lazily touched pages arrive in the first
# moments.
SETTLE_S = 1.5
TOKEN = "resident-memory-benchmark"

TORCH_STORE = (
    "import sys, time, torch.distributed as d\n"
    "s = d.TCPStore('127.0.0.1', 0, is_master=True, wait_for_workers=False)\n"
    "print('PORT', s.port, flush=True)\n"
    "time.sleep(3600)\n")


def status_kb(pid):
    """{'VmRSS': kB, 'VmHWM': kB} of a live process."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def wait_for_line(proc, pattern):
    """The first match of `pattern` in the process's stdout; raises on exit or timeout."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.wait()} before printing {pattern!r}")
        match = re.search(pattern, line)
        if match:
            return match
    raise RuntimeError(f"{proc.args[0]} did not print {pattern!r} within {START_TIMEOUT_S}s")


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure_idle(proc):
    time.sleep(SETTLE_S)
    if proc.poll() is not None:
        raise RuntimeError(f"{' '.join(proc.args)} exited with {proc.returncode} while idle")
    return status_kb(proc.pid)


def myriad_store_and_agent(myriad):
    store = subprocess.Popen([myriad, "store", "--port", "0", "--host", "127.0.0.1", "--token", TOKEN],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        endpoint = wait_for_line(store, r"MYRIAD_STORE=(\S+)").group(1)
        store_kb = measure_idle(store)
        env = dict(os.environ, MYRIAD_TOKEN=TOKEN)
        agent = subprocess.Popen([myriad, "agent", "--rdzv-endpoint", endpoint, "--nnodes", "2",
                                  "--nproc-per-node", "1", "true"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            agent_kb = measure_idle(agent)
        finally:
            stop(agent)
        return store_kb, agent_kb
    finally:
        stop(store)


def torch_store_and_agent(python, torchrun):
    store = subprocess.Popen([python, "-c", TORCH_STORE], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        port = wait_for_line(store, r"PORT (\d+)").group(1)
        store_kb = measure_idle(store)
        # The torch TCPStore above is the rendezvous endpoint, as myriad's
        # store is for the myriad agent; the job waits for a second node.
        agent = subprocess.Popen([torchrun, "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
                                  "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "resident-memory",
                                  "--no-python", "true"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # torch's import takes a few seconds before the agent is idle.
            time.sleep(4)
            agent_kb = measure_idle(agent)
        finally:
            stop(agent)
        return store_kb, agent_kb
    finally:
        stop(store)


def myriad_rank(myriad):
    """Peak resident kB of each rank of a 2-rank native-backend job."""
    time_bin = shutil.which("time", path="/usr/bin") or sys.exit("/usr/bin/time not found")
    with tempfile.TemporaryDirectory() as tmp:
        # Each rank writes its own peak to rank.<RANK>, through time -o.
        argv = [myriad, "run", "-np", "2", "sh", "-c",
                f'exec {time_bin} -f "maxrss_kb %M" -o {tmp}/rank.$RANK "$0" "$@"',
                myriad, "bench", "coll", "-b", "4K", "-e", "4K", "-n", "100", "-w", "10"]
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"myriad run exited with {done.returncode}: {done.stderr[-2000:]}")
        peaks = []
        for name in sorted(os.listdir(tmp)):
            with open(os.path.join(tmp, name)) as f:
                peaks.append(int(re.search(r"maxrss_kb (\d+)", f.read()).group(1)))
        return peaks


def summary(values_kb):
    mb = [v / 1024 for v in values_kb]
    return f"{statistics.median(mb):7.1f} MB  ({min(mb):.1f}..{max(mb):.1f}, n={len(mb)})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--myriad", required=True, help="the myriad binary measured")
    parser.add_argument("--myriad-before", help="an earlier build's myriad binary, measured in the same run")
    parser.add_argument("--python", default=DEFAULT_PYTHON, help="interpreter with torch (the peer)")
    parser.add_argument("--torchrun", help="torchrun (default: beside --python)")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    args = parser.parse_args()
    torchrun = args.torchrun or os.path.join(os.path.dirname(args.python), "torchrun")

    builds = [("myriad", args.myriad)] + ([("before", args.myriad_before)] if args.myriad_before else [])
    rows = {}
    for _ in range(args.repeats):
        for label, binary in builds:
            store_kb, agent_kb = myriad_store_and_agent(binary)
            rows.setdefault(f"{label} store VmRSS", []).append(store_kb["VmRSS"])
            rows.setdefault(f"{label} store VmHWM", []).append(store_kb["VmHWM"])
            rows.setdefault(f"{label} agent VmRSS", []).append(agent_kb["VmRSS"])
            rows.setdefault(f"{label} agent VmHWM", []).append(agent_kb["VmHWM"])
            rows.setdefault(f"{label} rank  VmHWM", []).extend(myriad_rank(binary))
        store_kb, agent_kb = torch_store_and_agent(args.python, torchrun)
        rows.setdefault("torch TCPStore VmRSS", []).append(store_kb["VmRSS"])
        rows.setdefault("torch TCPStore VmHWM", []).append(store_kb["VmHWM"])
        rows.setdefault("torchrun agent VmRSS", []).append(agent_kb["VmRSS"])
        rows.setdefault("torchrun agent VmHWM", []).append(agent_kb["VmHWM"])

    for label, binary in builds:
        print(f"{label}: {binary}")
    print(f"repeats: {args.repeats}, interleaved; medians (min..max); MB = 2^20 bytes")
    for name, values in rows.items():
        print(f"{name:24s} {summary(values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
