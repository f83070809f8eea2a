#!/usr/bin/env python3
"""One rendezvous round of N real `myriad agent` processes (worker `true`)
against one `myriad store` on 127.0.0.1, the setting in which the round
once took 14.7 s at 64 agents and never formed at 256 (docs/BENCHMARKS.md,
"Rendezvous with agent processes").

For each N: starts `myriad store`, then N agents at once (`--nnodes N
--nproc-per-node 1 --events FILE true`), waits for all to exit, and reads
every agent's `round_formed` event: `join_s` is how long its next_round()
took. The smallest is the round as seen by the last agent to arrive (from
its arrival to the formed round, a last call included), the largest
includes the other agents' start-up. Also the wall time from the first
spawn to the last exit. No peer here: torchrun agents import torch (about
2 CPU-seconds each), which 2 cores cannot do for hundreds; the peer at
scale is benchmarks/compare/rendezvous_vs_torch.py.

    benchmarks/launch/agents_rendezvous.py --myriad build/release/launcher/myriad
        [--agents 8,64,256] [--repeat 3]
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

TOKEN = "agents-rendezvous-token"


def one_round(myriad, n, tmp):
    store = subprocess.Popen([myriad, "store", "--port", "0", "--host", "127.0.0.1", "--token", TOKEN],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = store.stdout.readline()
    port = re.search(r"serving on 127\.0\.0\.1:(\d+)", line)
    assert port, line
    env = dict(os.environ, MYRIAD_TOKEN=TOKEN)
    rdzv = f"bench-{n}-{time.monotonic_ns()}"
    start = time.monotonic()
    agents = []
    for k in range(n):
        agents.append(subprocess.Popen(
            [myriad, "agent", "--rdzv-endpoint", f"127.0.0.1:{port.group(1)}", "--rdzv-id", rdzv,
             "--nnodes", str(n), "--nproc-per-node", "1", "--node-id", f"n{k}", "--events",
             str(tmp / f"{rdzv}-{k}.jsonl"), "true"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    failed = []
    for k, agent in enumerate(agents):
        _, err = agent.communicate(timeout=600)
        if agent.returncode != 0:
            failed.append((k, agent.returncode, err[-300:]))
    wall = time.monotonic() - start
    store.terminate()
    store.wait()
    if failed:
        raise SystemExit(f"{len(failed)} of {n} agents failed, e.g. {failed[0]}")
    joins = []
    for k in range(n):
        events = [json.loads(x) for x in (tmp / f"{rdzv}-{k}.jsonl").read_text().splitlines() if x.strip()]
        joins.append(next(e["join_s"] for e in events if e["event"] == "round_formed"))
    return min(joins), max(joins), wall


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--myriad", required=True)
    parser.add_argument("--agents", default="8,64,256")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit[1], limit[1]))
    print("| agents | round after the last arrival (s) | slowest agent's join, start-up included (s) "
          "| first spawn to last exit (s) |")
    print("| ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.agents.split(",")):
            runs = [one_round(args.myriad, n, Path(tmp)) for _ in range(args.repeat)]
            med = [statistics.median(r[i] for r in runs) for i in range(3)]
            print(f"| {n} | {med[0]:.3f} | {med[1]:.3f} | {med[2]:.3f} |", flush=True)


if __name__ == "__main__":
    main()
