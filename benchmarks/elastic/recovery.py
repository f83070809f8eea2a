#!/usr/bin/env python3
"""Recovery after kill -9 of a worker: `myriad run` against `torchrun`.

Runs benchmarks/elastic/train_ckpt.py with the same model and state
(default 5 x 4096^2 MLP, Adam: 336 MiB of parameters, 1.0 GiB of
checkpointed state) under

  A  myriad run -np 2 --max-restarts 3 ... --backend myriad --ckpt myriad
  B  torchrun --nproc-per-node 2 --max-restarts 3 --rdzv-backend c10d
       --rdzv-endpoint 127.0.0.1:<free port> ... --backend gloo --ckpt dcp
  C  (optional) as A with --backend gloo: the elastic machinery alone
  P  (optional) as A with --preload torch,torch._dynamo: ranks are forked
       from a per-node process that has imported both (docs/elastic.md)

interleaved (A, B, A, B, ...). In each trial it waits until a checkpoint
is committed and two more steps are done, kill -9s rank 1 (its pid comes
from the script's pid file), and measures from the kill to the first
training step completed after the restart (the slowest rank), split into:

  detect      kill -> the launcher saw it (A: the ledger's failure_detected;
              B: torchrun's "Sending process ... closing signal" line)
  stop        -> every worker reaped (A: workers_stopped; B: torchrun's
              "Rendezvous'ing worker group" line, logged after the stop)
  rendezvous  -> the new round formed (A: round_formed; B: "Rendezvous complete")
  launch      -> the last rank's first line of Python ran (fork, exec, interpreter)
  import      -> torch (and torch._dynamo, which the first optimizer imports) imported
  pg          -> init_process_group returned
  model       -> model and optimizer built (336 MiB of parameters initialised)
  restore     -> checkpoint loaded into them (A: myriad.checkpoint.load; B: DCP load)
  warm-up     -> the first step done (DDP construction: a broadcast; one step)

Each boundary is the latest rank's; launcher events come from the ledger
(A) or from torchrun's own log timestamps (B, LOGLEVEL=INFO; milliseconds).
torchrun runs with TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1: without it the
restarted ranks of this torch read the previous attempt's gloo addresses
from the agent's shared store and fail to connect (pytorch/pytorch#135712).

    python3 benchmarks/elastic/recovery.py --pairs 5 --out /tmp/recovery
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PHASES = ["detect", "stop", "rendezvous", "launch", "import", "pg", "model", "restore", "warm-up"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_jsonl(path: str) -> list[dict]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return out


def loadavg() -> str:
    return open("/proc/loadavg").read().split()[0]


def command(variant: str, args, trial_dir: str) -> tuple[list[str], dict]:
    train = [os.path.join(HERE, "train_ckpt.py"), "--width", str(args.width), "--layers", str(args.layers),
             "--batch", str(args.batch), "--threads", "1", "--ckpt-every", str(args.ckpt_every),
             "--ckpt-dir", os.path.join(trial_dir, "ckpt"), "--timing-dir", os.path.join(trial_dir, "t")]
    env = dict(os.environ)
    if variant in ("A", "C", "P"):
        backend = "gloo" if variant == "C" else "myriad"
        preload = ["--preload", "torch,torch._dynamo"] if variant == "P" else []
        return ([args.myriad, "run", "-np", "2", "--max-restarts", "3", *preload, "--log-dir",
                 os.path.join(trial_dir, "log"), args.python, *train, "--backend", backend, "--ckpt", "myriad"], env)
    env["LOGLEVEL"] = "INFO"
    env["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] = "1"
    return ([args.torchrun, "--nproc-per-node", "2", "--max-restarts", "3", "--rdzv-backend", "c10d",
             "--rdzv-endpoint", f"127.0.0.1:{free_port()}", *train, "--backend", "gloo", "--ckpt", "dcp"], env)


TORCHRUN_LINE = re.compile(r"^[IWE](\d\d)(\d\d) (\d\d):(\d\d):(\d\d\.\d+) ")


def torchrun_time(line: str, year: int) -> float | None:
    """The timestamp torchrun's logger puts on a line (local time; this machine runs in UTC)."""
    m = TORCHRUN_LINE.match(line)
    if not m:
        return None
    month, day, hour, minute, sec = m.groups()
    base = calendar.timegm((year, int(month), int(day), int(hour), int(minute), 0, 0, 0, 0)) if time.timezone == 0 \
        else time.mktime((year, int(month), int(day), int(hour), int(minute), 0, 0, 0, -1))
    return base + float(sec)


