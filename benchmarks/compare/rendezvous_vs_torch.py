#!/usr/bin/env python3
"""Myriad's rendezvous of N agents next to torch's TCPStore barrier of N
clients, interleaved in one run (docs/BENCHMARKS.md, "Rendezvous").

For each N, alternately: `rendezvous_scale --agents N --repeat 1` (N agent
threads form a round, one is lost, N-1 form the next; see its header), and
N threads each holding a torch TCPStore client that do the store barrier
every torch rendezvous and init_process_group contains (add to a counter;
the last to arrive sets a key; all wait on it), against one torch TCPStore
server. Both sides connect their clients before the clock starts. Prints a
Markdown table of medians and the ratio Myriad round / torch barrier: what
a full rendezvous (tickets, slots, member list, ranks) costs next to the
bare barrier inside it.

    benchmarks/compare/rendezvous_vs_torch.py [--build build/release]
        [--agents 64,256,1024] [--repeat 3] [--out FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta


def torch_barrier(n):
    """Seconds from the first add to the last return of n clients' barrier."""
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")  # one warning per client otherwise
    from torch.distributed import TCPStore

    master = TCPStore("127.0.0.1", 0, None, True, timedelta(seconds=600), wait_for_workers=False)
    port = master.port
    clients = []
    lock = threading.Lock()

    def connect():
        store = TCPStore("127.0.0.1", port, None, False, timedelta(seconds=600))
        with lock:
            clients.append(store)

    threads = [threading.Thread(target=connect) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    start = threading.Event()

    def arrive(store):
        start.wait()
        if store.add("arrived", 1) == n:
            store.set("done", "1")
        store.wait(["done"])

    threads = [threading.Thread(target=arrive, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    began = time.perf_counter()
    start.set()
    for t in threads:
        t.join()
    return time.perf_counter() - began


def myriad_round(binary, n):
    done = subprocess.run([binary, "--agents", str(n), "--repeat", "1"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{binary} --agents {n} exited with {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--agents", default="64,256,1024")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    binary = os.path.join(args.build, "benchmarks/compare/rendezvous_scale")
    counts = [int(x) for x in args.agents.split(",")]
    runs = {n: {"myriad": [], "torch": []} for n in counts}
    for r in range(args.repeat):
        for n in counts:
            runs[n]["myriad"].append(myriad_round(binary, n))
            runs[n]["torch"].append(torch_barrier(n))
            print(f"repetition {r} agents {n}: myriad {runs[n]['myriad'][-1]['form_s']:.3f} s, "
                  f"torch barrier {runs[n]['torch'][-1]:.3f} s", file=sys.stderr, flush=True)
    lines = [
        "| agents | Myriad round (s) | torch TCPStore barrier (s) | ratio | restart after one lost (s) "
        "| ops per agent to join | closer's ops | ops per monitor pass | keys after 2 rounds |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in counts:
        m = runs[n]["myriad"]
        form = statistics.median(x["form_s"] for x in m)
        barrier = statistics.median(runs[n]["torch"])
        restart = statistics.median(x["restart_s"] for x in m)
        lines.append(
            f"| {n} | {form:.3f} | {barrier:.3f} | {form / barrier:.2f} | {restart:.3f} "
            f"| {max(x['join_ops'] for x in m)} | {max(x['closer_ops'] for x in m)} "
            f"| {max(x['monitor_ops'] for x in m)} | {m[-1]['store_keys']} |")
    text = "\n".join(lines) + f"\n\nmedians of {args.repeat}; restart includes one last call of " \
        f"{m[-1]['last_call_ms']} ms\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
