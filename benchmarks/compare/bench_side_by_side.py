#!/usr/bin/env python3
"""`myriad bench coll` on the native and mpi backends, next to Open MPI's own
MPI_Allreduce, in one run, at 2 ranks (one node) and at 4 ranks as 2
emulated nodes (MYRIAD_NODE_ID, docs/config.md). Prints Markdown: per
configuration, all-reduce busbw of each backend with the ratio native/mpi,
then the interleaved Myriad-vs-MPI_Allreduce table of allreduce_vs_mpi
(the figure docs/BENCHMARKS.md trusts on a noisy machine: both measured in
one program, alternating).

    benchmarks/compare/bench_side_by_side.py [--build build/release]
        [--min-bytes 4K] [--max-bytes 64M] [--iters 20] [--out FILE]

The gloo column (torch.distributed) joins once Myriad's PyTorch package
can run it side by side; this script does not measure it yet.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

# (ranks, emulated nodes) of each configuration the issue asks for.
CONFIGS = [(2, 1), (4, 2)]


def parse_size(text):
    """64M-style sizes, as `myriad bench coll -b/-e` reads them (powers of 1024)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip()
    if text[-1:].upper() in units:
        return int(text[:-1]) * units[text[-1:].upper()]
    return int(text)


def run(cmd, env=None):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}")
    return done.stdout


def bench_coll(myriad, backend, ranks, nodes, args, json_path):
    """One `myriad bench coll` sweep; its ranks get node ids n0, n1, ..."""
    per_node = ranks // nodes
    # The rank variable: OMPI_COMM_WORLD_RANK under the mpi engine, RANK under the local one.
    inner = (f"MYRIAD_NODE_ID=n$((${{OMPI_COMM_WORLD_RANK:-$RANK}} / {per_node})) exec {myriad} bench coll "
             f"--backend {backend} -b {args.min_bytes} -e {args.max_bytes} -f 4 -n {args.iters} -w 5 "
             f"--json {json_path}")
    engine = ["--engine", "mpi"] if backend == "mpi" else []
    table = run([myriad, "run", *engine, "-np", str(ranks), "--no-tag-output", "sh", "-c", inner])
    with open(json_path) as f:
        return table, json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--min-bytes", default="4K")
    parser.add_argument("--max-bytes", default="64M")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--out")
    args = parser.parse_args()
    myriad = os.path.abspath(os.path.join(args.build, "launcher", "myriad"))
    vs_mpi = os.path.abspath(os.path.join(args.build, "benchmarks", "compare", "allreduce_vs_mpi"))
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for ranks, nodes in CONFIGS:
            lines.append(f"### {ranks} ranks, {nodes} emulated node(s): all-reduce, f32 sum\n")
            results = {}
            for backend in ("native", "mpi"):
                table, doc = bench_coll(myriad, backend, ranks, nodes, args, os.path.join(tmp, f"{backend}.json"))
                results[backend] = doc
                lines.append(f"`myriad bench coll --backend {backend}` ({ranks} ranks):\n\n```\n{table}```\n")
            lines.append("| bytes | native busbw GB/s (oop) | mpi busbw GB/s (oop) | native / mpi |")
            lines.append("| ---: | ---: | ---: | ---: |")
            for a, b in zip(results["native"]["rows"], results["mpi"]["rows"]):
                na = a["out_of_place"]["busbw_gbs"]
                mb = b["out_of_place"]["busbw_gbs"]
                ratio = f"{na / mb:.2f}" if mb > 0 else "-"
                lines.append(f"| {a['bytes']} | {na:.3f} | {mb:.3f} | {ratio} |")
            lines.append("")
            mpirun = ["mpirun", "--oversubscribe", "-np", str(ranks)]
            if os.geteuid() == 0:
                mpirun.insert(1, "--allow-run-as-root")
            min_b = parse_size(args.min_bytes)
            max_b = parse_size(args.max_bytes)
            interleaved = run([*mpirun, vs_mpi, "--min-bytes", str(min_b), "--max-bytes", str(max_b),
                               "--nodes", str(nodes)])
            lines.append(f"Open MPI's `MPI_Allreduce` against Myriad, interleaved in one program "
                         f"(`allreduce_vs_mpi --nodes {nodes}`; ratio = MPI time / Myriad time):\n")
            lines.append(f"```\n{interleaved}```\n")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