def run_trial(variant: str, index: int, args) -> dict:
    trial_dir = os.path.join(args.out, f"{index:02d}-{variant}")
    shutil.rmtree(trial_dir, ignore_errors=True)
    os.makedirs(trial_dir)
    cmd, env = command(variant, args, trial_dir)
    with open(os.path.join(trial_dir, "command"), "w") as f:
        f.write(" ".join(cmd) + "\n")
    lines: list[tuple[float, str]] = []
    job = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                           start_new_session=True, bufsize=1)

    def reader():
        with open(os.path.join(trial_dir, "output"), "w") as out:
            for line in job.stdout:
                t = time.time()
                lines.append((t, line.rstrip("\n")))
                out.write(f"{t:.6f} {line}")

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    timings_path = os.path.join(trial_dir, "t", "timings.jsonl")
    result = {"variant": variant, "index": index, "dir": trial_dir, "load_start": loadavg()}
    deadline = time.time() + args.trial_timeout
    kill_t = None
    try:
        # Wait for a committed checkpoint (both ranks) and two more steps after it.
        while time.time() < deadline and job.poll() is None:
            time.sleep(0.05)
            ts = [t for t in read_jsonl(timings_path) if t["restart"] == 0]
            committed = [t["step"] for t in ts if t["what"] == "ckpt_committed"]
            ranks_committed = {(t["rank"], t["step"]) for t in ts if t["what"] == "ckpt_committed"}
            good = [s for s in committed if (0, s) in ranks_committed and (1, s) in ranks_committed]
            if not good:
                continue
            c = max(good)
            done = {t["rank"] for t in ts if t["what"] == "step" and t["step"] >= c + 2}
            if done == {0, 1}:
                pid = int(open(os.path.join(trial_dir, "t", "pid.rank-1.restart-0")).read())
                result["load_kill"] = loadavg()
                kill_t = time.time()
                os.kill(pid, signal.SIGKILL)
                result.update(kill_t=kill_t, ckpt_step=c, killed_pid=pid)
                break
        if kill_t is None:
            raise RuntimeError(f"trial {index} {variant}: no checkpoint and steps in time; see {trial_dir}")
        # Wait for the first step of the restarted ranks.
        while time.time() < deadline and job.poll() is None:
            time.sleep(0.1)
            ts = [t for t in read_jsonl(timings_path) if t["restart"] == 1 and t["what"] == "first_step"]
            if {t["rank"] for t in ts} == {0, 1}:
                break
        else:
            raise RuntimeError(f"trial {index} {variant}: no first step after the restart; see {trial_dir}")
    finally:
        stop(job, trial_dir)
        thread.join(timeout=10)
    result.update(phases(variant, trial_dir, kill_t, lines))
    return result


