#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: a 4-rank
# `myriad run` on the embedded defaults (local engine, embedded store) of
# examples/torch/train_ddp.py, PyTorch DDP on the "myriad" backend (a small
# MLP, 10 steps), with the package the build assembled.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release
export PYTHONPATH="$root/build/release/python${PYTHONPATH:+:$PYTHONPATH}"
exec "$root/build/release/launcher/myriad" run -np 4 "$root/examples/torch/train_ddp.py" --steps 10
