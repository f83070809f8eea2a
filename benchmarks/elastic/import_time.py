#!/usr/bin/env python3
"""Import time of a rank under `myriad run -np 2` against `torchrun
--nproc-per-node 2`, interleaved (A, B, A, B, ...): the part of a restart
that the launcher does not control, except through the environment and
the scheduler: with sched_autogroup_enabled (Debian's default) every
session is one scheduling group, and torchrun starts each worker in a
session of its own while `myriad run`'s ranks share the launcher's, so on
a machine shared with other sessions torchrun's workers get more CPU.
--plain adds two bare `python` processes in one session (C) and in a
session each (D) to show it without either launcher.

    python3 benchmarks/elastic/import_time.py --pairs 5 [--omp1] [--plain] [--b-first]

--omp1 runs `myriad run` with OMP_NUM_THREADS=1, which torchrun sets for
its workers by default.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def probe(cmd: list[str], env: dict) -> list[dict]:
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300).stdout
    # Two processes sharing a pipe may interleave their lines: decode each record where it starts.
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(part)[0] for part in out.split("@probe ")[1:]]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--omp1", action="store_true")
    p.add_argument("--plain", action="store_true",
                   help="also two plain `python` processes in this session (C) and each in its own (setsid, D)")
    p.add_argument("--b-first", action="store_true", help="run torchrun first in each pair")
    p.add_argument("--myriad", default=os.path.join(ROOT, "build/release/launcher/myriad"))
    p.add_argument("--python", default="/opt/myriad/venv/bin/python")
    p.add_argument("--torchrun", default="/opt/myriad/venv/bin/torchrun")
    args = p.parse_args()
    script = os.path.join(HERE, "import_probe.py")
    res: dict[str, list[float]] = {"A": [], "B": [], "C": [], "D": []}
    for i in range(args.pairs):
        env = dict(os.environ)
        a_cmd = [args.myriad, "run", "-np", "2"] + (["-x", "OMP_NUM_THREADS=1"] if args.omp1 else []) + [
            args.python, script]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        b_cmd = [args.torchrun, "--nproc-per-node", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint",
                 f"127.0.0.1:{port}", script]
        c_cmd = ["sh", "-c", f"RANK=0 {args.python} {script} & RANK=1 {args.python} {script}; wait"]
        order = [("B", b_cmd), ("A", a_cmd)] if args.b_first else [("A", a_cmd), ("B", b_cmd)]
        d_cmd = ["sh", "-c", f"RANK=0 setsid {args.python} {script} & RANK=1 setsid {args.python} {script}; wait"]
        if args.plain:
            order += [("C", c_cmd), ("D", d_cmd)]
        for name, cmd in order:
            ranks = probe(cmd, env)
            worst = max(ranks, key=lambda r: r["total"])
            res[name].append(worst["total"])
            print(f"{i} {name}: slowest rank {worst['total']:.2f} s (torch {worst['torch']:.2f}, dynamo "
                  f"{worst['dynamo']:.2f}, myriad {worst['myriad']:.2f}; threads {worst['threads']}, env "
                  f"{worst['env']}); load {open('/proc/loadavg').read().split()[0]}", flush=True)
    a, b = statistics.median(res["A"]), statistics.median(res["B"])
    ratios = [x / y for x, y in zip(res["A"], res["B"])]
    print(f"median: myriad run {a:.2f} s, torchrun {b:.2f} s; A/B ratio of medians {a / b:.2f}, "
          f"per-pair median {statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
    if res["C"]:
        c, d = statistics.median(res["C"]), statistics.median(res["D"])
        print(f"plain python x2, one session: {c:.2f} s; each in its own session (setsid): {d:.2f} s; "
              f"C/D {c / d:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
