#!/usr/bin/env python3
"""Launch latency of `myriad run` against `mpirun`, side by side.

Times the wall clock of starting N ranks of a program that does nothing
(`true`) and waiting for them to finish, for `myriad run -np N true` (A) and
`mpirun -np N true` (B), interleaved A,B,A,B so that drift in the machine's
load hits both alike. Prints the median of each, the median of the per-pair
ratios A/B, and the spread of the ratios (p10, p90).

    python3 benchmarks/launch/launch_latency.py --myriad build/launcher/myriad
    python3 benchmarks/launch/launch_latency.py --pairs 50 --np 8

Standard library only. Exits non-zero if any run fails.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

DEFAULT_PAIRS = 20
DEFAULT_NP = 8
WARMUP_PAIRS = 2  # first runs pay for cold page caches; not counted


def percentile(values, fraction):
    """Linear-interpolated percentile of a non-empty list (fraction in [0, 1])."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_command(argv):
    """Seconds the command took; raises if it failed."""
    start = time.perf_counter()
    completed = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {completed.returncode}: "
                           f"{completed.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def find_myriad(explicit):
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    for build in ("build/launcher", "build/dev", "build"):
        candidate = os.path.join(here, "..", "..", build, "launcher", "myriad")
        if os.access(candidate, os.X_OK):
            return os.path.normpath(candidate)
    found = shutil.which("myriad")
    if not found:
        sys.exit("myriad not found: pass --myriad PATH")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=DEFAULT_PAIRS, help="measured A,B pairs")
    parser.add_argument("--np", type=int, default=DEFAULT_NP, help="ranks per launch")
    parser.add_argument("--myriad", help="the myriad binary (default: the build tree's, else PATH)")
    parser.add_argument("--mpirun", default="mpirun", help="the mpirun binary")
    parser.add_argument("--program", default="true", help="what every rank runs")
    args = parser.parse_args()

    myriad = find_myriad(args.myriad)
    mpirun = shutil.which(args.mpirun) or sys.exit(f"{args.mpirun} not found")
    program = shutil.which(args.program) or args.program
    cmd_a = [myriad, "run", "-np", str(args.np), program]
    cmd_b = [mpirun]
    if os.geteuid() == 0:
        cmd_b.append("--allow-run-as-root")
    # --oversubscribe: N ranks on a machine with fewer cores, as myriad run allows.
    cmd_b += ["--oversubscribe", "-np", str(args.np), program]

    for _ in range(WARMUP_PAIRS):
        time_command(cmd_a)
        time_command(cmd_b)
    a_times, b_times, ratios = [], [], []
    for _ in range(args.pairs):
        a = time_command(cmd_a)
        b = time_command(cmd_b)
        a_times.append(a)
        b_times.append(b)
        ratios.append(a / b)

    print(f"A: {' '.join(cmd_a)}")
    print(f"B: {' '.join(cmd_b)}")
    print(f"pairs: {args.pairs} (after {WARMUP_PAIRS} warm-up pairs), interleaved A,B")
    print(f"median A (myriad run): {statistics.median(a_times) * 1000:.1f} ms")
    print(f"median B (mpirun):     {statistics.median(b_times) * 1000:.1f} ms")
    print(f"median ratio A/B:      {statistics.median(ratios):.3f}")
    print(f"ratio p10 / p90:       {percentile(ratios, 0.10):.3f} / {percentile(ratios, 0.90):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
