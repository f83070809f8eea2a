#!/usr/bin/env python3
"""myriad.checkpoint against torch.save and torch.distributed.checkpoint (DCP):
blocking time, persist throughput against dd, and restore time from memory,
the buddy's replica and disk. Run one rank per emulated node, so that each
rank has its own agent-owned memory tier (MYRIAD_SNAPSHOT_DIR):

    PYTHONPATH=build/release/python nice -n -15 build/release/launcher/myriad run \\
        -np 2 --emulated-nodes 2 --nproc-per-node 1 \\
        /opt/myriad/venv/bin/python benchmarks/compare/checkpoint_vs_torch.py \\
        --dir /var/tmp/ckbench --mib 1024 --reps 5 --json ckpt_vs_torch.json
    # the buddy case: the same with MYRIAD_CKPT_REPLICAS=1 (read when the
    # checkpointer is built, so a launch of its own), --replicas 1

State: --mib MiB per rank (default 1024) of float32 tensors of 64 MiB, half
named model.* and half optim.* (an optimizer's moments), each rank holding
its rows of every tensor: sharded along dim 0 (myriad's Shard; a DTensor
with Shard(0) on a 1-D CPU mesh for DCP; one file per rank for torch.save),
so every rank writes and reads its own --mib MiB, as under FSDP / ZeRO. (A
replicated tensor is written by rank 0 alone, and only rank 0's node then
holds it in memory: see docs/BENCHMARKS.md.)

Each repetition runs every case once, in the same order, on the same
tensors and the same directory (--dir, on the disk):

  saves   myriad   myriad.checkpoint.save() returning (blocking), then
                   handle.wait() (committed: written, fsynced, agreed,
                   manifest, rename; with --replicas 1 also replicated)
          memcpy   the same bytes copied (Tensor.copy_) into tensors allocated
                   and touched once: the floor of any snapshot
          torch    torch.save(state, dir/torch/rank-R.pt) returning
                   (blocking), then os.fsync of the file (durable)
          dcp      torch.distributed.checkpoint.save (synchronous; fsyncs)
          dcp_async  torch.distributed.checkpoint.async_save returning
                   (blocking: staging into memory), then .result()
          dd       every rank at once: dd if=/dev/zero bs=16M oflag=direct
                   conv=fsync of the rank's bytes into dir/dd
  loads   memory   myriad.checkpoint.load right after the save: the node's
                   snapshot directory (asserts source == "memory")
          buddy    (--replicas 1) this node's own step files moved out of
                   the snapshot directory; every rank loads the rows of the
                   rank whose node is lost to it (its buddy's: the replica
                   kept here) (asserts source == "buddy")
          disk     the snapshot directory's steps moved aside (restored
                   afterwards), the page cache dropped (asserts "disk")
          dcp_load torch.distributed.checkpoint.load into the DTensors
          torch_load  torch.load(dir/torch/rank-R.pt, weights_only=True)
  Before each disk-reading load every rank waits at a barrier and rank 0
  writes 3 to /proc/sys/vm/drop_caches (when it can: root), which drops the
  page cache (not tmpfs: the memory tier stays).

A case's time is the slowest rank's (a job's phase ends with its last
rank); rank 0 prints the medians over repetitions, the per-repetition
ratios' medians, and writes --json.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.tensor import DTensor, Shard as DShard, init_device_mesh

TENSOR_MIB = 64
COLS = 4096  # float32 columns per row: 16 KiB rows


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True, help="directory on the disk (created; its contents are removed)")
    p.add_argument("--mib", type=int, default=1024, help="MiB of state per rank")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--replicas", type=int, default=0, choices=[0, 1],
                   help="must match MYRIAD_CKPT_REPLICAS (1 adds the buddy case, drops the peers' saves)")
    p.add_argument("--json", help="write the results here (rank 0)")
    p.add_argument("--no-drop-caches", action="store_true")
    return p.parse_args()


def main():
    args = parse_args()
    if int(os.environ.get("MYRIAD_CKPT_REPLICAS", "0")) != args.replicas:
        sys.exit("checkpoint_vs_torch: --replicas must match MYRIAD_CKPT_REPLICAS (read when the checkpointer is built)")
    snapdir = os.environ.get("MYRIAD_SNAPSHOT_DIR")
    if not snapdir:
        sys.exit("checkpoint_vs_torch: MYRIAD_SNAPSHOT_DIR is not set: run under myriad run --emulated-nodes 2 --nproc-per-node 1")
    torch.set_num_threads(1)

    import myriad.checkpoint as ckpt  # registers env:// through the job's store

    dist.init_process_group("gloo")  # env://: myriad run's job store
    rank, world = dist.get_rank(), dist.get_world_size()
    mesh = init_device_mesh("cpu", (world,))
    node = os.environ.get("MYRIAD_NODE_ID", "?")
    print(f"rank {rank}: node {node}, MYRIAD_SNAPSHOT_DIR={snapdir}", flush=True)
    nodes = [None] * world
    dist.all_gather_object(nodes, (node, snapdir))
    if len({n for n, _ in nodes}) != world or len({d for _, d in nodes}) != world:
        sys.exit(f"checkpoint_vs_torch: want one rank per node, each with its own snapshot dir: {nodes}")

    # --- the state
    n_tensors = max(2, args.mib // TENSOR_MIB)
    rows = (args.mib << 20) // n_tensors // (4 * COLS)
    gen = torch.Generator().manual_seed(1234 + rank)
    names = [f"{'model' if i < n_tensors // 2 else 'optim'}.t{i:02d}" for i in range(n_tensors)]
    local = {name: torch.rand(rows, COLS, generator=gen) for name in names}
    global_shape = [rows * world, COLS]
    rank_bytes = sum(t.numel() * 4 for t in local.values())

    def fingerprint(tensors):
        return [round(float(t[0].sum()) + float(t[-1].sum()), 3) for t in tensors.values()]

    own_print = fingerprint(local)
    prints = [None] * world
    dist.all_gather_object(prints, own_print)

    def myriad_state(owner):
        return {name: ckpt.Shard(t, global_shape, owner * rows) for name, t in local.items()}

    dcp_state = {name: DTensor.from_local(t, mesh, [DShard(0)], run_check=False) for name, t in local.items()}

    base = os.path.abspath(args.dir)
    if rank == 0:
        shutil.rmtree(base, ignore_errors=True)
        for sub in ("myriad", "torch", "dcp", "dcp_async", "dd"):
            os.makedirs(os.path.join(base, sub))
    dist.barrier()

    def slowest(x):
        t = torch.tensor([x], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    can_drop = not args.no_drop_caches and os.access("/proc/sys/vm/drop_caches", os.W_OK)

    def drop_caches():
        dist.barrier()
        if rank == 0 and can_drop:
            os.sync()
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
        dist.barrier()

    def fsync_path(path):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def snapdir_steps():
        return [n for n in os.listdir(snapdir) if n.startswith("step-")]

    # --- the cases: each returns {metric: this rank's seconds}
    step = [0]
    dcp_steps = {"dcp": [], "dcp_async": []}

    def case_myriad():
        step[0] += 1
        dist.barrier()
        t0 = time.perf_counter()
        h = ckpt.save(myriad_state(rank), os.path.join(base, "myriad"), step[0], keep_last=2)
        t1 = time.perf_counter()
        h.wait()
        t2 = time.perf_counter()
        if h.replication_error:
            raise RuntimeError(f"rank {rank}: replication failed: {h.replication_error}")
        return {"myriad_blocking": t1 - t0, "myriad_handle_blocking": h.blocking_seconds, "myriad_persist": t2 - t0}

    copies = {}

    def case_memcpy():
        if not copies:
            copies.update({name: torch.empty_like(t) for name, t in local.items()})
            for name, t in local.items():
                copies[name].copy_(t)  # first touch: not timed
        dist.barrier()
        t0 = time.perf_counter()
        for name, t in local.items():
            copies[name].copy_(t)
        t1 = time.perf_counter()
        return {"memcpy": t1 - t0}

    def case_torch():
        path = os.path.join(base, "torch", f"rank-{rank}.pt")
        dist.barrier()
        t0 = time.perf_counter()
        torch.save(local, path)
        t1 = time.perf_counter()
        fsync_path(path)
        t2 = time.perf_counter()
        return {"torch_blocking": t1 - t0, "torch_durable": t2 - t0}

    def dcp_dir(kind):
        d = os.path.join(base, kind, f"step-{step[0]}")
        return d

    def prune(kind):
        # Keep the newest DCP step (as keep_last=2 keeps myriad's newest two at
        # most); rank 0 removes after a barrier, outside the timed region.
        dist.barrier()
        if rank == 0:
            for old in dcp_steps[kind][:-1]:
                shutil.rmtree(old, ignore_errors=True)
        dcp_steps[kind] = dcp_steps[kind][-1:]

    def case_dcp():
        d = dcp_dir("dcp")
        dist.barrier()
        t0 = time.perf_counter()
        dcp.save(dcp_state, checkpoint_id=d)
        t1 = time.perf_counter()
        dcp_steps["dcp"].append(d)
        prune("dcp")
        return {"dcp_blocking": t1 - t0}

    def case_dcp_async():
        d = dcp_dir("dcp_async")
        dist.barrier()
        t0 = time.perf_counter()
        fut = dcp.async_save(dcp_state, checkpoint_id=d)
        t1 = time.perf_counter()
        result = fut.result() if hasattr(fut, "result") else fut.upload_completion.result()
        del result
        t2 = time.perf_counter()
        dcp_steps["dcp_async"].append(d)
        prune("dcp_async")
        return {"dcp_async_blocking": t1 - t0, "dcp_async_persist": t2 - t0}

    def case_dd():
        path = os.path.join(base, "dd", f"rank-{rank}.bin")
        count = rank_bytes // (16 << 20)
        dist.barrier()
        t0 = time.perf_counter()
        subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=16M", f"count={count}", "oflag=direct",
                        "conv=fsync"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = time.perf_counter()
        return {"dd": t1 - t0}

    def check_load(result, want, owner, what):
        if result.source != want:
            raise AssertionError(f"rank {rank}: {what}: source {result.source!r}, expected {want!r} ({result})")
        got = fingerprint(local)
        if got != prints[owner]:
            raise AssertionError(f"rank {rank}: {what}: wrong contents after the load")

    def case_load_memory():
        dist.barrier()
        t0 = time.perf_counter()
        r = ckpt.load(myriad_state(rank), os.path.join(base, "myriad"))
        t1 = time.perf_counter()
        check_load(r, "memory", rank, "memory load")
        return {"load_memory": t1 - t0}

    def case_load_buddy():
        # This node's own snapshot files go; the manifest stays, so the step
        # is usable from memory and its chunks come from replicas/.
        stepdir = os.path.join(snapdir, f"step-{step[0]:09d}")
        aside = os.path.join(snapdir, "aside")
        os.makedirs(aside, exist_ok=True)
        moved = []
        for name in os.listdir(stepdir):
            if name.startswith("rank-") and name.endswith(".bin"):
                os.rename(os.path.join(stepdir, name), os.path.join(aside, name))
                moved.append(name)
        # The rank whose snapshot this node keeps as a replica: (r - L) % W, L = 1 here.
        owner = (rank - 1) % world
        if not os.path.exists(os.path.join(snapdir, "replicas", f"step-{step[0]:09d}", f"rank-{owner:05d}.bin")):
            raise AssertionError(f"rank {rank}: no replica of rank {owner} in {snapdir}/replicas: "
                                 f"{os.listdir(os.path.join(snapdir, 'replicas'))}")
        dist.barrier()
        t0 = time.perf_counter()
        r = ckpt.load(myriad_state(owner), os.path.join(base, "myriad"))
        t1 = time.perf_counter()
        check_load(r, "buddy", owner, "buddy load")
        for name in moved:
            os.rename(os.path.join(aside, name), os.path.join(stepdir, name))
        # Own rows back (from memory) for the next saves.
        dist.barrier()
        ckpt.load(myriad_state(rank), os.path.join(base, "myriad"))
        if fingerprint(local) != own_print:
            raise AssertionError(f"rank {rank}: own rows not restored")
        return {"load_buddy": t1 - t0}

    def case_load_disk():
        aside = os.path.join(snapdir + "-aside")
        os.makedirs(aside, exist_ok=True)
        moved = []
        for name in os.listdir(snapdir):
            if name.startswith("step-") or name == "replicas":
                os.rename(os.path.join(snapdir, name), os.path.join(aside, name))
                moved.append(name)
        drop_caches()
        t0 = time.perf_counter()
        r = ckpt.load(myriad_state(rank), os.path.join(base, "myriad"))
        t1 = time.perf_counter()
        for name in moved:
            os.rename(os.path.join(aside, name), os.path.join(snapdir, name))
        os.rmdir(aside)
        check_load(r, "disk", rank, "disk load")
        return {"load_disk": t1 - t0}

    def case_dcp_load():
        drop_caches()
        t0 = time.perf_counter()
        dcp.load(dcp_state, checkpoint_id=dcp_steps["dcp"][-1])
        t1 = time.perf_counter()
        if fingerprint(local) != own_print:
            raise AssertionError(f"rank {rank}: dcp.load: wrong contents")
        return {"load_dcp": t1 - t0}

    def case_torch_load():
        drop_caches()
        t0 = time.perf_counter()
        loaded = torch.load(os.path.join(base, "torch", f"rank-{rank}.pt"), weights_only=True)
        t1 = time.perf_counter()
        if fingerprint(loaded) != own_print:
            raise AssertionError(f"rank {rank}: torch.load: wrong contents")
        del loaded
        return {"load_torch": t1 - t0}

    if args.replicas:
        cases = [case_myriad, case_load_memory, case_load_buddy, case_load_disk]
    else:
        cases = [case_myriad, case_memcpy, case_torch, case_dcp, case_dcp_async, case_dd,
                 case_load_memory, case_load_disk, case_dcp_load, case_torch_load]

    # Warm-up: one save of each kind (DCP's plans, the page cache's first
    # touch); not counted.
    for case in cases:
        if case in (case_myriad, case_torch, case_dcp, case_dcp_async):
            case()
    # The memory tier keeps 2 steps per rank (MYRIAD_SNAPSHOT_KEEP): from the
    # third save on, a snapshot goes into the oldest step's file, recycled, as
    # in a training run that checkpoints repeatedly.
    case_myriad()

    reps = []
    for rep in range(args.reps):
        times = {}
        for case in cases:
            for k, v in case().items():
                times[k] = slowest(v)
        reps.append(times)
        if rank == 0:
            print(f"rep {rep}: " + ", ".join(f"{k} {v:.3f}" for k, v in times.items()), flush=True)

    if rank == 0:
        report(args, reps, rank_bytes, world, n_tensors, can_drop, snapdir)
    dist.barrier()
    dist.destroy_process_group()


def report(args, reps, rank_bytes, world, n_tensors, dropped, snapdir):
    med = {k: statistics.median(r[k] for r in reps) for k in reps[0]}
    job_bytes = rank_bytes * world

    def ratio(num, den):
        vals = sorted(r[num] / r[den] for r in reps)
        return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1]}

    ratios = {}
    if args.replicas == 0:
        ratios["dcp_blocking / myriad_blocking"] = ratio("dcp_blocking", "myriad_blocking")
        ratios["dcp_async_blocking / myriad_blocking"] = ratio("dcp_async_blocking", "myriad_blocking")
        ratios["torch_blocking / myriad_blocking"] = ratio("torch_blocking", "myriad_blocking")
        ratios["myriad_blocking / memcpy"] = ratio("myriad_blocking", "memcpy")
        ratios["dd / myriad_persist (persist share of dd)"] = ratio("dd", "myriad_persist")
        ratios["dd / dcp_async_persist"] = ratio("dd", "dcp_async_persist")
        ratios["load_disk / load_memory"] = ratio("load_disk", "load_memory")
        ratios["load_dcp / load_memory"] = ratio("load_dcp", "load_memory")
        ratios["load_torch / load_memory"] = ratio("load_torch", "load_memory")
        ratios["load_dcp / load_disk"] = ratio("load_dcp", "load_disk")
    else:
        ratios["load_disk / load_memory"] = ratio("load_disk", "load_memory")
        ratios["load_disk / load_buddy"] = ratio("load_disk", "load_buddy")
        ratios["load_buddy / load_memory"] = ratio("load_buddy", "load_memory")

    gb = job_bytes / 1e9
    print(f"# checkpoint_vs_torch: {world} ranks on {world} emulated nodes, {rank_bytes / 2**20:.0f} MiB per rank "
          f"({n_tensors} f32 tensors, sharded), replicas {args.replicas}, {args.reps} reps, "
          f"page cache dropped before disk loads: {'yes' if dropped else 'no'}; slowest rank, median over reps")
    print(f"# load average: {open('/proc/loadavg').read().split()[:3]}")
    print(f"{'case':28s} {'median s':>10s} {'min s':>8s} {'max s':>8s} {'job GB/s':>9s}")
    for k in med:
        vals = [r[k] for r in reps]
        bw = f"{gb / med[k]:9.2f}" if k in ("myriad_persist", "dd", "dcp_async_persist", "torch_durable",
                                            "dcp_blocking") or k.startswith("load_") else " " * 9
        print(f"{k:28s} {med[k]:10.3f} {min(vals):8.3f} {max(vals):8.3f} {bw}")
    print(f"{'ratio (per rep)':44s} {'median':>8s} {'min':>8s} {'max':>8s}")
    for k, v in ratios.items():
        print(f"{k:44s} {v['median']:8.2f} {v['min']:8.2f} {v['max']:8.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"world": world, "rank_bytes": rank_bytes, "tensors": n_tensors, "replicas": args.replicas,
                       "reps": reps, "medians": med, "ratios": ratios, "page_cache_dropped": dropped,
                       "loadavg_end": open("/proc/loadavg").read().split()[:3], "dir": os.path.abspath(args.dir),
                       "torch": torch.__version__}, f, indent=1)


if __name__ == "__main__":
    main()
