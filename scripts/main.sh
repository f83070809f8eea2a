#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: a 4-rank
# `myriad run` on the embedded defaults (local engine, embedded store, local
# disk) of examples/torch/train_ddp.py, PyTorch DDP on the "myriad" backend (a
# small MLP, 10 steps, a checkpoint every 5 into build/main-ckpt, restarted
# once from the last checkpoint if a rank fails), with the package the build
# assembled.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release
export PYTHONPATH="$root/build/release/python${PYTHONPATH:+:$PYTHONPATH}"
ckpt="$root/build/main-ckpt"
rm -rf "$ckpt"  # a fresh run: the example resumes from whatever checkpoint it finds
exec "$root/build/release/launcher/myriad" run -np 4 --max-restarts 1 "$root/examples/torch/train_ddp.py" \
  --steps 10 --ckpt-dir "$ckpt" --ckpt-every 5
