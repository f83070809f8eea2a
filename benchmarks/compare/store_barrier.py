#!/usr/bin/env python3
"""A barrier of N clients through one store: `myriad store` against torch's
TCPStore, each server in its own process, alternating in one run
(docs/BENCHMARKS.md, "Store barrier").

Myriad's clients are N connections on one epoll loop (`store_barrier`, a
C++ program); torch's are N Python threads, each holding a TCPStore
client, since torch's client blocks. Both do the same barrier (add to a
counter; the last arrival sets a key; everyone waits on it) after every
client has connected. The client drivers differ, so the torch figure is
its store and its client library together; the Myriad figure is its store
with a client that costs almost nothing.

    benchmarks/compare/store_barrier.py [--build build/release]
        [--clients 1024,4096,16384] [--repeat 3] [--torch-max 8192]
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta

TOKEN = "store-barrier-token"
TORCH_SERVER = """
import sys, time
from datetime import timedelta
from torch.distributed import TCPStore
store = TCPStore("127.0.0.1", 0, None, True, timedelta(seconds=600), wait_for_workers=False)
print(store.port, flush=True)
sys.stdin.read()
"""


def myriad_barrier(build, n, repeat):
    store = subprocess.Popen([os.path.join(build, "launcher/myriad"), "store", "--port", "0", "--host",
                              "127.0.0.1", "--token", TOKEN], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
    try:
        port = int(re.search(r":(\d+)$", store.stdout.readline().strip()).group(1))
        done = subprocess.run([os.path.join(build, "benchmarks/compare/store_barrier"), "--store",
                               f"127.0.0.1:{port}", "--token", TOKEN, "--clients", str(n), "--repeat",
                               str(repeat)], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"store_barrier --clients {n}: {done.stderr.strip()}")
        return [json.loads(line)["barrier_s"] for line in done.stdout.splitlines()]
    finally:
        store.terminate()
        store.wait()


def torch_barrier(n, repeat):
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "FATAL")
    from torch.distributed import TCPStore

    server = subprocess.Popen([sys.executable, "-c", TORCH_SERVER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        clients = [None] * n

        def connect(k):
            clients[k] = TCPStore("127.0.0.1", port, None, False, timedelta(seconds=600))

        threading.stack_size(256 << 10)
        threads = [threading.Thread(target=connect, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out = []
        for r in range(repeat):
            start = threading.Event()

            def arrive(store, r=r, start=start):
                start.wait()
                if store.add(f"barrier/{r}/count", 1) == n:
                    store.set(f"barrier/{r}/done", "1")
                store.wait([f"barrier/{r}/done"])

            threads = [threading.Thread(target=arrive, args=(c,)) for c in clients]
            for t in threads:
                t.start()
            began = time.perf_counter()
            start.set()
            for t in threads:
                t.join()
            out.append(time.perf_counter() - began)
        return out
    finally:
        server.stdin.close()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--clients", default="1024,4096,16384")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--torch-max", type=int, default=8192,
                        help="largest N for torch's threads (16,384 threads do not fit this machine's limits)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("| clients | Myriad barrier (s) | torch TCPStore barrier (s) | ratio torch / Myriad |")
    print("| ---: | ---: | ---: | ---: |")
    for n in (int(x) for x in args.clients.split(",")):
        mine = statistics.median(myriad_barrier(args.build, n, args.repeat))
        theirs = statistics.median(torch_barrier(n, args.repeat)) if n <= args.torch_max else None
        print(f"| {n} | {mine:.3f} | {'—' if theirs is None else f'{theirs:.3f}'} | "
              f"{'—' if theirs is None else f'{theirs / mine:.1f}'} |", flush=True)


if __name__ == "__main__":
    main()