def stop(job: subprocess.Popen, trial_dir: str) -> None:
    if job.poll() is None:
        os.killpg(job.pid, signal.SIGTERM)
        try:
            job.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    # Ranks that outlived their launcher (they should not): ours, by their pid files.
    tdir = os.path.join(trial_dir, "t")
    for name in os.listdir(tdir) if os.path.isdir(tdir) else []:
        if name.startswith("pid."):
            try:
                os.kill(int(open(os.path.join(tdir, name)).read()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
    shutil.rmtree(os.path.join(trial_dir, "ckpt"), ignore_errors=True)  # 1 GiB per trial


def phases(variant: str, trial_dir: str, kill_t: float, lines: list[tuple[float, str]]) -> dict:
    ts = [t for t in read_jsonl(os.path.join(trial_dir, "t", "timings.jsonl")) if t["restart"] == 1]

    def latest(what):
        return max(t["t"] for t in ts if t["what"] == what)

    restore = [t for t in ts if t["what"] == "restore_done"]
    out = {"source": "+".join(sorted({t["source"] for t in restore})),
           "restored_step": min(t["step"] for t in restore),
           "load_seconds": max(t["seconds"] for t in restore)}
    if variant in ("A", "C", "P"):
        events = read_jsonl(os.path.join(trial_dir, "log", "events.jsonl"))

        def ev(name, g, pick):
            return pick(e["t"] for e in events if e.get("event") == name and e.get("generation") == g)

        detected = ev("failure_detected", 0, min)
        stopped = ev("workers_stopped", 0, max)
        formed = ev("round_formed", 1, max)
        out["fault_t"] = min(e["fault_t"] for e in events if e.get("event") == "failure_detected")
    else:
        year = time.gmtime(kill_t).tm_year
        after = [(torchrun_time(line, year), line) for _, line in lines]
        after = [(t, line) for t, line in after if t is not None and t >= kill_t - 0.002]

        def first(pattern):
            return min(t for t, line in after if pattern in line)

        detected = first("closing signal")
        stopped = first("Rendezvous'ing worker group")
        formed = first("Rendezvous complete")
    points = [kill_t, detected, stopped, formed, latest("process_start"), latest("imported"), latest("pg_ready"),
              latest("model_ready"), latest("restore_done"), latest("first_step")]
    out["phases"] = dict(zip(PHASES, [b - a for a, b in zip(points, points[1:])]))
    out["total"] = points[-1] - kill_t
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="/tmp/myriad-recovery")
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--variants", default="A,B", help="interleaved in this order in every round (A, B, C, P)")
    p.add_argument("--width", type=int, default=4096)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--ckpt-every", type=int, default=5)
    p.add_argument("--trial-timeout", type=float, default=300)
    p.add_argument("--myriad", default=os.path.join(ROOT, "build/release/launcher/myriad"))
    p.add_argument("--python", default="/opt/myriad/venv/bin/python")
    p.add_argument("--torchrun", default="/opt/myriad/venv/bin/torchrun")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    variants = args.variants.split(",")
    state = 3 * 4 * (args.layers * (args.width * args.width + args.width) + args.width * 10 + 10)
    print(f"# state {state / 2**30:.2f} GiB (model + Adam), 2 ranks, 1 thread each; variants {variants}; "
          f"{args.pairs} rounds; load at start {open('/proc/loadavg').read().strip()}", flush=True)
    results = []
    index = 0
    for r in range(args.pairs):
        for v in variants:
            res = run_trial(v, index, args)
            index += 1
            results.append(res)
            ph = " ".join(f"{k} {x:.2f}" for k, x in res["phases"].items())
            print(f"{res['index']:2d} {v}: total {res['total']:.2f} s | {ph} | restored step {res['restored_step']} "
                  f"from {res['source']} (load {res['load_seconds']:.2f} s) | load avg {res['load_kill']}", flush=True)
            with open(os.path.join(args.out, "results.json"), "w") as f:
                json.dump(results, f, indent=1)
    print(f"\n# medians over {args.pairs} trials each (s); load at end {open('/proc/loadavg').read().strip()}")
    print("| phase | " + " | ".join(variants) + " |")
    print("| --- |" + " --- |" * len(variants))
    for ph in PHASES + ["total"]:
        cells = []
        for v in variants:
            xs = [r["total"] if ph == "total" else r["phases"][ph] for r in results if r["variant"] == v]
            cells.append(f"{statistics.median(xs):.3f}")
        print(f"| {ph} | " + " | ".join(cells) + " |")
    for m in (v for v in ("A", "P") if v in variants and "B" in variants):
        a = [r["total"] for r in results if r["variant"] == m]
        b = [r["total"] for r in results if r["variant"] == "B"]
        pairs = [y / x for x, y in zip(a, b)]
        print(f"\nB/{m} (torchrun/myriad) end to end: ratio of medians {statistics.median(b) / statistics.median(a):.2f}; "
              f"per-pair ratios median {statistics.median(pairs):.2f} [{min(pairs):.2f}-{max(pairs):.2f}]")
        ea = [r["total"] - r["phases"]["launch"] - r["phases"]["import"] for r in results if r["variant"] == m]
        eb = [r["total"] - r["phases"]["launch"] - r["phases"]["import"] for r in results if r["variant"] == "B"]
        print(f"without process launch and imports: {m} {statistics.median(ea):.3f} s, B {statistics.median(eb):.3f} s, "
              f"ratio of medians {statistics.median(eb) / statistics.median(ea):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
