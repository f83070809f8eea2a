#!/usr/bin/env python3
"""DDP training with a large checkpointed state, for recovery benchmarks.

An MLP of --layers square layers of --width (default 5 x 4096^2: 84 M
parameters, 336 MiB) trained with Adam, whose two moments make the
checkpointed state three times the parameters (1.0 GiB by default). The
batch of step s on rank r is drawn from a generator seeded with
(--seed, s, r), so the data order depends on the step alone and a resumed
run sees what an uninterrupted one would.

Runs under either launcher:

    myriad run -np 2 --max-restarts 3 benchmarks/elastic/train_ckpt.py --ckpt myriad --ckpt-dir DIR
    torchrun --nproc-per-node 2 --max-restarts 3 benchmarks/elastic/train_ckpt.py --backend gloo --ckpt dcp --ckpt-dir DIR

    --ckpt myriad   myriad.checkpoint: async save every --ckpt-every steps, load on start
    --ckpt dcp      torch.distributed.checkpoint: save (blocking) and load
    --ckpt none     no checkpoints

On start it resumes from the latest committed step of --ckpt-dir. Every
rank reports, as one JSON line on stdout (prefixed "@timing "; not every
step) and, with --timing-dir, appended to DIR/timings.jsonl: process start (the first line
of the script, before torch is imported), torch imported, process group
ready, model built, restore done (source, seconds, step), the first step
done after start, every step, and each committed checkpoint. With
--timing-dir it also writes its pid to DIR/pid.rank-R.restart-C (C: the
launcher's restart count), so a driver can kill it.
"""

import time

PROCESS_START = time.time()  # before any import that takes time (torch: seconds)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

RANK = int(os.environ.get("RANK", "0"))
RESTART = int(os.environ.get("MYRIAD_RESTART_COUNT", os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")))
TIMING_FILE = None


def timing(what: str, t: float = None, echo: bool = True, **fields) -> None:
    record = {"what": what, "t": time.time() if t is None else t, "rank": RANK, "restart": RESTART,
              "pid": os.getpid(), **fields}
    line = json.dumps(record)
    if echo:
        print("@timing " + line, flush=True)
    if TIMING_FILE is not None:
        # One write(2) on an O_APPEND descriptor: lines of concurrent ranks do not interleave.
        fd = os.open(TIMING_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="myriad", choices=["myriad", "gloo"])
    p.add_argument("--ckpt", default="myriad", choices=["myriad", "dcp", "none"])
    p.add_argument("--ckpt-dir")
    p.add_argument("--ckpt-every", type=int, default=10)
    p.add_argument("--keep-last", type=int, default=2, help="committed steps kept (both formats)")
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--width", type=int, default=4096)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads per rank")
    p.add_argument("--step-sleep", type=float, default=0.0, help="seconds of sleep per step (pacing)")
    p.add_argument("--timing-dir", help="append timings to DIR/timings.jsonl; write pid files there")
    args = p.parse_args(argv)
    if args.ckpt != "none" and not args.ckpt_dir:
        p.error("--ckpt myriad|dcp needs --ckpt-dir")
    return args


CLASSES = 10


def make_model(nn, width: int, layers: int):
    blocks = []
    for _ in range(layers):
        blocks += [nn.Linear(width, width), nn.ReLU()]
    blocks.append(nn.Linear(width, CLASSES))
    return nn.Sequential(*blocks)


def init_adam_state(torch, opt) -> None:
    """Adam's moments exist before the first step, so a load fills them in
    place (both formats) rather than allocating them."""
    for group in opt.param_groups:
        for p in group["params"]:
            opt.state[p] = {
                "step": torch.tensor(0.0),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }


# --- torch.distributed.checkpoint: one directory per step, "latest" names the newest


def dcp_latest(ckpt_dir: str):
    try:
        with open(os.path.join(ckpt_dir, "latest")) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        return None


def dcp_save(dcp, get_state_dict, model, opt, ckpt_dir: str, step: int, keep_last: int, rank: int, dist) -> None:
    msd, osd = get_state_dict(model, opt)
    dcp.save({"model": msd, "optim": osd, "step": step}, checkpoint_id=os.path.join(ckpt_dir, f"step-{step}"))
    dist.barrier()  # every rank's files are written before "latest" names the step
    if rank == 0:
        tmp = os.path.join(ckpt_dir, "latest.tmp")
        with open(tmp, "w") as f:
            f.write(str(step))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(ckpt_dir, "latest"))
        import shutil

        steps = sorted(int(n[5:]) for n in os.listdir(ckpt_dir) if n.startswith("step-"))
        for old in steps[:-keep_last]:
            shutil.rmtree(os.path.join(ckpt_dir, f"step-{old}"), ignore_errors=True)


