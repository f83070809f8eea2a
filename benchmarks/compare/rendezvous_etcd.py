#!/usr/bin/env python3
"""Rendezvous through etcd next to rendezvous through Myriad's TCP store,
interleaved in one run (docs/BENCHMARKS.md, "Rendezvous through etcd").

For each N, alternately: `rendezvous_scale --agents N --repeat 1` against
its own in-process TCP store, and the same against a 3-member etcd cluster
on loopback (started here, data on /dev/shm, as tests/python/etcd_cluster.py
does for the tests). Both run the same agents (threads, one store client
each) through the same Rendezvous code; the etcd side pays a Raft commit
per write and libcurl's HTTP per request. Prints a Markdown table of
medians and the ratio etcd / TCP for a round and for a restart round
(both sides with a 1 s last call, which the restart waits once).

    benchmarks/compare/rendezvous_etcd.py [--build build/release]
        [--agents 16,64,256] [--repeat 3] [--out FILE]
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "python"))
from etcd_cluster import EtcdCluster, available  # noqa: E402


# Both sides get the same last call. A full round closes when the last agent
# arrives, whatever it is; the restart round (N-1 of N) waits it once. Under
# etcd, agents taking tickets at once retry their adds, and 200 ms can
# close a round before the unluckiest adder has its ticket (it would then
# wait as a spare, and the benchmark needs every agent in the round).
LAST_CALL_MS = 1000


def one(binary, n, store):
    args = [binary, "--agents", str(n), "--repeat", "1", "--last-call-ms", str(LAST_CALL_MS)]
    if store:
        args += ["--store", store]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=1800).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(REPO / "build" / "release"))
    parser.add_argument("--agents", default="16,64,256")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    why = available()
    if why:
        sys.exit(f"rendezvous_etcd: {why}")
    binary = str(Path(args.build) / "benchmarks" / "compare" / "rendezvous_scale")
    rows = []
    with EtcdCluster(members=3) as cluster:
        store = f"etcd://{cluster.endpoints()}/bench"
        for n in (int(x) for x in args.agents.split(",")):
            tcp, etcd = [], []
            for _ in range(args.repeat):
                tcp.append(one(binary, n, ""))
                etcd.append(one(binary, n, store))
            med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
            rows.append({"agents": n, "tcp_form_s": med(tcp, "form_s"), "etcd_form_s": med(etcd, "form_s"),
                         "tcp_restart_s": med(tcp, "restart_s"), "etcd_restart_s": med(etcd, "restart_s"),
                         "etcd_join_ops": max(r["join_ops"] for r in etcd),
                         "etcd_monitor_ops": max(r["monitor_ops"] for r in etcd)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    lines = ["| agents | round, TCP store | round, etcd (3 members) | etcd / TCP | restart, TCP | restart, etcd "
             "| etcd / TCP | ops per joining agent (etcd) | ops per monitor pass |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['agents']} | {r['tcp_form_s']:.3f} s | {r['etcd_form_s']:.3f} s | "
                     f"{r['etcd_form_s'] / r['tcp_form_s']:.1f}x | {r['tcp_restart_s']:.3f} s | "
                     f"{r['etcd_restart_s']:.3f} s | {r['etcd_restart_s'] / r['tcp_restart_s']:.1f}x | "
                     f"{r['etcd_join_ops']} | {r['etcd_monitor_ops']} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
