#!/usr/bin/env python3
"""Goodput of a `myriad run` under a kill -9 every --interval seconds.

Runs benchmarks/elastic/train_ckpt.py (checkpoints through
myriad.checkpoint) under `myriad run -np 2 --max-restarts R --timeout
DURATION --log-dir OUT/log`, kills one worker (random rank, SIGKILL) every
--interval seconds, and when the job has ended prints the ledger's summary
(the goodput lines `myriad run` prints) and, per failure, where the time
went: kill -> failure_detected -> workers_stopped -> round_formed -> the
ranks' process start -> torch imported -> process group ready -> restore
done -> first step (the ledger's events and the script's own timings).

    python3 benchmarks/elastic/goodput.py --out /tmp/goodput [--duration 600 --interval 60]
    python3 benchmarks/elastic/goodput.py --out /tmp/goodput0 --myriad-args "--node-cooldown 0s"
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def read_jsonl(path: str) -> list[dict]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass  # a torn last line
    except FileNotFoundError:
        pass
    return out


def alive_pid(path: str) -> int | None:
    try:
        pid = int(open(path).read())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--duration", type=int, default=600, help="seconds the job runs (myriad run --timeout)")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between kills")
    p.add_argument("--myriad", default=os.path.join(ROOT, "build/release/launcher/myriad"))
    p.add_argument("--python", default="/opt/myriad/venv/bin/python")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--myriad-args", default="", help="extra options of myriad run, e.g. '--node-cooldown 0s'")
    p.add_argument("--train-args", default="--width 2048 --layers 3 --batch 32 --ckpt-every 10 --threads 1",
                   help="extra arguments of train_ckpt.py")
    args = p.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    tdir, ldir, cdir = (os.path.join(args.out, d) for d in ("t", "log", "ckpt"))
    cmd = [args.myriad, "run", "-np", "2", "--max-restarts", "100", "--timeout", f"{args.duration}s",
           "--log-dir", ldir, *args.myriad_args.split(), args.python, os.path.join(HERE, "train_ckpt.py"), "--ckpt", "myriad",
           "--ckpt-dir", cdir, "--timing-dir", tdir, *args.train_args.split()]
    print("$ " + " ".join(cmd), flush=True)
    print("load before: " + open("/proc/loadavg").read().strip(), flush=True)
    log = open(os.path.join(args.out, "run.log"), "w")
    start = time.time()
    job = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    kills = []
    next_kill = start + args.interval
    while job.poll() is None:
        time.sleep(0.2)
        if time.time() < next_kill or time.time() > start + args.duration - 5:
            continue
        timings = read_jsonl(os.path.join(tdir, "timings.jsonl"))
        generation = max((t["restart"] for t in timings), default=0)
        if not any(t["what"] == "first_step" and t["restart"] == generation for t in timings):
            continue  # still restarting: kill once this round trains
        rank = rng.randrange(2)
        pid = alive_pid(os.path.join(tdir, f"pid.rank-{rank}.restart-{generation}"))
        if pid is None:
            continue
        t = time.time()
        os.kill(pid, signal.SIGKILL)
        kills.append({"t": t, "rank": rank, "pid": pid, "generation": generation})
        print(f"{t - start:7.1f} s: kill -9 rank {rank} (pid {pid}), generation {generation}; "
              f"load {open('/proc/loadavg').read().split()[0]}", flush=True)
        next_kill = t + args.interval
    log.close()
    print("load after: " + open("/proc/loadavg").read().strip(), flush=True)
    with open(os.path.join(args.out, "kills.json"), "w") as f:
        json.dump(kills, f)
    text = open(os.path.join(args.out, "run.log")).read()
    print("myriad run exit code", job.returncode)
    for line in text.splitlines():
        if line.startswith("goodput:") or line.startswith("lost:"):
            print(line)
    breakdown(kills, read_jsonl(os.path.join(ldir, "events.jsonl")), read_jsonl(os.path.join(tdir, "timings.jsonl")))
    return 0


def breakdown(kills: list[dict], events: list[dict], timings: list[dict]) -> None:
    """Per kill: the phases from the ledger and the ranks' timings."""
    phases = ["detect", "stop", "rendezvous", "exec", "import", "pg", "model", "restore", "first step", "total"]
    rows = []
    ledger_detect = []  # what the ledger counts as detection: fault_t -> failure_detected
    for k in kills:
        g = k["generation"]

        def ev(name, gen, pick=min):
            ts = [e["t"] for e in events if e.get("event") == name and e.get("generation") == gen]
            return pick(ts) if ts else None

        def tm(what, pick=max):
            ts = [t["t"] for t in timings if t["what"] == what and t["restart"] == g + 1]
            return pick(ts) if ts else None

        points = [k["t"], ev("failure_detected", g), ev("workers_stopped", g, max), ev("round_formed", g + 1, max),
                  tm("process_start", min), tm("imported"), tm("pg_ready"), tm("model_ready"), tm("restore_done"),
                  tm("first_step")]
        if any(x is None for x in points):
            continue
        faults = [e["fault_t"] for e in events if e.get("event") == "failure_detected" and e.get("generation") == g]
        ledger_detect.append(points[1] - min(faults))
        row = [b - a for a, b in zip(points, points[1:])] + [points[-1] - points[0]]
        rows.append(row)
    if not rows:
        print("no complete recovery to break down")
        return
    print(f"per recovery (s), median over {len(rows)} kills [min-max]:")
    for i, name in enumerate(phases):
        col = [r[i] for r in rows]
        print(f"  {name:11s} {statistics.median(col):7.3f}  [{min(col):.3f}-{max(col):.3f}]")
    print(f"  (the ledger's detection, fault_t -> failure_detected: median {statistics.median(ledger_detect):.3f} s)")
    cooldowns = [e for e in events if e.get("event") == "node_excluded"]
    print(f"node cooldowns (node_excluded; the ledger counts them as rendezvous): {len(cooldowns)}, "
          f"{sum(e.get('cooldown_s', 0) for e in cooldowns):.1f} s in all: "
          + ", ".join(f"{e.get('cooldown_s', 0):.0f}" for e in cooldowns))


if __name__ == "__main__":
    sys.exit(main())
