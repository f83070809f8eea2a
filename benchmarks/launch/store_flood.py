#!/usr/bin/env python3
"""`myriad store` under a flood of connections that never authenticate.

Starts `myriad store` on 127.0.0.1, connects one legitimate client (AUTH,
then SET/GET round trips of 64 bytes), and measures the store's VmRSS and
VmHWM (/proc/<pid>/status) and the client's round-trip latency: at rest,
then while --connections raw connections each do one of
  partial   an AUTH frame within the pre-auth cap, left unfinished (the
            most an unauthenticated client may make the store hold)
  oversize  an AUTH header announcing a 64 MiB body, then 1 MiB of it
Prints a Markdown table. No peer: this is a bound the store must keep
(docs/BENCHMARKS.md, "Store under an unauthenticated flood").

    benchmarks/launch/store_flood.py --myriad build/release/launcher/myriad
        [--connections 2000] [--round-trips 2000]
"""
import argparse
import re
import resource
import socket
import statistics
import struct
import subprocess
import time

from resident_memory import status_kb  # VmRSS and VmHWM of a live process

TOKEN = "store-flood-token"
OP_AUTH, OP_SET, OP_GET, OP_OK = 0x01, 0x02, 0x03, 0x80


def frame(op, body):
    return b"MY" + bytes([1, op]) + struct.pack("<I", len(body)) + body


def string(value):
    return struct.pack("<I", len(value)) + value


def receive(sock):
    header = b""
    while len(header) < 8:
        chunk = sock.recv(8 - len(header))
        if not chunk:
            raise SystemExit("the store closed the legitimate client's connection")
        header += chunk
    size = struct.unpack("<I", header[4:8])[0]
    body = b""
    while len(body) < size:
        body += sock.recv(size - len(body))
    return header[3], body


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(frame(OP_AUTH, string(TOKEN.encode())))
        if receive(self.sock)[0] != OP_OK:
            raise SystemExit("the store refused the legitimate client")

    def round_trips(self, n):
        """Latencies in microseconds of n SET+GET pairs (one per pair)."""
        value = b"v" * 64
        out = []
        for i in range(n):
            began = time.perf_counter()
            self.sock.sendall(frame(OP_SET, string(b"k%d" % (i % 64)) + string(value)))
            receive(self.sock)
            self.sock.sendall(frame(OP_GET, string(b"k%d" % (i % 64)) + struct.pack("<q", 1000)))
            receive(self.sock)
            out.append((time.perf_counter() - began) * 1e6)
        return out


def flood(port, kind, count):
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(True)
        s.connect(("127.0.0.1", port))
        if kind == "partial":
            s.sendall(b"MY" + bytes([1, OP_AUTH]) + struct.pack("<I", 4096) + b"x" * 4000)
        else:
            s.sendall(b"MY" + bytes([1, OP_AUTH]) + struct.pack("<I", (64 << 20) - 8))
            s.setblocking(False)
            try:
                s.send(b"x" * (1 << 20))
            except OSError:
                pass  # refused from the header: the store closed it
        socks.append(s)
    return socks


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--myriad", default="build/release/launcher/myriad")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--round-trips", type=int, default=2000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    store = subprocess.Popen([args.myriad, "store", "--port", "0", "--host", "127.0.0.1", "--token", TOKEN],
                             stdout=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r":(\d+)$", store.stdout.readline().strip()).group(1))
        client = Client(port)
        client.round_trips(200)  # warm
        rows = []
        rest = status_kb(store.pid)
        quiet = client.round_trips(args.round_trips)
        rows.append(("at rest", rest["VmRSS"], rest["VmHWM"], quiet))
        for kind in ("partial", "oversize"):
            socks = flood(port, kind, args.connections)
            during = client.round_trips(args.round_trips)
            mem = status_kb(store.pid)
            rows.append((f"{args.connections} x {kind}", mem["VmRSS"], mem["VmHWM"], during))
            for s in socks:
                s.close()
            time.sleep(0.5)
        print("| store state | VmRSS (MB) | VmHWM (MB) | SET+GET median (us) | p99 (us) |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, rss, hwm, lat in rows:
            print(f"| {label} | {rss / 1024:.1f} | {hwm / 1024:.1f} | {statistics.median(lat):.0f} "
                  f"| {percentile(lat, 0.99):.0f} |")
    finally:
        store.terminate()
        store.wait()


if __name__ == "__main__":
    main()