def main(argv=None) -> None:
    global TIMING_FILE
    args = parse_args(argv)
    if args.timing_dir:
        os.makedirs(args.timing_dir, exist_ok=True)
        TIMING_FILE = os.path.join(args.timing_dir, "timings.jsonl")
        with open(os.path.join(args.timing_dir, f"pid.rank-{RANK}.restart-{RESTART}"), "w") as f:
            f.write(str(os.getpid()))
    timing("process_start", PROCESS_START)

    import torch
    import torch._dynamo  # noqa: F401  imported by the first optimizer (2.2 s here): counted as import time
    import torch.distributed as dist
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    import myriad.elastic
    import myriad.torch  # noqa: F401  registers the "myriad" backend

    if args.ckpt == "myriad":
        import myriad.checkpoint as ckpt
    elif args.ckpt == "dcp":
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
    timing("imported")

    torch.set_num_threads(args.threads)
    dist.init_process_group(args.backend, init_method="env://")
    rank, world = dist.get_rank(), dist.get_world_size()
    timing("pg_ready", world=world, backend=args.backend)

    torch.manual_seed(args.seed)
    model = make_model(nn, args.width, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    init_adam_state(torch, opt)
    params = sum(p.numel() for p in model.parameters())
    timing("model_ready", params=params, state_bytes=3 * 4 * params)

    first = 0
    if args.ckpt == "myriad" and ckpt.latest_step(args.ckpt_dir) is not None:
        begin = time.time()
        state = {"model": model.state_dict(), "optim": opt.state_dict(), "step": 0}
        result = ckpt.load(state, args.ckpt_dir)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        first = int(state["step"])
        timing("restore_done", step=first, source=result.source, seconds=time.time() - begin,
               load_seconds=result.seconds, bytes=result.bytes_read)
    elif args.ckpt == "dcp" and dcp_latest(args.ckpt_dir) is not None:
        begin = time.time()
        step = dcp_latest(args.ckpt_dir)
        msd, osd = get_state_dict(model, opt)
        state = {"model": msd, "optim": osd, "step": 0}
        dcp.load(state, checkpoint_id=os.path.join(args.ckpt_dir, f"step-{step}"))
        set_state_dict(model, opt, model_state_dict=state["model"], optim_state_dict=state["optim"])
        first = int(state["step"])
        timing("restore_done", step=first, source="disk", seconds=time.time() - begin)
    else:
        timing("restore_done", step=0, source="none", seconds=0.0)

    ddp = DDP(model)  # broadcasts rank 0's parameters: the same on every rank after a restore
    gen = torch.Generator()
    if rank == 0:
        print(f"backend {args.backend} world {world} params {params} ({params * 4 / 2**20:.0f} MiB, "
              f"state {3 * params * 4 / 2**30:.2f} GiB) from step {first}", flush=True)
    for step in range(first, args.steps):
        gen.manual_seed(args.seed * 1_000_003 + step * 1_009 + rank)  # data order by step alone
        x = torch.randn(args.batch, args.width, generator=gen)
        y = torch.randint(0, CLASSES, (args.batch,), generator=gen)
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(ddp(x), y)
        loss.backward()
        opt.step()
        done = step + 1
        myriad.elastic.step(done)
        now = time.time()
        if step == first:
            timing("first_step", now, step=done)
        timing("step", now, echo=False, step=done, loss=round(loss.item(), 6))
        if args.ckpt != "none" and done % args.ckpt_every == 0:
            begin = time.time()
            if args.ckpt == "myriad":
                state = {"model": model.state_dict(), "optim": opt.state_dict(), "step": done}
                handle = ckpt.save(state, args.ckpt_dir, done, keep_last=args.keep_last)
                timing("ckpt_snapshot", step=done, blocking=handle.blocking_seconds)
                # Report the commit without waiting for it in the loop.
                import threading

                def committed(h=handle, d=done):
                    try:
                        h.wait()
                        timing("ckpt_committed", step=d)
                    except Exception as e:  # noqa: BLE001  reported, the next save raises it
                        timing("ckpt_failed", step=d, error=str(e))

                threading.Thread(target=committed, daemon=True).start()
            else:
                dcp_save(dcp, get_state_dict, model, opt, args.ckpt_dir, done, args.keep_last, rank, dist)
                timing("ckpt_committed", step=done, blocking=time.time() - begin)
        if args.step_sleep:
            time.sleep(args.step_sleep)
    if args.ckpt == "myriad":
        ckpt.wait()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
